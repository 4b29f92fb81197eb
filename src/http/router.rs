//! Request handling, in the order a request meets it: size limits, method,
//! route, then (for cached resources) content negotiation and conditional
//! GET. Every response is built here; nothing below can panic on input.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::Full;

use super::app::{App, Health};
use super::cache::{CacheError, Rendered, Resource};
use super::conditional::{Outcome, evaluate, joined};
use super::encoding::negotiate;
use super::metrics::Route;
use crate::article::FeedKey;
use crate::render::Format;

/// SPEC: a URI over 8 KiB gets 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// SPEC: a header section over 32 KiB gets 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

type Body = Full<Bytes>;

/// Answer one request; never fails.
pub async fn handle<B>(app: Arc<App>, req: Request<B>) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let (route, response) = respond(&app, &req).await;
    let status = response.status().as_u16();
    app.metrics.request(route, status);
    tracing::info!(
        method = %req.method(),
        path = %truncate(req.uri().path(), 200),
        status,
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    Ok(response)
}

async fn respond<B>(app: &Arc<App>, req: &Request<B>) -> (Route, Response<Body>) {
    // The request-target as sent, absolute-form (`GET http://host/...`) included.
    let uri = req.uri();
    let uri_len = uri.scheme_str().map_or(0, |s| s.len() + 3)
        + uri.authority().map_or(0, |a| a.as_str().len())
        + uri.path_and_query().map_or(0, |p| p.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return (
            Route::Other,
            plain(StatusCode::URI_TOO_LONG, "URI too long\n"),
        );
    }
    // Field lines as sent: name, ": ", value, CRLF.
    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return (
            Route::Other,
            plain(
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "request header fields too large\n",
            ),
        );
    }
    let path = req.uri().path();
    let route = match path {
        "/" => Route::Index,
        "/feeds.opml" => Route::Opml,
        "/healthz" => Route::Health,
        "/metrics" => Route::Metrics,
        p if p.starts_with("/feeds/") => Route::Feed,
        _ => Route::Other,
    };
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "method not allowed: use GET or HEAD\n",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return (route, r);
    }
    let head = req.method() == Method::HEAD;
    let response = match route {
        // From what the watcher last found: never queued behind renders.
        Route::Health => match app.health() {
            Health::Up => plain(StatusCode::OK, "ok\n"),
            Health::Down(why) => {
                let mut r = plain(StatusCode::SERVICE_UNAVAILABLE, "");
                *r.body_mut() = Full::new(Bytes::from(format!("store unavailable: {why}\n")));
                r
            }
        },
        Route::Metrics => {
            let (entries, bytes) = app.cache_size();
            let mut r = plain(StatusCode::OK, "");
            *r.body_mut() = Full::new(Bytes::from(app.metrics.exposition(entries, bytes)));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
            );
            r
        }
        Route::Index => cached(app, req.headers(), &Resource::Index, false).await,
        Route::Opml => cached(app, req.headers(), &Resource::Opml, false).await,
        Route::Feed => match parse_feed_path(path) {
            Some(Resource::Feed(FeedKey::Search(_), format)) => {
                match crate::search::parse_query(req.uri().query()) {
                    Ok(words) => {
                        let key = FeedKey::Search(words.join(" "));
                        cached(app, req.headers(), &Resource::Feed(key, format), true).await
                    }
                    Err(crate::search::QueryError::TooLong) => {
                        plain(StatusCode::URI_TOO_LONG, "the query is over 200 bytes\n")
                    }
                    Err(_) => plain(
                        StatusCode::BAD_REQUEST,
                        "a keyword feed needs q= with at least one word\n",
                    ),
                }
            }
            Some(resource) => cached(app, req.headers(), &resource, true).await,
            None => not_found(),
        },
        Route::Other => not_found(),
    };
    (route, if head { strip_body(response) } else { response })
}

/// `/feeds/{path}.{ext}` → the feed and format it names;
/// `/feeds/{path}/archive/{YYYY-MM}.{ext}` → one month of it.
fn parse_feed_path(path: &str) -> Option<Resource> {
    let rest = path.strip_prefix("/feeds/")?;
    let (stem, ext) = rest.rsplit_once('.')?;
    let format = Format::from_ext(ext)?;
    if let Some((feed, month)) = stem.rsplit_once("/archive/") {
        let month = crate::feed::Month::parse(month)?;
        return Some(Resource::Archive(FeedKey::from_path(feed)?, month, format));
    }
    if stem == "search" {
        // The words come from the query string (the router reads it).
        return Some(Resource::Feed(FeedKey::Search(String::new()), format));
    }
    Some(Resource::Feed(FeedKey::from_path(stem)?, format))
}

