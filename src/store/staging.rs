//! What a writer stages for an article, made on a thread of its own while
//! the writer's thread talks to the database: the columns as text (dates,
//! the JSON list of authors), the link rows with their slugs, and the words
//! of the keyword index. On a big import this is a third of the work per
//! article that is not the database's, and the database's one writer is
//! what bounds the import; the reading of the files runs on a third thread.
//! [`Staged`] is SQLite's row; the PostgreSQL writer makes its own rows
//! with the same [`Preparing`].
//!
//! Articles go in and come out in the order put. At most a set number are
//! in the pipe at once, so memory stays flat.

use std::sync::mpsc;

use super::fts_text::Folder;
use super::{StoreError, facet_code, micros};
use crate::article::{Article, Body, Facet};

/// SQLite's articles handed to the thread and not taken back yet, at most.
const IN_FLIGHT: usize = 256;

/// An article as the staging tables take it.
pub(crate) struct Staged {
    pub id: String,
    pub title: String,
    pub summary: Option<String>,
    pub body: Option<String>,
    pub content_html: Option<String>,
    /// JSON list of names.
    pub authors: String,
    pub published: String,
    pub updated: Option<String>,
    pub published_us: i64,
    pub url: Option<String>,
    pub image: Option<String>,
    /// The keyword index's text ([`Folder::text`] of the visible text).
    pub words: String,
    /// Link rows: facet letter, slug, name, position. Two names of one
    /// article that share a slug: the first one counts; a byline name with
    /// no letter or digit has no feed.
    pub links: Vec<(&'static str, String, String, i64)>,
}

impl Staged {
    /// The bytes of text it holds, roughly: what a batch is measured by.
    pub fn bytes(&self) -> usize {
        self.id.len()
            + self.title.len()
            + self.summary.as_ref().map_or(0, String::len)
            + self
                .body
                .as_ref()
                .or(self.content_html.as_ref())
                .map_or(0, String::len)
            + self.words.len()
    }
}

/// SQLite's staging rows: a [`Preparing`] that makes a [`Staged`] of each
/// article.
pub(crate) fn sqlite_rows() -> Result<Preparing<Staged>, StoreError> {
    Preparing::start(IN_FLIGHT, || {
        let mut folder = Folder::new()?;
        Ok(move |a: Article| Ok(stage(a, &mut folder)?))
    })
}

/// `a`'s link rows, both stores': facet letter, slug, name, position
/// within the facet. Two names of one article that share a slug: the first
/// one counts; a byline name with no letter or digit has no feed.
pub(crate) fn link_rows(a: &Article) -> Vec<(&'static str, String, &str, usize)> {
    let mut links: Vec<(&'static str, String, &str, usize)> = Vec::new();
    for facet in Facet::ALL {
        let f = facet_code(facet);
        let first = links.len();
        for name in a.names(facet) {
            let slug = crate::slug::slugify(name);
            if slug.is_empty() || links[first..].iter().any(|(_, s, _, _)| *s == slug) {
                continue;
            }
            let position = links.len() - first;
            links.push((f, slug, name, position));
        }
    }
    links
}

/// Make the staging row of `a`.
fn stage(a: Article, folder: &mut Folder) -> Result<Staged, rusqlite::Error> {
    let links = link_rows(&a)
        .into_iter()
        .map(|(f, slug, name, position)| (f, slug, name.to_string(), position as i64))
        .collect();
    // The text a reader sees (migration 10), as the queue's indexing makes
    // it for everyone else's rows.
    let words = folder.text(&[
        &a.title,
        a.summary.as_deref().unwrap_or(""),
        &crate::search::visible_body(&a.body),
    ])?;
    let (body, content_html) = match a.body {
        Body::None => (None, None),
        Body::Text(t) => (Some(t), None),
        Body::Html(h) => (None, Some(h)),
    };
    Ok(Staged {
        authors: serde_json::to_string(&a.authors).unwrap_or_else(|_| "[]".to_string()),
        published: a.published.to_rfc3339(),
        updated: (a.updated != a.published).then(|| a.updated.to_rfc3339()),
        published_us: micros(a.published.to_utc()),
        id: a.id,
        title: a.title,
        summary: a.summary,
        body,
        content_html,
        url: a.url,
        image: a.image,
        words,
        links,
    })
}

/// The thread that makes staging rows, and the rows it made.
pub(crate) struct Preparing<T> {
    to: Option<mpsc::Sender<Article>>,
    from: mpsc::Receiver<Result<T, StoreError>>,
    in_flight: usize,
    /// At most this many articles in the pipe.
    room: usize,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl<T: Send + 'static> Preparing<T> {
    /// Start the thread. `rows` runs on it first and gives the function
    /// that makes each article's row (state such as a connection lives in
    /// that function, on the thread).
    pub fn start<F>(
        room: usize,
        rows: impl FnOnce() -> Result<F, StoreError> + Send + 'static,
    ) -> Result<Preparing<T>, StoreError>
    where
        F: FnMut(Article) -> Result<T, StoreError>,
    {
        let (to, articles) = mpsc::channel::<Article>();
        let (done, from) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("store-stage".into())
            .spawn(move || {
                let mut make = match rows() {
                    Ok(f) => f,
                    Err(e) => {
                        let _ = done.send(Err(e));
                        return;
                    }
                };
                for a in articles {
                    if done.send(make(a)).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("starting a thread: {e}")))?;
        Ok(Preparing {
            to: Some(to),
            from,
            in_flight: 0,
            room: room.max(1),
            thread: Some(thread),
        })
    }

    /// Hand an article over. When the pipe is full, the oldest row is
    /// waited for and handed to `take` first.
    pub fn send(
        &mut self,
        a: Article,
        take: impl FnMut(T) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut take = take;
        if self.in_flight >= self.room {
            take(self.recv()?)?;
        }
        self.to
            .as_ref()
            .and_then(|to| to.send(a).ok())
            .ok_or_else(stopped)?;
        self.in_flight += 1;
        Ok(())
    }

    /// Hand an article over, then hand `take` every row made so far, in
    /// the order put.
    pub fn pass(
        &mut self,
        a: Article,
        mut take: impl FnMut(T) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.send(a, &mut take)?;
        while let Some(row) = self.ready() {
            take(row?)?;
        }
        Ok(())
    }

    /// The rows made so far, without waiting.
    pub fn ready(&mut self) -> Option<Result<T, StoreError>> {
        if self.in_flight == 0 {
            return None;
        }
        match self.from.try_recv() {
            Ok(row) => {
                self.in_flight -= 1;
                Some(row)
            }
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => Some(Err(stopped())),
        }
    }

    /// Every row still in the pipe, waited for.
    pub fn drain(
        &mut self,
        mut take: impl FnMut(T) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        while self.in_flight > 0 {
            take(self.recv()?)?;
        }
        Ok(())
    }

    fn recv(&mut self) -> Result<T, StoreError> {
        let row = self.from.recv().map_err(|_| stopped())?;
        self.in_flight -= 1;
        row
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the thread staging articles stopped (a bug: please report it)".into())
}

impl<T> Drop for Preparing<T> {
    fn drop(&mut self) {
        // Closing the pipe ends the thread after the article at hand.
        drop(self.to.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
