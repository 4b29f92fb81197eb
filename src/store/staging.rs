//! The thread a writer makes its staging rows on while its own thread
//! talks to the database: the columns as text (dates, the JSON list of
//! authors, [`super::row::ArticleColumns`]), the link rows with their
//! slugs, and the words of the keyword index. On a big import this is a
//! third of the work per article that is not the database's, and the
//! database's one writer is what bounds the import; the reading of the
//! files runs on a third thread. Each backend's writer says what a row is
//! (SQLite's `sqlite::write`, PostgreSQL's `PgStaged`).
//!
//! Articles go in and come out in the order put. At most a set number are
//! in the pipe at once, so memory stays flat.

use std::sync::mpsc;

use super::StoreError;
use crate::article::Article;

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