async fn cached(
    app: &Arc<App>,
    headers: &HeaderMap,
    resource: &Resource,
    cors: bool,
) -> Response<Body> {
    match app.get(resource).await {
        Ok(rendered) => conditional(app, resource, &rendered, headers, cors).await,
        Err(CacheError::NotFound(_)) => not_found(),
        Err(CacheError::Store(e)) if matches!(app.health(), Health::Down(_)) => {
            tracing::debug!("serving {resource:?} while the store is down: {e}");
            unavailable()
        }
        Err(e) => {
            tracing::error!("serving {resource:?}: {e}");
            plain(StatusCode::INTERNAL_SERVER_ERROR, "internal server error\n")
        }
    }
}

/// 503 with `Retry-After`: the store is down and this resource is not cached.
fn unavailable() -> Response<Body> {
    let mut r = plain(
        StatusCode::SERVICE_UNAVAILABLE,
        "the article store is unavailable; try again shortly\n",
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
    r
}

/// Pick the coding, evaluate preconditions, and answer 200, 304, 406 or 412.
async fn conditional(
    app: &App,
    resource: &Resource,
    rendered: &Arc<Rendered>,
    headers: &HeaderMap,
    cors: bool,
) -> Response<Body> {
    let rep = &rendered.rep;
    // Several Accept-Encoding lines are one list (RFC 9110 §5.3).
    let accept = joined(headers, header::ACCEPT_ENCODING);
    let Some(coding) = negotiate(accept.as_deref()) else {
        let mut r = plain(
            StatusCode::NOT_ACCEPTABLE,
            "no acceptable content coding: br, zstd, gzip or identity\n",
        );
        r.headers_mut()
            .insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        return r;
    };
    let etag = rep.etag(coding);
    let mut builder = Response::builder()
        .header(header::ETAG, &etag)
        .header(
            header::CACHE_CONTROL,
            format!(
                "public, max-age={}",
                rendered.max_age.unwrap_or(app.site.max_age)
            ),
        )
        .header(header::VARY, "Accept-Encoding");
    if let Some(lm) = rep.last_modified {
        builder = builder.header(header::LAST_MODIFIED, httpdate::fmt_http_date(lm));
    }
    if cors {
        builder = builder.header(header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    }
    let response = match evaluate(headers, &etag, rep.last_modified) {
        Outcome::NotModified => builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Full::new(Bytes::new())),
        Outcome::PreconditionFailed => builder
            .status(StatusCode::PRECONDITION_FAILED)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from_static(b"precondition failed\n"))),
        Outcome::Proceed => {
            if let Some(enc) = coding.header() {
                builder = builder.header(header::CONTENT_ENCODING, enc);
            }
            let body = app.body(resource, rendered, coding).await;
            builder
                .status(StatusCode::OK)
                .header(header::CONTENT_TYPE, rep.content_type)
                .header(header::CONTENT_LENGTH, body.len())
                .body(Full::new(body))
        }
    };
    response.unwrap_or_else(|e| {
        tracing::error!("building a response: {e}");
        plain(StatusCode::INTERNAL_SERVER_ERROR, "internal server error\n")
    })
}

/// HEAD: GET's headers, Content-Length included, and no body.
fn strip_body(mut r: Response<Body>) -> Response<Body> {
    use http_body::Body as _;
    if r.status() != StatusCode::NOT_MODIFIED
        && !r.headers().contains_key(header::CONTENT_LENGTH)
        && let Some(len) = r.body().size_hint().exact()
    {
        r.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    }
    *r.body_mut() = Full::new(Bytes::new());
    r
}

fn not_found() -> Response<Body> {
    plain(StatusCode::NOT_FOUND, "not found\n")
}

fn plain(status: StatusCode, text: &'static str) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_paths_parse_and_junk_does_not() {
        assert_eq!(
            parse_feed_path("/feeds/all.rss"),
            Some(Resource::Feed(FeedKey::All, Format::Rss))
        );
        assert_eq!(
            parse_feed_path("/feeds/category/kinh-te/region/duc-tho.json"),
            Some(Resource::Feed(
                FeedKey::CategoryRegion("kinh-te".into(), "duc-tho".into()),
                Format::Json
            ))
        );
        assert_eq!(
            parse_feed_path("/feeds/category/kinh-te/archive/2024-11.atom"),
            Some(Resource::Archive(
                FeedKey::Category("kinh-te".into()),
                crate::feed::Month::new(2024, 11).unwrap(),
                Format::Atom
            ))
        );
        for bad in [
            "/feeds/all",
            "/feeds/all.xml",
            "/feeds/category/.rss",
            "/feeds/category/a/b.rss",
            "/feeds/../x.rss",
            "/feeds/all/archive/2024-13.rss",
            "/feeds/all/archive/24-11.rss",
            "/feeds/archive/2024-11.rss",
        ] {
            assert_eq!(parse_feed_path(bad), None, "{bad}");
        }
    }
}
