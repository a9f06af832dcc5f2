//! Storage: the only place with SQL. SQLite (embedded default) or PostgreSQL, chosen by the
//! URL scheme; migrations per backend under `migrations/`, applied at connect.
//!
//! Both backends go through sqlx's `Any` driver so that every statement is written once
//! (`$1` placeholders work on both). That limits column types to text, 64-bit integers and
//! blobs — which is all Sluis stores: ids are text, times RFC 3339 text, flags 0/1, field
//! values age ciphertext.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor as _};

use crate::audit::Event;
use crate::clock::Clock;
use crate::config::redact_url;

mod access_log;
mod cases;
mod harness;
mod messages;
mod monitor;
mod parties;
mod people;
mod rows;
mod sealed;

pub use access_log::EventFilter;
use access_log::{GroupCommit, append_event};
pub use cases::PurgedCase;
pub use parties::{ApiKey, User};
pub use people::{Account, Member, PersonKey};

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl Backend {
    /// The backend a database URL names, and the URL to connect with (a SQLite file is created
    /// if missing).
    fn of_url(url: &str) -> Result<(Self, String), StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok((Backend::Postgres, url.to_owned()))
        } else if url.starts_with("sqlite:") {
            let url = if url.contains('?') {
                url.to_owned()
            } else {
                format!("{url}?mode=rwc")
            };
            Ok((Backend::Sqlite, url))
        } else {
            Err(StoreError::Url(format!(
                "`{}` is neither sqlite:… nor postgres://…",
                redact_url(url)
            )))
        }
    }

    /// One writer at a time, in one local file (SQLite): writers queue in this process, a
    /// connection needs no liveness check, and a backup is `VACUUM INTO`.
    fn single_writer(self) -> bool {
        self == Backend::Sqlite
    }

    /// Connections in the pool.
    fn max_connections(self) -> u32 {
        match self {
            Backend::Sqlite => 8,
            Backend::Postgres => 16,
        }
    }

    /// This backend's migrations.
    fn migrator(self) -> &'static sqlx::migrate::Migrator {
        match self {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        }
    }

    /// The column type of a byte string.
    fn blob_type(self) -> &'static str {
        match self {
            Backend::Sqlite => "BLOB",
            Backend::Postgres => "BYTEA",
        }
    }
}

/// Storage failures. Messages name the operation, never a field value (the store only ever
/// sees ciphertext).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row asked for is not there.
    #[error("not found")]
    NotFound,
    /// A row with this key exists.
    #[error("already exists: {0}")]
    Conflict(String),
    /// Not possible as the database stands (the case moved on, nothing due); says why.
    #[error("{0}")]
    Refused(String),
    /// The database URL is not one Sluis can use.
    #[error("database URL: {0}")]
    Url(String),
    /// The database cannot be reached right now.
    #[error("database unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// The database's disk is full (SQLite `SQLITE_FULL`, PostgreSQL `53100`); nothing of the
    /// transaction was written.
    #[error("database disk full")]
    Full(#[source] sqlx::Error),
    /// Any other database error.
    #[error("database error")]
    Db(#[source] sqlx::Error),
    /// Stored data does not have the shape it must have.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Migrations failed.
    #[error("database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::RowNotFound => Self::NotFound,
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => Self::Unavailable(e),
            // PostgreSQL: connection exceptions (08…) and operator intervention such as a
            // shutdown (57…) mean the database is away, not that the request was wrong.
            sqlx::Error::Database(db)
                if db
                    .code()
                    .is_some_and(|c| c.starts_with("08") || c.starts_with("57")) =>
            {
                Self::Unavailable(e)
            }
            // SQLite reports the primary result code 13 (SQLITE_FULL) as its code.
            sqlx::Error::Database(db) if db.code().is_some_and(|c| c == "13" || c == "53100") => {
                Self::Full(e)
            }
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Self::Conflict(db.constraint().unwrap_or("unique key").to_owned())
            }
            _ => Self::Db(e),
        }
    }
}

/// The database.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    clock: Clock,
    group: Arc<GroupCommit>,
    /// Turns to write (see `write_turn`).
    turns: Arc<Turns>,
}

/// The locks behind `Store::write_turn`.
#[derive(Default)]
struct Turns {
    gate: Arc<tokio::sync::Mutex<()>>,
    lock: Arc<tokio::sync::Mutex<()>>,
}

/// A writer's turn, held until dropped.
struct Turn {
    _gate: Option<tokio::sync::OwnedMutexGuard<()>>,
    _lock: tokio::sync::OwnedMutexGuard<()>,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Store({:?})", self.backend)
    }
}

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// How many migrations the database has applied (0 before the first).
async fn migrations_applied(pool: &AnyPool) -> i64 {
    let row = sqlx::query("SELECT COUNT(*) AS n FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await;
    row.ok()
        .and_then(|r| sqlx::Row::try_get::<i64, _>(&r, "n").ok())
        .unwrap_or(0)
}

/// How many rows a recorded statement must change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rows {
    /// Any number (an insert).
    Any,
    /// At least one, else the thing to change is not there.
    One,
}

fn flag(b: bool) -> i64 {
    i64::from(b)
}

