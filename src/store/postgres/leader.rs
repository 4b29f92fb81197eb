//! The WebSub lead: one replica at a time holds [`LEAD_LOCK`] on a session
//! of its own and pings the hubs.

use postgres::{Client, NoTls};

use super::pool::{drop_client, reason};

/// The advisory lock the WebSub leader holds ("bantinw"), for as long as
/// its session lives: one replica pings the hubs (see [`Leader`]).
const LEAD_LOCK: i64 = 0x6261_6e74_696e_7700;

/// The session that holds (or tries for) [`LEAD_LOCK`]: a connection of
/// its own, since a session lock lives as long as the session and pooled
/// connections come and go. When the leader's process dies its session
/// ends (at once when its socket closes; when its host vanishes, after the
/// server's keepalive probes go unanswered, about ten seconds), the lock is
/// free, and the next replica that asks takes it.
pub(super) struct Leader {
    config: postgres::Config,
    session: std::sync::Mutex<Option<LeadSession>>,
}

struct LeadSession {
    client: Client,
    /// Whether this session holds the lock.
    holds: bool,
}

impl Leader {
    /// A leader that connects with `config` when first asked.
    pub(super) fn new(config: postgres::Config) -> Leader {
        Leader {
            config,
            session: std::sync::Mutex::new(None),
        }
    }

    /// Whether we hold the lock, taking it if it is free. A lost session
    /// is made again (once per call); any failure means "not leading".
    pub(super) fn lead(&self) -> bool {
        let mut slot = self.session.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..2 {
            let session = match slot.as_mut() {
                Some(s) => s,
                None => match self.config.connect(NoTls) {
                    Ok(client) => slot.insert(LeadSession {
                        client,
                        holds: false,
                    }),
                    Err(e) => {
                        tracing::debug!("leading (WebSub pings): {}", reason(&e));
                        return false;
                    }
                },
            };
            let asked = if session.holds {
                // A live session still holds its lock: one round trip.
                session.client.simple_query("").map(|_| true)
            } else {
                session
                    .client
                    .query_one("SELECT pg_try_advisory_lock($1)", &[&LEAD_LOCK])
                    .and_then(|row| row.try_get::<_, bool>(0))
            };
            match asked {
                Ok(holds) => {
                    if holds && !session.holds {
                        tracing::info!("this replica now sends the WebSub pings");
                    }
                    session.holds = holds;
                    return holds;
                }
                Err(e) => {
                    if session.holds {
                        tracing::warn!(
                            "lost the session that held the WebSub lead: {}",
                            reason(&e)
                        );
                    } else {
                        tracing::debug!("leading (WebSub pings): {}", reason(&e));
                    }
                    if let Some(s) = slot.take() {
                        drop_client(s.client);
                    }
                }
            }
        }
        false
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        let slot = self.session.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = slot.take() {
            drop_client(s.client);
        }
    }
}
