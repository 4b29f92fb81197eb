//! The HTTP side of a test: a client that sends only what the test asks
//! for, one request read to the end ([`fetch`]), `/metrics`, decoding a
//! compressed body, and waiting for an event with a deadline.

use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;

/// An HTTP client that sends only what the test asks for: no proxy, no
/// `Accept-Encoding` of its own, no decompression.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A response, read to the end.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Header fields.
    pub headers: HeaderMap,
    /// The body as sent.
    pub body: Vec<u8>,
}

impl Reply {
    /// A header's value as text; `None` when absent.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("header is text").to_string())
    }

    /// The `ETag` value; panics when absent.
    pub fn etag(&self) -> String {
        self.header("etag").expect("response has an ETag")
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("body is UTF-8")
    }
}

/// Send one request with these header fields and read the whole response.
pub async fn fetch(
    client: &reqwest::Client,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = client.request(method, url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.bytes().await.unwrap().to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// `GET url` with these header fields.
pub async fn get(client: &reqwest::Client, url: &str, headers: &[(&str, &str)]) -> Reply {
    fetch(client, "GET", url, headers).await
}

/// The value of an unlabelled metric in `/metrics`.
pub async fn metric(client: &reqwest::Client, base: &str, name: &str) -> u64 {
    let text = get(client, &format!("{base}/metrics"), &[]).await.text();
    let prefix = format!("{name} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{name} not in /metrics:\n{text}"))
        .trim()
        .parse()
        .unwrap()
}

/// A body decoded from its `Content-Encoding` (`None`: identity).
pub fn decode(coding: Option<&str>, body: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match coding {
        None => out.extend_from_slice(body),
        Some("gzip") => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .expect("valid gzip");
        }
        Some("br") => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .expect("valid brotli");
        }
        Some("zstd") => out = zstd::decode_all(body).expect("valid zstd"),
        Some(other) => panic!("unexpected coding {other}"),
    }
    out
}

/// Poll `check` every 25 ms until it returns true or `limit` has passed;
/// returns how long it took, or `None` on timeout.
pub async fn wait_until<F, Fut>(limit: Duration, mut check: F) -> Option<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    loop {
        if check().await {
            return Some(start.elapsed());
        }
        if start.elapsed() > limit {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
