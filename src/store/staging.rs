//! What the SQLite writer stages for an article, made on a thread of its
//! own while the writer's thread runs SQLite: the columns as text (dates,
//! the JSON list of authors), the link rows with their slugs, and the text
//! of the keyword index ([`Folder`]). On a big import this is a third of
//! the work per article that is not SQLite's, and SQLite's single writer is
//! what bounds the import; the reading of the files runs on a third thread.
//!
//! Articles go in and come out in the order put. At most [`IN_FLIGHT`] are
//! in the pipe at once, so memory stays flat.

use std::sync::mpsc;

use super::fts_text::Folder;
use super::{StoreError, facet_code, micros};
use crate::article::{Article, Body, Facet};

/// Articles handed to the thread and not taken back yet, at most.
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
    /// The keyword index's text ([`Folder::text`]).
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

/// Make the staging row of `a`.
fn stage(a: Article, folder: &mut Folder) -> Result<Staged, rusqlite::Error> {
    let mut links = Vec::new();
    for facet in Facet::ALL {
        let f = facet_code(facet);
        let first = links.len();
        for name in a.names(facet) {
            let slug = crate::slug::slugify(name);
            if slug.is_empty()
                || links
                    .get(first..)
                    .is_some_and(|l: &[(_, String, _, _)]| l.iter().any(|(_, s, _, _)| *s == slug))
            {
                continue;
            }
            let position = (links.len() - first) as i64;
            links.push((f, slug, name.clone(), position));
        }
    }
    let (body, content_html) = match a.body {
        Body::None => (None, None),
        Body::Text(t) => (Some(t), None),
        Body::Html(h) => (None, Some(h)),
    };
    let words = folder.text(&[
        &a.title,
        a.summary.as_deref().unwrap_or(""),
        body.as_deref().or(content_html.as_deref()).unwrap_or(""),
    ])?;
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
pub(crate) struct Preparing {
    to: Option<mpsc::Sender<Article>>,
    from: mpsc::Receiver<Result<Staged, rusqlite::Error>>,
    in_flight: usize,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Preparing {
    /// Start the thread.
    pub fn start() -> Result<Preparing, StoreError> {
        let (to, articles) = mpsc::channel::<Article>();
        let (done, from) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("store-stage".into())
            .spawn(move || {
                let mut folder = match Folder::new() {
                    Ok(f) => f,
                    Err(e) => {
                        let _ = done.send(Err(e));
                        return;
                    }
                };
                for a in articles {
                    if done.send(stage(a, &mut folder)).is_err() {
                        return;
                    }
                }
            })
            .map_err(|e| StoreError::Unavailable(format!("starting a thread: {e}")))?;
        Ok(Preparing {
            to: Some(to),
            from,
            in_flight: 0,
            thread: Some(thread),
        })
    }

    /// Hand an article over. When [`IN_FLIGHT`] are in the pipe, the oldest
    /// row is waited for and handed to `take` first.
    pub fn send(
        &mut self,
        a: Article,
        take: impl FnMut(Staged) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut take = take;
        if self.in_flight >= IN_FLIGHT {
            take(self.recv()?)?;
        }
        self.to
            .as_ref()
            .and_then(|to| to.send(a).ok())
            .ok_or_else(stopped)?;
        self.in_flight += 1;
        Ok(())
    }

    /// The rows made so far, without waiting.
    pub fn ready(&mut self) -> Option<Result<Staged, StoreError>> {
        if self.in_flight == 0 {
            return None;
        }
        match self.from.try_recv() {
            Ok(row) => {
                self.in_flight -= 1;
                Some(row.map_err(StoreError::from))
            }
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => Some(Err(stopped())),
        }
    }

    /// Every row still in the pipe, waited for.
    pub fn drain(
        &mut self,
        mut take: impl FnMut(Staged) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        while self.in_flight > 0 {
            take(self.recv()?)?;
        }
        Ok(())
    }

    fn recv(&mut self) -> Result<Staged, StoreError> {
        let row = self.from.recv().map_err(|_| stopped())?;
        self.in_flight -= 1;
        Ok(row?)
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the thread staging articles stopped (a bug: please report it)".into())
}

impl Drop for Preparing {
    fn drop(&mut self) {
        // Closing the pipe ends the thread after the article at hand.
        drop(self.to.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