impl Store {
    /// This process's turn to write. SQLite has one writer at a time, and waiting for it here
    /// is a queue, where waiting inside SQLite is polling with sleeps (busy timeout); on
    /// PostgreSQL every write transaction queues on the access log's head row anyway. Ordinary
    /// writers first pass a gate one at a time, so an urgent writer (a group of access events,
    /// see `GroupCommit`) waits for at most two of them, however many are queued.
    async fn write_turn(&self) -> Turn {
        let gate = self.turns.gate.clone().lock_owned().await;
        Turn {
            _gate: Some(gate),
            _lock: self.turns.lock.clone().lock_owned().await,
        }
    }

    /// The turn to write, ahead of ordinary writers that have not reached the lock yet.
    async fn urgent_turn(&self) -> Turn {
        Turn {
            _gate: None,
            _lock: self.turns.lock.clone().lock_owned().await,
        }
    }

    /// The turn for a single statement that writes: needed on SQLite only.
    async fn embedded_turn(&self) -> Option<Turn> {
        if self.backend.single_writer() {
            Some(self.write_turn().await)
        } else {
            None
        }
    }

    /// A write transaction, with this process's turn to write.
    async fn begin_write(
        &self,
    ) -> Result<(Turn, sqlx::Transaction<'static, sqlx::Any>), StoreError> {
        let turn = self.write_turn().await;
        Ok((turn, self.pool.begin().await?))
    }

    /// A write transaction that already holds its access event (appended first): what it
    /// writes and the event become durable together at `commit`, or neither does.
    async fn write_recorded(
        &self,
        event: Event,
    ) -> Result<(Turn, sqlx::Transaction<'static, sqlx::Any>, Event), StoreError> {
        let (turn, mut tx) = self.begin_write().await?;
        let event = append_event(&self.clock, &mut tx, event).await?;
        Ok((turn, tx, event))
    }

    /// Runs one statement in a transaction with its access event: both become durable, or
    /// neither. With [`Rows::One`] a statement that changes no row is [`StoreError::NotFound`].
    async fn run_recorded<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
        event: Event,
        rows: Rows,
    ) -> Result<(), StoreError> {
        let (_writing, mut tx, _) = self.write_recorded(event).await?;
        let done = query.execute(&mut *tx).await?;
        if rows == Rows::One && done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    /// The same store, timing what it records by `clock`.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The clock the store times what it records by.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Opens (and for SQLite creates) the database at `url` and applies migrations.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::open(url, true).await
    }

    /// Opens the database at `url`; applies migrations only if `migrate` (a broker whose
    /// PostgreSQL role may not change the schema runs with `migrate = false`, after the owner
    /// role ran `sluis migrate`).
    pub async fn open(url: &str, migrate: bool) -> Result<Self, StoreError> {
        Ok(Self::open_counting(url, migrate).await?.0)
    }

    /// Opens the database at `url`, applying its migrations: the store and how many
    /// migrations this applied (0 when it was up to date).
    pub async fn migrate(url: &str) -> Result<(Self, usize), StoreError> {
        Self::open_counting(url, true).await
    }

    async fn open_counting(url: &str, migrate: bool) -> Result<(Self, usize), StoreError> {
        sqlx::any::install_default_drivers();
        let (backend, url) = Backend::of_url(url)?;
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|_| StoreError::Url(format!("cannot parse `{}`", redact_url(&url))))?;
        let pool_options = AnyPoolOptions::new()
            .max_connections(backend.max_connections())
            .acquire_timeout(std::time::Duration::from_secs(5));
        let pool_options = if backend.single_writer() {
            // A local file needs no liveness check before each use (a round trip to the
            // connection's thread per request saved); a server connection keeps it.
            pool_options
                .test_before_acquire(false)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        conn.execute(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                         PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;",
                        )
                        .await?;
                        Ok(())
                    })
                })
                // A connection must come back with no transaction open. One whose COMMIT
                // failed (a full disk) can be left inside its transaction, reading an old
                // snapshot ever after; it is closed instead of reused. A ROLLBACK that
                // succeeds is the sign (with no transaction open SQLite refuses it).
                .after_release(|conn, _| {
                    Box::pin(async move {
                        let left_open = conn.execute("ROLLBACK").await.is_ok();
                        if left_open {
                            tracing::warn!(
                                "closed a database connection left inside a transaction"
                            );
                        }
                        Ok(!left_open)
                    })
                })
        } else {
            pool_options
        };
        let pool = pool_options.connect_with(options).await?;
        let mut applied = 0;
        if migrate {
            let before = migrations_applied(&pool).await;
            backend.migrator().run(&pool).await?;
            applied = usize::try_from(migrations_applied(&pool).await - before).unwrap_or(0);
        }
        let store = Self {
            pool,
            backend,
            clock: Clock::system(),
            group: Arc::default(),
            turns: Arc::default(),
        };
        store.complete_tree().await?;
        store.sweep_chunks().await?;
        Ok((store, applied))
    }

    /// Writes a consistent copy of an embedded (SQLite) database to `path` while it is in use
    /// (`VACUUM INTO`). PostgreSQL is backed up with `pg_dump` (see `deploy/README.md`).
    pub async fn backup_to(&self, path: &std::path::Path) -> Result<(), StoreError> {
        if !self.backend.single_writer() {
            return Err(StoreError::Url(
                "back up PostgreSQL with pg_dump (see deploy/README.md, step 15)".into(),
            ));
        }
        if path.exists() {
            return Err(StoreError::Conflict(format!("{} exists", path.display())));
        }
        sqlx::query("VACUUM INTO $1")
            .bind(path.to_string_lossy().into_owned())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Whether the database answers (for readiness probes).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Which engine this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes the pool (waits for connections to return).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}
