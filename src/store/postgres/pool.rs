//! Connections: [`PgConn`] (a client and its prepared statements), the
//! r2d2 [`Manager`] that makes them, and [`Pool`], which closes them off
//! the async runtime.

use std::collections::HashMap;

use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};

use crate::store::StoreError;

/// A connection and its prepared statements.
pub(crate) struct PgConn {
    pub(super) client: Client,
    pub(super) statements: HashMap<String, Statement>,
}

pub(super) type Params<'a> = [&'a (dyn ToSql + Sync)];

impl PgConn {
    pub(super) fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }

    /// Run a statement, preparing its SQL once per connection.
    pub(super) fn query(
        &mut self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Vec<Row>, postgres::Error> {
        let stmt = self.statement(sql)?;
        self.client.query(&stmt, params)
    }

    pub(super) fn execute(
        &mut self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<u64, postgres::Error> {
        let stmt = self.statement(sql)?;
        self.client.execute(&stmt, params)
    }

    pub(super) fn one_i64(
        &mut self,
        sql: &str,
        params: &Params<'_>,
    ) -> Result<Option<i64>, postgres::Error> {
        Ok(match self.query(sql, params)?.first() {
            Some(r) => r.try_get(0)?,
            None => None,
        })
    }
}

/// Makes the pool's connections.
#[derive(Debug)]
pub(super) struct Manager {
    pub(super) config: postgres::Config,
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = postgres::Error;

    fn connect(&self) -> Result<PgConn, postgres::Error> {
        Ok(PgConn {
            client: self.config.connect(NoTls)?,
            statements: HashMap::new(),
        })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.client.is_closed()
    }
}

/// A pool whose connections are closed off the async runtime:
/// `postgres::Client` closes by blocking on a runtime of its own, which
/// panics on a thread already driving tokio (the server may drop its store
/// there).
pub(super) struct Pool(pub(super) Option<r2d2::Pool<Manager>>);

impl Pool {
    pub(super) fn get(&self) -> Result<r2d2::PooledConnection<Manager>, StoreError> {
        match &self.0 {
            Some(p) => Ok(p.get()?),
            None => Err(StoreError::Unavailable("the store is closed".into())),
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        if let Some(pool) = self.0.take()
            && tokio::runtime::Handle::try_current().is_ok()
        {
            let _ = std::thread::spawn(move || drop(pool)).join();
        }
    }
}

/// Drops a client off the async runtime: postgres's blocking client
/// closes its connection by blocking on a runtime of its own, which panics
/// inside another.
pub(super) fn drop_client(client: Client) {
    if tokio::runtime::Handle::try_current().is_ok() {
        let _ = std::thread::spawn(move || drop(client)).join();
    }
}

/// The error with its causes: postgres shows "error connecting to server"
/// and keeps the why ("Connection refused") in its source.
pub(crate) fn reason(e: &postgres::Error) -> String {
    crate::store::causes(e)
}
