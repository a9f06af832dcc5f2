//! Storage: the only place with SQL. SQLite (embedded default) or PostgreSQL, chosen by the
//! URL scheme; migrations per backend under `migrations/`, applied at connect.
//!
//! Both backends go through sqlx's `Any` driver so that every statement is written once
//! (`$1` placeholders work on both). That limits column types to text, 64-bit integers and
//! blobs — which is all Sluis stores: ids are text, times RFC 3339 text, flags 0/1, field
//! values age ciphertext.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor as _, Row as _};

use crate::audit::{self, Checkpoint, Event, StoredEvent};
use crate::cases::{
    Case, CaseFacts, CaseParty, MonitorDeclaration, NewSealedField, Notification, Organisation,
    Rekeyed, SealedField, Step,
};
use crate::clock::{Clock, time_text};
use crate::config::redact_url;
use crate::consent::{ConsentRecord, ReleaseRule};

/// Which database engine a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file.
    Sqlite,
    /// PostgreSQL server.
    Postgres,
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

/// A user of an organisation.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// User id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Organisation id.
    pub org_id: String,
    /// Role from the policy.
    pub role: String,
    /// argon2id PHC string, for people.
    pub password_hash: Option<String>,
    /// Disabled users cannot log in.
    pub disabled: bool,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("org_id", &self.org_id)
            .field("role", &self.role)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("disabled", &self.disabled)
            .finish()
    }
}

/// A stored API key (digest only).
#[derive(Debug, Clone)]
pub struct ApiKey {
    /// Key id.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// SHA-256 of the secret, hex.
    pub digest: String,
    /// Revoked keys do not work.
    pub revoked: bool,
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
        match self.backend {
            Backend::Sqlite => Some(self.write_turn().await),
            Backend::Postgres => None,
        }
    }

    /// A write transaction, with this process's turn to write.
    async fn begin_write(
        &self,
    ) -> Result<(Turn, sqlx::Transaction<'static, sqlx::Any>), StoreError> {
        let turn = self.write_turn().await;
        Ok((turn, self.pool.begin().await?))
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
        sqlx::any::install_default_drivers();
        let (backend, url) = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_owned())
        } else if url.starts_with("sqlite:") {
            let url = if url.contains('?') {
                url.to_owned()
            } else {
                format!("{url}?mode=rwc")
            };
            (Backend::Sqlite, url)
        } else {
            return Err(StoreError::Url(format!(
                "`{}` is neither sqlite:… nor postgres://…",
                redact_url(url)
            )));
        };
        let options = AnyConnectOptions::from_str(&url)
            .map_err(|_| StoreError::Url(format!("cannot parse `{}`", redact_url(&url))))?;
        let pool_options = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            .acquire_timeout(std::time::Duration::from_secs(5));
        let pool_options = if backend == Backend::Sqlite {
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
        } else {
            pool_options
        };
        let pool = pool_options.connect_with(options).await?;
        if migrate {
            match backend {
                Backend::Sqlite => SQLITE_MIGRATIONS.run(&pool).await?,
                Backend::Postgres => POSTGRES_MIGRATIONS.run(&pool).await?,
            }
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
        Ok(store)
    }

    /// Writes a consistent copy of an embedded (SQLite) database to `path` while it is in use
    /// (`VACUUM INTO`). PostgreSQL is backed up with `pg_dump` (see the README).
    pub async fn backup_to(&self, path: &std::path::Path) -> Result<(), StoreError> {
        if self.backend != Backend::Sqlite {
            return Err(StoreError::Url(
                "back up PostgreSQL with pg_dump (see the README)".into(),
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

    // ---- organisations -------------------------------------------------------------------

    /// Enrols an organisation.
    pub async fn add_organisation(
        &self,
        id: &str,
        name: &str,
        role: &str,
        event: Event,
    ) -> Result<(), StoreError> {
        let (_writing, mut tx) = self.begin_write().await?;
        append_event(&self.clock, &mut tx, event).await?;
        sqlx::query(
            "INSERT INTO organisations (id, name, role, recipient, disabled, created_at) \
             VALUES ($1, $2, $3, NULL, 0, $4)",
        )
        .bind(id)
        .bind(name)
        .bind(role)
        .bind(self.clock.now_text())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Registers (or replaces) an organisation's age recipient.
    pub async fn set_recipient(
        &self,
        id: &str,
        recipient: &str,
        event: Event,
    ) -> Result<(), StoreError> {
        let (_writing, mut tx) = self.begin_write().await?;
        append_event(&self.clock, &mut tx, event).await?;
        let done = sqlx::query("UPDATE organisations SET recipient = $1 WHERE id = $2")
            .bind(recipient)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Disables or re-enables an organisation.
    pub async fn set_organisation_disabled(
        &self,
        id: &str,
        disabled: bool,
        event: Event,
    ) -> Result<(), StoreError> {
        let (_writing, mut tx) = self.begin_write().await?;
        append_event(&self.clock, &mut tx, event).await?;
        let done = sqlx::query("UPDATE organisations SET disabled = $1 WHERE id = $2")
            .bind(flag(disabled))
            .bind(id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    /// One organisation.
    pub async fn organisation(&self, id: &str) -> Result<Option<Organisation>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, role, recipient, disabled FROM organisations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| org_from_row(&r)).transpose()
    }

    /// All organisations, by id.
    pub async fn organisations(&self) -> Result<Vec<Organisation>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, role, recipient, disabled FROM organisations ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(org_from_row).collect()
    }

    // ---- users and keys ------------------------------------------------------------------

    /// Adds a user.
    pub async fn add_user(&self, user: &User, event: Event) -> Result<(), StoreError> {
        let (_writing, mut tx) = self.begin_write().await?;
        append_event(&self.clock, &mut tx, event).await?;
        sqlx::query(
            "INSERT INTO users (id, username, org_id, role, password_hash, disabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&user.id)
        .bind(&user.username)
        .bind(&user.org_id)
        .bind(&user.role)
        .bind(user.password_hash.as_deref())
        .bind(flag(user.disabled))
        .bind(self.clock.now_text())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A user by login name.
    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.user_where("username", username).await
    }

    /// A user by id.
    pub async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.user_where("id", id).await
    }

    async fn user_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<User>, StoreError> {
        let sql = format!(
            "SELECT id, username, org_id, role, password_hash, disabled FROM users WHERE {column} = $1"
        );
        let row = sqlx::query(&sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(User {
                id: r.try_get("id")?,
                username: r.try_get("username")?,
                org_id: r.try_get("org_id")?,
                role: r.try_get("role")?,
                password_hash: r.try_get("password_hash")?,
                disabled: r.try_get::<i64, _>("disabled")? != 0,
            })
        })
        .transpose()
    }

    /// Disables or re-enables a user.
    pub async fn set_user_disabled(
        &self,
        username: &str,
        disabled: bool,
        event: Event,
    ) -> Result<(), StoreError> {
        let (_writing, mut tx) = self.begin_write().await?;
        append_event(&self.clock, &mut tx, event).await?;
        let done = sqlx::query("UPDATE users SET disabled = $1 WHERE username = $2")
            .bind(flag(disabled))
            .bind(username)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a user and its API keys; its tokens stop working at once.
    pub async fn delete_user(&self, username: &str, event: Event) -> Result<(), StoreError> {
        let (_writing, mut tx) = self.begin_write().await?;
        append_event(&self.clock, &mut tx, event).await?;
        sqlx::query(
            "DELETE FROM api_keys WHERE user_id IN (SELECT id FROM users WHERE username = $1)",
        )
        .bind(username)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query("DELETE FROM users WHERE username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stores an API key's digest.
    pub async fn add_api_key(
        &self,
        id: &str,
        user_id: &str,
        digest: &str,
        event: Event,
    ) -> Result<(), StoreError> {
        let (_writing, mut tx) = self.begin_write().await?;
        append_event(&self.clock, &mut tx, event).await?;
        sqlx::query(
            "INSERT INTO api_keys (id, user_id, digest, revoked, created_at) VALUES ($1, $2, $3, 0, $4)",
        )
        .bind(id)
        .bind(user_id)
        .bind(digest)
        .bind(self.clock.now_text())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// An API key by id.
    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query("SELECT id, user_id, digest, revoked FROM api_keys WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(ApiKey {
                id: r.try_get("id")?,
                user_id: r.try_get("user_id")?,
                digest: r.try_get("digest")?,
                revoked: r.try_get::<i64, _>("revoked")? != 0,
            })
        })
        .transpose()
    }

    // ---- cases ---------------------------------------------------------------------------

    /// Stores a new case with its parties, sealed fields and its audit event, all or nothing.
    pub async fn create_case(
        &self,
        case: &Case,
        parties: &[CaseParty],
        sealed: &[NewSealedField],
        consent: &ConsentRecord,
        monitor: &MonitorDeclaration,
        event: Event,
    ) -> Result<Event, StoreError> {
        let (_writing, mut tx) = self.begin_write().await?;
        let event = append_event(&self.clock, &mut tx, event).await?;
        sqlx::query(
            "INSERT INTO cases (id, form, state, created_by, created_at, updated_at, client_pseudonym) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&case.id)
        .bind(&case.form)
        .bind(&case.state)
        .bind(&case.created_by)
        .bind(&case.created_at)
        .bind(&case.updated_at)
        .bind(case.client_pseudonym.as_deref())
        .execute(&mut *tx)
        .await?;
        insert_parties(&mut tx, &case.id, parties).await?;
        insert_sealed(
            &mut tx,
            &case.id,
            &case.created_by,
            &case.created_at,
            sealed,
        )
        .await?;
        insert_state(
            &mut tx,
            &case.id,
            &case.state,
            &case.created_by,
            &case.created_at,
        )
        .await?;
        insert_consent(&mut tx, consent).await?;
        if monitor.client_group.is_some() || monitor.origin_municipality.is_some() {
            sqlx::query(
                "INSERT INTO case_monitor (case_id, client_group, origin_municipality) VALUES ($1, $2, $3)",
            )
            .bind(&case.id)
            .bind(monitor.client_group.as_deref())
            .bind(monitor.origin_municipality.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(event)
    }

    /// The monitor's facts of every case: routing metadata only (this reads no sealed field).
    pub async fn monitor_facts(&self) -> Result<Vec<crate::monitor::CaseFacts>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.created_by, c.created_at, m.client_group, m.origin_municipality, \
             c.referred_at, c.matched_by, c.home_municipality, c.home_kind, c.key_handover, \
             (SELECT COUNT(*) FROM case_states s WHERE s.case_id = c.id AND s.state = 'assessed') AS accepted, \
             (SELECT COUNT(*) FROM case_states s WHERE s.case_id = c.id AND s.state = 'rejected') AS rejected \
             FROM cases c LEFT JOIN case_monitor m ON m.case_id = c.id ORDER BY c.created_at, c.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(crate::monitor::CaseFacts {
                    registered_by: r.try_get("created_by")?,
                    registered_at: r.try_get("created_at")?,
                    client_group: r.try_get("client_group")?,
                    origin: r.try_get("origin_municipality")?,
                    accepted: r.try_get::<i64, _>("accepted")? > 0,
                    rejected: r.try_get::<i64, _>("rejected")? > 0,
                    referred_at: r.try_get("referred_at")?,
                    housed_by: r.try_get("matched_by")?,
                    home_municipality: r.try_get("home_municipality")?,
                    home_kind: r.try_get("home_kind")?,
                    key_handover: r.try_get("key_handover")?,
                })
            })
            .collect()
    }

    /// Stores a party's counts for a period (replacing what it reported before for the same
    /// indicators), with the audit event, all or nothing.
    pub async fn put_monitor_report(
        &self,
        org_id: &str,
        period: &str,
        counts: &[(String, u64)],
        event: Event,
    ) -> Result<Event, StoreError> {
        let (_writing, mut tx) = self.begin_write().await?;
        let event = append_event(&self.clock, &mut tx, event).await?;
        for (indicator, value) in counts {
            sqlx::query(
                "INSERT INTO monitor_reports (org_id, period, indicator, value, reported_at, reported_by) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (org_id, period, indicator) DO UPDATE SET \
                 value = excluded.value, reported_at = excluded.reported_at, reported_by = excluded.reported_by",
            )
            .bind(org_id)
            .bind(period)
            .bind(indicator)
            .bind(i64::try_from(*value).unwrap_or(i64::MAX))
            .bind(&event.time)
            .bind(event.user.as_deref().unwrap_or(""))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(event)
    }

    /// Every count reported for periods of `year`.
    pub async fn monitor_reports(
        &self,
        year: i32,
    ) -> Result<Vec<crate::monitor::ReportedCount>, StoreError> {
        let rows = sqlx::query(
            "SELECT org_id, period, indicator, value FROM monitor_reports \
             WHERE period = $1 OR period = $2 OR period = $3 ORDER BY org_id, period, indicator",
        )
        .bind(year.to_string())
        .bind(format!("{year}-H1"))
        .bind(format!("{year}-H2"))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(crate::monitor::ReportedCount {
                    org: r.try_get("org_id")?,
                    period: r.try_get("period")?,
                    indicator: r.try_get("indicator")?,
                    value: u64::try_from(r.try_get::<i64, _>("value")?).unwrap_or(0),
                })
            })
            .collect()
    }

    /// Carries out one lifecycle step in one transaction with its audit event: the state
    /// change (only if the case is still in `step.from`, else [`StoreError::Conflict`]), new
    /// facts, parties, sealed fields, deletions, notifications and evaluation bookkeeping.
    pub async fn apply(&self, step: &Step, event: Event) -> Result<Event, StoreError> {
        let (_writing, mut tx) = self.begin_write().await?;
        let event = append_event(&self.clock, &mut tx, event).await?;
        let now = event.time.clone();
        let f = &step.facts;
        let done = sqlx::query(
            "UPDATE cases SET state = $1, updated_at = $2, \
             queue_position = COALESCE($3, queue_position), referred_at = COALESCE($4, referred_at), \
             matched_at = COALESCE($5, matched_at), matched_by = COALESCE($6, matched_by), \
             home_municipality = COALESCE($7, home_municipality), home_kind = COALESCE($8, home_kind), \
             key_handover = COALESCE($9, key_handover) \
             WHERE id = $10 AND state = $11",
        )
        .bind(&step.to)
        .bind(&now)
        .bind(f.queue_position)
        .bind(f.referred_at.as_deref())
        .bind(f.matched_at.as_deref())
        .bind(f.matched_by.as_deref())
        .bind(f.home_municipality.as_deref())
        .bind(f.home_kind.as_deref())
        .bind(f.key_handover.as_deref())
        .bind(&step.case_id)
        .bind(&step.from)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(
                "the case changed state meanwhile; reload it".into(),
            ));
        }
        if step.to != step.from {
            insert_state(&mut tx, &step.case_id, &step.to, &step.by_org, &now).await?;
        }
        if let Some(keep) = &step.delete_sealed_except {
            delete_sealed(&mut tx, &step.case_id, keep).await?;
        }
        insert_parties(&mut tx, &step.case_id, &step.new_parties).await?;
        insert_sealed(&mut tx, &step.case_id, &step.by_org, &now, &step.sealed).await?;
        if let Some((user, org)) = &step.withdraw_consent {
            sqlx::query(
                "UPDATE consents SET status = 'withdrawn', withdrawn_at = $1, withdrawn_by_user = $2, \
                 withdrawn_by_org = $3 WHERE case_id = $4 AND status = 'active'",
            )
            .bind(&now)
            .bind(user)
            .bind(org)
            .bind(&step.case_id)
            .execute(&mut *tx)
            .await?;
        }
        for (period, due_on) in &step.evaluations_due {
            sqlx::query("INSERT INTO evaluations (case_id, period, due_on, received_at) VALUES ($1, $2, $3, NULL)")
                .bind(&step.case_id)
                .bind(*period)
                .bind(due_on)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(period) = step.evaluation_received {
            let done = sqlx::query(
                "UPDATE evaluations SET received_at = $1 WHERE case_id = $2 AND period = $3 AND received_at IS NULL",
            )
            .bind(&now)
            .bind(&step.case_id)
            .bind(period)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict(format!(
                    "evaluation {period} is not due or was already received"
                )));
            }
        }
        for crate::cases::Notice { org, kind, detail } in &step.notify {
            sqlx::query(
                "INSERT INTO notifications (id, org_id, case_id, kind, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(org)
            .bind(&step.case_id)
            .bind(kind)
            .bind(detail)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(event)
    }

    /// The states a case passed, in order.
    pub async fn states(&self, case_id: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT state FROM case_states WHERE case_id = $1 ORDER BY seq")
            .bind(case_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("state")?)).collect()
    }

    /// The case's consent record (the latest one).
    pub async fn consent(&self, case_id: &str) -> Result<Option<ConsentRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM consents WHERE case_id = $1 ORDER BY recorded_at DESC LIMIT 1",
        )
        .bind(case_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let list = |c: &str| -> Result<Vec<String>, StoreError> {
                let t: String = r.try_get(c)?;
                serde_json::from_str(&t).map_err(|_| StoreError::Corrupt(format!("consents.{c}")))
            };
            Ok(ConsentRecord {
                id: r.try_get("id")?,
                case_id: r.try_get("case_id")?,
                client: r.try_get("client_pseudonym")?,
                signed_on: r.try_get("signed_on")?,
                valid_until: r.try_get("valid_until")?,
                purpose: r.try_get("purpose")?,
                roles: list("roles")?,
                categories: list("categories")?,
                document_sha256: r.try_get("document_sha256")?,
                status: r.try_get("status")?,
                recorded_at: r.try_get("recorded_at")?,
                recorded_by_user: r.try_get("recorded_by_user")?,
                recorded_by_org: r.try_get("recorded_by_org")?,
                withdrawn_at: r.try_get("withdrawn_at")?,
                withdrawn_by_user: r.try_get("withdrawn_by_user")?,
                withdrawn_by_org: r.try_get("withdrawn_by_org")?,
            })
        })
        .transpose()
    }

    /// An organisation's inbox, newest first.
    pub async fn inbox(&self, org_id: &str) -> Result<Vec<Notification>, StoreError> {
        let rows = sqlx::query(
            "SELECT case_id, kind, detail, created_at FROM notifications WHERE org_id = $1 ORDER BY created_at DESC, id LIMIT 500",
        )
        .bind(org_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Notification {
                    case: r.try_get("case_id")?,
                    kind: r.try_get("kind")?,
                    detail: r.try_get("detail")?,
                    at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Evaluations due on or before `today` and not received, oldest first: (case, period, due).
    pub async fn overdue_evaluations(
        &self,
        today: &str,
    ) -> Result<Vec<(String, i64, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.case_id, e.period, e.due_on FROM evaluations e JOIN cases c ON c.id = e.case_id \
             WHERE e.received_at IS NULL AND e.due_on <= $1 AND c.state IN ('housed', 'lease_converted') \
             ORDER BY e.due_on, e.case_id",
        )
        .bind(today)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("case_id")?,
                    r.try_get("period")?,
                    r.try_get("due_on")?,
                ))
            })
            .collect()
    }

    /// Sets the queue order of referred cases (art. 8.4): position 1, 2, … in `order`.
    pub async fn set_queue(&self, order: &[String], event: Event) -> Result<(), StoreError> {
        let (_writing, mut tx) = self.begin_write().await?;
        append_event(&self.clock, &mut tx, event).await?;
        for (i, case) in order.iter().enumerate() {
            let done = sqlx::query(
                "UPDATE cases SET queue_position = $1 WHERE id = $2 AND state = 'referred'",
            )
            .bind(i as i64 + 1)
            .bind(case)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Conflict(format!(
                    "case {case} is not a referred case"
                )));
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Number of age files stored for a case (all recipients), for checks after withdrawal.
    pub async fn sealed_count(&self, case_id: &str) -> Result<(i64, i64), StoreError> {
        let files: i64 = sqlx::query("SELECT COUNT(*) AS n FROM sealed_fields WHERE case_id = $1")
            .bind(case_id)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        let copies: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM sealed_field_recipients WHERE case_id = $1")
                .bind(case_id)
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?;
        Ok((files, copies))
    }

    /// Adds parties and sealed fields to a case (a re-share) with its audit event, all or nothing.
    pub async fn add_share(
        &self,
        case_id: &str,
        sealed_by: &str,
        new_parties: &[CaseParty],
        sealed: &[NewSealedField],
        event: Event,
    ) -> Result<Event, StoreError> {
        let (_writing, mut tx) = self.begin_write().await?;
        let event = append_event(&self.clock, &mut tx, event).await?;
        let now = event.time.clone();
        let done = sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2")
            .bind(&now)
            .bind(case_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        insert_parties(&mut tx, case_id, new_parties).await?;
        insert_sealed(&mut tx, case_id, sealed_by, &now, sealed).await?;
        tx.commit().await?;
        Ok(event)
    }

    /// Replaces an organisation's copies of a case's age files by files sealed to its new key,
    /// with the audit event, all or nothing. Each new file takes the place (position, time,
    /// origin) of the one it replaces; the organisation is taken off the old file, which is
    /// deleted once nobody holds it. `NotFound` when a file is not the case's, not of the named
    /// field or not sealed to `org_id`.
    pub async fn rekey(
        &self,
        case_id: &str,
        org_id: &str,
        replacements: &[Rekeyed],
        event: Event,
    ) -> Result<Event, StoreError> {
        let (_writing, mut tx) = self.begin_write().await?;
        let event = append_event(&self.clock, &mut tx, event).await?;
        for r in replacements {
            let old = sqlx::query(
                "SELECT f.category, f.policy_version, f.sealed_at, f.sealed_by, f.seq \
                 FROM sealed_fields f JOIN sealed_field_recipients r ON r.sealed_field_id = f.id \
                 WHERE f.id = $1 AND f.case_id = $2 AND f.field_id = $3 AND r.org_id = $4",
            )
            .bind(&r.replaces)
            .bind(case_id)
            .bind(&r.field_id)
            .bind(org_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
            let seq: i64 = old.try_get("seq")?;
            sqlx::query(
                "INSERT INTO sealed_fields \
                 (id, case_id, field_id, category, ciphertext, policy_version, sealed_at, sealed_by, seq) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(&r.id)
            .bind(case_id)
            .bind(&r.field_id)
            .bind(old.try_get::<String, _>("category")?)
            .bind(&r.ciphertext)
            .bind(old.try_get::<String, _>("policy_version")?)
            .bind(old.try_get::<String, _>("sealed_at")?)
            .bind(old.try_get::<String, _>("sealed_by")?)
            .bind(seq)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO sealed_field_recipients (sealed_field_id, case_id, org_id) VALUES ($1, $2, $3)",
            )
            .bind(&r.id)
            .bind(case_id)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM sealed_field_recipients WHERE sealed_field_id = $1 AND org_id = $2",
            )
            .bind(&r.replaces)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM sealed_chunks WHERE sealed_field_id = $1 AND NOT EXISTS \
                 (SELECT 1 FROM sealed_field_recipients WHERE sealed_field_id = $1)",
            )
            .bind(&r.replaces)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM sealed_fields WHERE id = $1 AND NOT EXISTS \
                 (SELECT 1 FROM sealed_field_recipients WHERE sealed_field_id = $1)",
            )
            .bind(&r.replaces)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(event)
    }

    /// Stores piece `n` of the age file of sealed field `id` while it streams in (its own
    /// short transaction; the field's row, written when the upload completes, links them).
    pub async fn put_chunk(&self, id: &str, n: i64, body: &[u8]) -> Result<(), StoreError> {
        let _writing = self.embedded_turn().await;
        sqlx::query(
            "INSERT INTO sealed_chunks (sealed_field_id, n, body, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(n)
        .bind(body)
        .bind(self.clock.now_text())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes the pieces of an upload that did not complete.
    pub async fn drop_chunks(&self, id: &str) -> Result<(), StoreError> {
        let _writing = self.embedded_turn().await;
        sqlx::query(
            "DELETE FROM sealed_chunks WHERE sealed_field_id = $1 AND NOT EXISTS \
             (SELECT 1 FROM sealed_fields WHERE id = $1)",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Number of stored pieces of age files (all fields).
    pub async fn chunk_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM sealed_chunks")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    /// Deletes pieces of uploads that broke off more than a day ago (the broker stopped
    /// mid-upload): no sealed field links them.
    async fn sweep_chunks(&self) -> Result<(), StoreError> {
        let _writing = self.embedded_turn().await;
        let cutoff = time_text(self.clock.now() - time::Duration::days(1));
        sqlx::query(
            "DELETE FROM sealed_chunks WHERE created_at < $1 AND NOT EXISTS \
             (SELECT 1 FROM sealed_fields f WHERE f.id = sealed_chunks.sealed_field_id)",
        )
        .bind(cutoff)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// For the benchmark harness only: appends `count` fictional access events (reads by
    /// `org` of cases of `clients` pseudonyms, in turn) through the ordinary append path, in
    /// transactions of 10,000, so that a report can be timed over a log of realistic size.
    pub async fn bench_fill_log(
        &self,
        count: u64,
        org: &str,
        clients: &[String],
    ) -> Result<(), StoreError> {
        let mut written = 0u64;
        while written < count {
            let n = (count - written).min(10_000);
            let (_writing, mut tx) = self.begin_write().await?;
            let mut appender = Appender::begin(&mut tx, to_i64(n)).await?;
            for i in written..written + n {
                let mut event = Event::new("read", "allowed");
                event.org = Some(org.to_owned());
                event.role = Some("care".into());
                event.purpose = Some("guidance".into());
                event.client = clients.get((i as usize) % clients.len().max(1)).cloned();
                event.fields = vec!["first_name".into(), "last_name".into()];
                event.categories = vec!["identity".into()];
                appender.write(&self.clock, &mut tx, event).await?;
            }
            appender.finish(&mut tx).await?;
            tx.commit().await?;
            written += n;
        }
        Ok(())
    }

    /// The load harness's baseline (`sluis bench`): inserts `blobs` as rows of a scratch table
    /// in one transaction, as a submission's ciphertexts are.
    pub async fn bench_insert(&self, blobs: &[Vec<u8>]) -> Result<(), StoreError> {
        let create = match self.backend {
            Backend::Sqlite => {
                "CREATE TABLE IF NOT EXISTS bench_blobs (id TEXT PRIMARY KEY, body BLOB NOT NULL)"
            }
            Backend::Postgres => {
                "CREATE TABLE IF NOT EXISTS bench_blobs (id TEXT PRIMARY KEY, body BYTEA NOT NULL)"
            }
        };
        sqlx::query(create).execute(&self.pool).await?;
        let (_writing, mut tx) = self.begin_write().await?;
        for rows in blobs.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO bench_blobs (id, body) VALUES {}",
                values_list(2, rows.len())
            );
            let mut query = sqlx::query(&sql);
            for blob in rows {
                query = query.bind(uuid::Uuid::new_v4().to_string()).bind(blob);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A case's metadata.
    pub async fn case(&self, id: &str) -> Result<Option<Case>, StoreError> {
        let row = sqlx::query("SELECT * FROM cases WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| case_from_row(&r)).transpose()
    }

    /// The cases an organisation is a party to, newest first.
    pub async fn cases_of(&self, org_id: &str) -> Result<Vec<Case>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.* \
             FROM cases c JOIN case_parties p ON p.case_id = c.id \
             WHERE p.org_id = $1 ORDER BY c.created_at DESC, c.id",
        )
        .bind(org_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(case_from_row).collect()
    }

    /// The parties of a case, in the order they joined.
    pub async fn parties(&self, case_id: &str) -> Result<Vec<CaseParty>, StoreError> {
        let rows = sqlx::query(
            "SELECT org_id, role, added_at, added_by FROM case_parties \
             WHERE case_id = $1 ORDER BY added_at, org_id",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CaseParty {
                    org_id: r.try_get("org_id")?,
                    role: r.try_get("role")?,
                    added_at: r.try_get("added_at")?,
                    added_by: r.try_get("added_by")?,
                })
            })
            .collect()
    }

    /// The age files of a case sealed to `org_id` (for each field the latest one), read in one
    /// transaction with the download's audit event, which consent's release rule completes from
    /// what is read;
    /// concurrent downloads and events share one transaction (group commit).
    pub async fn slice_recorded(
        &self,
        case_id: &str,
        org_id: &str,
        rule: Arc<ReleaseRule>,
        event: Event,
    ) -> Result<(Vec<SealedField>, Event), StoreError> {
        // Read outside the log's turn, beside other readers; only the check is in its group.
        let read = {
            let mut conn = self.pool.acquire().await?;
            slice_read(&mut conn, case_id, org_id).await?
        };
        self.append_grouped(AppendWork::Slice {
            case_id: case_id.to_owned(),
            org_id: org_id.to_owned(),
            rule,
            event,
            read,
        })
        .await
    }

    /// The age files of a case sealed to `org_id`: for each field the latest one (no event;
    /// for tests and checks of what is stored).
    pub async fn slice(&self, case_id: &str, org_id: &str) -> Result<Vec<SealedField>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        slice_in(&mut conn, case_id, org_id).await
    }

    /// Every table's rows as text, for the canary tests that search the database for plaintext.
    pub async fn dump_text(&self) -> Result<String, StoreError> {
        let mut out = String::new();
        for table in [
            "organisations",
            "users",
            "api_keys",
            "cases",
            "case_parties",
            "sealed_fields",
            "sealed_field_recipients",
            "sealed_chunks",
            "consents",
            "case_states",
            "notifications",
            "evaluations",
            "audit_events",
            "audit_checkpoints",
        ] {
            let rows = sqlx::query(&format!("SELECT * FROM {table}"))
                .fetch_all(&self.pool)
                .await?;
            for row in rows {
                use sqlx::Column as _;
                for (i, col) in row.columns().iter().enumerate() {
                    let text = row
                        .try_get::<String, _>(i)
                        .ok()
                        .or_else(|| row.try_get::<i64, _>(i).ok().map(|n| n.to_string()))
                        .or_else(|| {
                            row.try_get::<Vec<u8>, _>(i)
                                .ok()
                                .map(|b| String::from_utf8_lossy(&b).into_owned())
                        })
                        .unwrap_or_default();
                    out.push_str(&format!("{table}.{}={text}\n", col.name()));
                }
            }
        }
        Ok(out)
    }
}

/// The ids of every sealed field row of the case sealed to the organisation, sorted. Rows are
/// never changed, only added and deleted: the same ids mean the same slice.
async fn slice_ids(
    conn: &mut sqlx::AnyConnection,
    case_id: &str,
    org_id: &str,
) -> Result<Vec<String>, StoreError> {
    sqlx::query(
        "SELECT sealed_field_id FROM sealed_field_recipients \
         WHERE case_id = $1 AND org_id = $2 ORDER BY sealed_field_id",
    )
    .bind(case_id)
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| r.try_get("sealed_field_id").map_err(StoreError::from))
    .collect()
}

async fn slice_in(
    conn: &mut sqlx::AnyConnection,
    case_id: &str,
    org_id: &str,
) -> Result<Vec<SealedField>, StoreError> {
    Ok(slice_read(conn, case_id, org_id).await?.0)
}

/// The slice (for each field the latest age file) and the ids of every row it was read from.
async fn slice_read(
    conn: &mut sqlx::AnyConnection,
    case_id: &str,
    org_id: &str,
) -> Result<(Vec<SealedField>, Vec<String>), StoreError> {
    let rows = sqlx::query(
        "SELECT f.id, f.field_id, f.category, f.ciphertext, f.chunked, f.policy_version, f.sealed_at, f.sealed_by \
         FROM sealed_fields f JOIN sealed_field_recipients r ON r.sealed_field_id = f.id \
         WHERE r.case_id = $1 AND r.org_id = $2 \
         ORDER BY f.seq DESC, f.field_id",
    )
    .bind(case_id)
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(rows.len());
    let mut ids = Vec::with_capacity(rows.len());
    for r in &rows {
        ids.push(r.try_get::<String, _>("id")?);
        let field_id: String = r.try_get("field_id")?;
        if seen.insert(field_id.clone()) {
            let id: String = r.try_get("id")?;
            let ciphertext = if r.try_get::<i64, _>("chunked")? != 0 {
                let mut whole = Vec::new();
                for piece in sqlx::query(
                    "SELECT body FROM sealed_chunks WHERE sealed_field_id = $1 ORDER BY n",
                )
                .bind(&id)
                .fetch_all(&mut *conn)
                .await?
                {
                    whole.extend_from_slice(&piece.try_get::<Vec<u8>, _>("body")?);
                }
                whole
            } else {
                r.try_get("ciphertext")?
            };
            out.push(SealedField {
                id,
                field_id,
                category: r.try_get("category")?,
                ciphertext,
                policy_version: r.try_get("policy_version")?,
                sealed_at: r.try_get("sealed_at")?,
                sealed_by: r.try_get("sealed_by")?,
            });
        }
    }
    out.sort_by(|a, b| a.field_id.cmp(&b.field_id));
    ids.sort_unstable();
    Ok((out, ids))
}

async fn insert_parties(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    case_id: &str,
    parties: &[CaseParty],
) -> Result<(), StoreError> {
    for p in parties {
        sqlx::query(
            "INSERT INTO case_parties (case_id, org_id, role, added_at, added_by) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(case_id)
        .bind(&p.org_id)
        .bind(&p.role)
        .bind(&p.added_at)
        .bind(&p.added_by)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

/// `($1, …, $k), ($k+1, …)`: placeholders of `rows` rows of `columns` values, so that many
/// rows go in one statement (one round trip to the database instead of one per row).
fn values_list(columns: usize, rows: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=columns)
                .map(|c| format!("${}", r * columns + c))
                .collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows per multi-row INSERT (well under both engines' limit on bound values).
const ROWS_PER_INSERT: usize = 100;

async fn insert_sealed(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    case_id: &str,
    sealed_by: &str,
    sealed_at: &str,
    sealed: &[NewSealedField],
) -> Result<(), StoreError> {
    let seq: i64 = sqlx::query(
        "SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM sealed_fields WHERE case_id = $1",
    )
    .bind(case_id)
    .fetch_one(&mut **tx)
    .await?
    .try_get("next")?;
    for rows in sealed.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO sealed_fields \
             (id, case_id, field_id, category, ciphertext, policy_version, sealed_at, sealed_by, seq, chunked) \
             VALUES {}",
            values_list(10, rows.len())
        );
        let mut query = sqlx::query(&sql);
        for f in rows {
            query = query
                .bind(&f.id)
                .bind(case_id)
                .bind(&f.field_id)
                .bind(&f.category)
                .bind(&f.ciphertext)
                .bind(&f.policy_version)
                .bind(sealed_at)
                .bind(sealed_by)
                .bind(seq)
                .bind(flag(f.chunked));
        }
        query.execute(&mut **tx).await?;
    }
    let copies: Vec<(&str, &str)> = sealed
        .iter()
        .flat_map(|f| f.recipients.iter().map(|org| (f.id.as_str(), org.as_str())))
        .collect();
    for rows in copies.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO sealed_field_recipients (sealed_field_id, case_id, org_id) VALUES {}",
            values_list(3, rows.len())
        );
        let mut query = sqlx::query(&sql);
        for (id, org) in rows {
            query = query.bind(*id).bind(case_id).bind(*org);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

fn org_from_row(r: &sqlx::any::AnyRow) -> Result<Organisation, StoreError> {
    Ok(Organisation {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        role: r.try_get("role")?,
        recipient: r.try_get("recipient")?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
    })
}

fn case_from_row(r: &sqlx::any::AnyRow) -> Result<Case, StoreError> {
    Ok(Case {
        id: r.try_get("id")?,
        form: r.try_get("form")?,
        state: r.try_get("state")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        client_pseudonym: r.try_get("client_pseudonym")?,
        facts: CaseFacts {
            queue_position: r.try_get("queue_position")?,
            referred_at: r.try_get("referred_at")?,
            matched_at: r.try_get("matched_at")?,
            matched_by: r.try_get("matched_by")?,
            home_municipality: r.try_get("home_municipality")?,
            home_kind: r.try_get("home_kind")?,
            key_handover: r.try_get("key_handover")?,
        },
    })
}

async fn insert_state(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    case_id: &str,
    state: &str,
    by_org: &str,
    at: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO case_states (case_id, seq, state, at, by_org) \
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4 FROM case_states WHERE case_id = $5",
    )
    .bind(case_id)
    .bind(state)
    .bind(at)
    .bind(by_org)
    .bind(case_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_consent(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    c: &ConsentRecord,
) -> Result<(), StoreError> {
    let list = |v: &[String]| serde_json::Value::from(v.to_vec()).to_string();
    sqlx::query(
        "INSERT INTO consents (id, case_id, client_pseudonym, signed_on, valid_until, purpose, roles, \
         categories, document_sha256, status, recorded_at, recorded_by_user, recorded_by_org) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&c.id)
    .bind(&c.case_id)
    .bind(c.client.as_deref())
    .bind(&c.signed_on)
    .bind(&c.valid_until)
    .bind(&c.purpose)
    .bind(list(&c.roles))
    .bind(list(&c.categories))
    .bind(&c.document_sha256)
    .bind(&c.status)
    .bind(&c.recorded_at)
    .bind(&c.recorded_by_user)
    .bind(&c.recorded_by_org)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes a case's age files except those of the `keep` categories (withdrawal).
async fn delete_sealed(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    case_id: &str,
    keep: &[String],
) -> Result<(), StoreError> {
    let rows = sqlx::query("SELECT id, category FROM sealed_fields WHERE case_id = $1")
        .bind(case_id)
        .fetch_all(&mut **tx)
        .await?;
    for r in rows {
        let category: String = r.try_get("category")?;
        if keep.contains(&category) {
            continue;
        }
        let id: String = r.try_get("id")?;
        sqlx::query("DELETE FROM sealed_field_recipients WHERE sealed_field_id = $1")
            .bind(&id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM sealed_chunks WHERE sealed_field_id = $1")
            .bind(&id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM sealed_fields WHERE id = $1")
            .bind(&id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

// ---- audit log -----------------------------------------------------------------------------

/// The log's head as a transaction found it, advanced in memory as the transaction writes
/// events; `finish` stores it.
struct Appender {
    next_seq: i64,
    chain: [u8; 32],
    time: String,
    /// Tree nodes still needed as left halves of subtrees to come (the right frontier of
    /// what this transaction wrote).
    frontier: HashMap<audit::Node, [u8; 32]>,
}

impl Appender {
    /// Reserves the next `count` sequence numbers. Must be the first statement of its
    /// transaction: the UPDATE takes SQLite's write lock and PostgreSQL's row lock, so appends
    /// are serialised (across replicas too) and sequence numbers have no gaps.
    async fn begin(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        count: i64,
    ) -> Result<Self, StoreError> {
        let row = sqlx::query(
            "UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, chain_hash, time",
        )
        .bind(count)
        .fetch_one(&mut **tx)
        .await?;
        let last: i64 = row.try_get("seq")?;
        Ok(Self {
            next_seq: last - count + 1,
            chain: hash_from_hex(&row.try_get::<String, _>("chain_hash")?, "audit_head")?,
            time: row.try_get("time")?,
            frontier: HashMap::new(),
        })
    }

    /// Writes `event` at the next reserved sequence number, with its time, leaf and chain
    /// hashes, and the tree nodes it completes.
    async fn write(
        &mut self,
        clock: &Clock,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        mut event: Event,
    ) -> Result<Event, StoreError> {
        event.seq = self.next_seq;
        // Never before the previous event, even if replicas' clocks differ.
        event.time = clock.now_text().max(self.time.clone());
        let leaf = event.leaf_hash();
        let chain = audit::chain_hash(&self.chain, &leaf);
        let list = |v: &[String]| serde_json::Value::from(v.to_vec()).to_string();
        sqlx::query(
            "INSERT INTO audit_events (seq, time, action, outcome, reason, user_id, role, org_id, \
             on_behalf_of, purpose, case_id, client_pseudonym, fields, categories, recipients, \
             consent_id, policy_rule, request_id, source, user_agent, leaf_hash, chain_hash) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
             $18, $19, $20, $21, $22)",
        )
        .bind(event.seq)
        .bind(&event.time)
        .bind(&event.action)
        .bind(&event.outcome)
        .bind(event.reason.as_deref())
        .bind(event.user.as_deref())
        .bind(event.role.as_deref())
        .bind(event.org.as_deref())
        .bind(event.on_behalf_of.as_deref())
        .bind(event.purpose.as_deref())
        .bind(event.case.as_deref())
        .bind(event.client.as_deref())
        .bind(list(&event.fields))
        .bind(list(&event.categories))
        .bind(list(&event.recipients))
        .bind(event.consent.as_deref())
        .bind(event.policy_rule.as_deref())
        .bind(event.request_id.as_deref())
        .bind(event.source.as_deref())
        .bind(event.user_agent.as_deref())
        .bind(hex::encode(leaf))
        .bind(hex::encode(chain))
        .execute(&mut **tx)
        .await?;
        let index = u64::try_from(event.seq - 1)
            .map_err(|_| StoreError::Corrupt("an access event numbered below 1".into()))?;
        self.frontier.insert(audit::Node { level: 0, index }, leaf);
        for node in audit::completed_by(index) {
            let (left, right) = node.children();
            let left_hash = match self.frontier.remove(&left) {
                Some(h) => h,
                None => stored_node(tx, left).await?,
            };
            let right_hash = match self.frontier.remove(&right) {
                Some(h) => h,
                None => stored_node(tx, right).await?,
            };
            let hash = audit::parent_hash(&left_hash, &right_hash);
            insert_node(tx, node, &hash).await?;
            self.frontier.insert(node, hash);
        }
        self.next_seq += 1;
        self.chain = chain;
        self.time.clone_from(&event.time);
        Ok(event)
    }

    /// Stores the head the writes advanced to.
    async fn finish(self, tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<(), StoreError> {
        sqlx::query("UPDATE audit_head SET chain_hash = $1, time = $2 WHERE id = 1")
            .bind(hex::encode(self.chain))
            .bind(&self.time)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

fn hash_from_hex(text: &str, table: &str) -> Result<[u8; 32], StoreError> {
    let mut hash = [0u8; 32];
    hex::decode_to_slice(text, &mut hash)
        .map_err(|_| StoreError::Corrupt(format!("{table} holds a hash that is not one")))?;
    Ok(hash)
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

async fn insert_node(
    conn: &mut sqlx::AnyConnection,
    node: audit::Node,
    hash: &[u8; 32],
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO audit_nodes (level, idx, hash) VALUES ($1, $2, $3)")
        .bind(i64::from(node.level))
        .bind(to_i64(node.index))
        .bind(hex::encode(hash))
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// One stored tree node: a leaf's hash from its event, a larger subtree's from `audit_nodes`.
async fn stored_node(
    conn: &mut sqlx::AnyConnection,
    node: audit::Node,
) -> Result<[u8; 32], StoreError> {
    let row = if node.level == 0 {
        sqlx::query("SELECT leaf_hash AS hash FROM audit_events WHERE seq = $1")
            .bind(to_i64(node.index + 1))
            .fetch_optional(&mut *conn)
            .await?
    } else {
        sqlx::query("SELECT hash FROM audit_nodes WHERE level = $1 AND idx = $2")
            .bind(i64::from(node.level))
            .bind(to_i64(node.index))
            .fetch_optional(&mut *conn)
            .await?
    };
    let row = row.ok_or_else(|| {
        StoreError::Corrupt(format!(
            "the access log's tree lacks node {}/{}",
            node.level, node.index
        ))
    })?;
    hash_from_hex(&row.try_get::<String, _>("hash")?, "audit_nodes")
}

async fn append_event(
    clock: &Clock,
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    event: Event,
) -> Result<Event, StoreError> {
    let mut appender = Appender::begin(tx, 1).await?;
    let event = appender.write(clock, tx, event).await?;
    appender.finish(tx).await?;
    Ok(event)
}

// ---- group commit --------------------------------------------------------------------------

/// Access events of concurrent requests waiting to be appended in one transaction: one durable
/// commit for the group instead of one per request (group commit). Whichever waiting request
/// finds no group being written writes the queue; each request is answered once its group is
/// durable.
#[derive(Default)]
struct GroupCommit {
    queue: std::sync::Mutex<Vec<Append>>,
    writing: Arc<tokio::sync::Mutex<()>>,
}

/// What one request appends.
enum AppendWork {
    /// An event.
    Event(Event),
    /// A download: the slice of `org_id` in `case_id`, read before it was queued (`read`, with
    /// the ids of its rows). The group checks in its transaction that the case still holds
    /// exactly those rows for the organisation (else it reads again), so that the event
    /// describes what the database held when the event became durable.
    Slice {
        case_id: String,
        org_id: String,
        rule: Arc<ReleaseRule>,
        event: Event,
        read: (Vec<SealedField>, Vec<String>),
    },
}

type Appended = (Vec<SealedField>, Event);

struct Append {
    work: AppendWork,
    /// What was appended, with the time its own reads took.
    reply: tokio::sync::oneshot::Sender<Result<(Appended, std::time::Duration), StoreError>>,
}

impl Store {
    /// Queues `work` and waits until it is durable, writing the queue if nobody is.
    async fn append_grouped(&self, work: AppendWork) -> Result<Appended, StoreError> {
        let started = std::time::Instant::now();
        let (reply, mut done) = tokio::sync::oneshot::channel();
        self.group
            .queue
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(Append { work, reply });
        loop {
            tokio::select! {
                biased;
                result = &mut done => {
                    let (appended, reading) = result.unwrap_or_else(|_| {
                        Err(StoreError::Corrupt("the access log's group writer failed".into()))
                    })?;
                    // What the log added to the request: everything but its own reads.
                    crate::telemetry::record_log_wait(
                        started.elapsed().saturating_sub(reading).as_secs_f64(),
                    );
                    return Ok(appended);
                }
                turn = self.group.writing.clone().lock_owned() => {
                    let group = std::mem::take(
                        &mut *self.group.queue.lock().unwrap_or_else(std::sync::PoisonError::into_inner),
                    );
                    if group.is_empty() {
                        continue;
                    }
                    // A task of its own, so that a request that goes away mid-write (its client
                    // hung up) does not abort the others' transaction.
                    let store = self.clone();
                    let _ = tokio::spawn(async move {
                        let _turn = turn;
                        store.write_group(group).await;
                    })
                    .await;
                }
            }
        }
    }

    /// Writes a group in one transaction; if that fails, each of its appends alone, so that
    /// one append's failure is only its own.
    async fn write_group(&self, group: Vec<Append>) {
        let works: Vec<&AppendWork> = group.iter().map(|a| &a.work).collect();
        match self.append_all(&works).await {
            Ok(results) => {
                for (append, result) in group.into_iter().zip(results) {
                    let _ = append.reply.send(Ok(result));
                }
            }
            Err(e) if group.len() == 1 => {
                if let Some(append) = group.into_iter().next() {
                    let _ = append.reply.send(Err(e));
                }
            }
            Err(_) => {
                for append in group {
                    let result = self.append_all(&[&append.work]).await.and_then(|mut r| {
                        r.pop().ok_or_else(|| {
                            StoreError::Corrupt("an append without its result".into())
                        })
                    });
                    let _ = append.reply.send(result);
                }
            }
        }
    }

    async fn append_all(
        &self,
        works: &[&AppendWork],
    ) -> Result<Vec<(Appended, std::time::Duration)>, StoreError> {
        let _writing = self.urgent_turn().await;
        let mut tx = self.pool.begin().await?;
        let mut appender = Appender::begin(&mut tx, works.len() as i64).await?;
        let mut out = Vec::with_capacity(works.len());
        for work in works {
            out.push(match work {
                AppendWork::Event(event) => {
                    let event = appender.write(&self.clock, &mut tx, event.clone()).await?;
                    ((Vec::new(), event), std::time::Duration::ZERO)
                }
                AppendWork::Slice {
                    case_id,
                    org_id,
                    rule,
                    event,
                    read: (read, ids),
                } => {
                    let (fields, reading) = if slice_ids(&mut tx, case_id, org_id).await? == *ids {
                        (read.clone(), std::time::Duration::ZERO)
                    } else {
                        let reading = std::time::Instant::now();
                        let fields = slice_in(&mut tx, case_id, org_id).await?;
                        (fields, reading.elapsed())
                    };
                    let files: Vec<(&str, &str)> = fields
                        .iter()
                        .map(|f| (f.field_id.as_str(), f.category.as_str()))
                        .collect();
                    let event = rule.describe(&files, event.clone());
                    let event = appender.write(&self.clock, &mut tx, event).await?;
                    ((fields, event), reading)
                }
            });
        }
        appender.finish(&mut tx).await?;
        tx.commit().await?;
        Ok(out)
    }
}

fn event_from_row(r: &sqlx::any::AnyRow) -> Result<StoredEvent, StoreError> {
    let list = |column: &str| -> Result<Vec<String>, StoreError> {
        let text: String = r.try_get(column)?;
        serde_json::from_str(&text)
            .map_err(|_| StoreError::Corrupt(format!("audit_events.{column} is not a list")))
    };
    Ok(StoredEvent {
        event: Event {
            seq: r.try_get("seq")?,
            time: r.try_get("time")?,
            action: r.try_get("action")?,
            outcome: r.try_get("outcome")?,
            reason: r.try_get("reason")?,
            user: r.try_get("user_id")?,
            role: r.try_get("role")?,
            org: r.try_get("org_id")?,
            on_behalf_of: r.try_get("on_behalf_of")?,
            purpose: r.try_get("purpose")?,
            case: r.try_get("case_id")?,
            client: r.try_get("client_pseudonym")?,
            fields: list("fields")?,
            categories: list("categories")?,
            recipients: list("recipients")?,
            consent: r.try_get("consent_id")?,
            policy_rule: r.try_get("policy_rule")?,
            request_id: r.try_get("request_id")?,
            source: r.try_get("source")?,
            user_agent: r.try_get("user_agent")?,
        },
        leaf_hash: r.try_get("leaf_hash")?,
        chain_hash: r.try_get("chain_hash")?,
    })
}

/// Which events to return; every filter is optional.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventFilter {
    /// Organisation id.
    pub org: Option<String>,
    /// User id.
    pub user: Option<String>,
    /// Case id.
    pub case: Option<String>,
    /// Client pseudonym.
    pub client: Option<String>,
    /// Action.
    pub action: Option<String>,
    /// Outcome.
    pub outcome: Option<String>,
    /// From this time (inclusive, RFC 3339).
    pub from: Option<String>,
    /// Until this time (exclusive, RFC 3339).
    pub to: Option<String>,
    /// Only events after this sequence number (pagination).
    pub after: Option<i64>,
    /// At most this many (default 100, at most 1000).
    pub limit: Option<i64>,
}

impl Store {
    /// Appends one event in a transaction of its own (denied attempts, logins, reads of the log).
    pub async fn record(&self, event: Event) -> Result<Event, StoreError> {
        let (_, event) = self.append_grouped(AppendWork::Event(event)).await?;
        Ok(event)
    }

    /// Events matching `filter`, in log order.
    pub async fn events(&self, filter: &EventFilter) -> Result<Vec<Event>, StoreError> {
        let mut sql = String::from("SELECT * FROM audit_events WHERE seq > $1");
        let mut args: Vec<String> = Vec::new();
        for (column, value) in [
            ("org_id = ", &filter.org),
            ("user_id = ", &filter.user),
            ("case_id = ", &filter.case),
            ("client_pseudonym = ", &filter.client),
            ("action = ", &filter.action),
            ("outcome = ", &filter.outcome),
            ("time >= ", &filter.from),
            ("time < ", &filter.to),
        ] {
            if let Some(v) = value {
                args.push(v.clone());
                sql.push_str(&format!(" AND {column}${}", args.len() + 1));
            }
        }
        let limit = filter.limit.unwrap_or(100).clamp(1, 1000);
        sql.push_str(&format!(" ORDER BY seq LIMIT {limit}"));
        let mut query = sqlx::query(&sql).bind(filter.after.unwrap_or(0));
        for a in &args {
            query = query.bind(a);
        }
        let rows = query.fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| event_from_row(r).map(|s| s.event))
            .collect()
    }

    /// The whole log with its stored hashes, in sequence order (for verification and proofs).
    pub async fn audit_log(&self) -> Result<Vec<StoredEvent>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_events ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Failed logins since `since` (RFC 3339): for this user (if known) and from this source.
    pub async fn failed_logins(
        &self,
        user: Option<&str>,
        source: Option<&str>,
        since: &str,
    ) -> Result<(i64, i64), StoreError> {
        let count = |column: &'static str, value: Option<&str>| {
            let pool = self.pool.clone();
            let since = since.to_owned();
            let value = value.map(str::to_owned);
            async move {
                let Some(value) = value else {
                    return Ok::<i64, StoreError>(0);
                };
                let sql = format!(
                    "SELECT COUNT(*) AS n FROM audit_events \
                     WHERE action = 'login' AND outcome = 'denied' AND time >= $1 AND {column} = $2"
                );
                Ok(sqlx::query(&sql)
                    .bind(since)
                    .bind(value)
                    .fetch_one(&pool)
                    .await?
                    .try_get("n")?)
            }
        };
        Ok((
            count("user_id", user).await?,
            count("source", source).await?,
        ))
    }

    /// Number of events in the log.
    pub async fn audit_size(&self) -> Result<u64, StoreError> {
        let n: i64 = sqlx::query("SELECT seq FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?
            .try_get("seq")?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// The hashes of these tree nodes (a leaf's from its event), read a level at a time.
    pub async fn tree_nodes(
        &self,
        nodes: impl IntoIterator<Item = audit::Node>,
    ) -> Result<HashMap<audit::Node, [u8; 32]>, StoreError> {
        let wanted: std::collections::BTreeSet<audit::Node> = nodes.into_iter().collect();
        let (leaves, inner): (Vec<audit::Node>, Vec<audit::Node>) =
            wanted.into_iter().partition(|n| n.level == 0);
        let mut out = HashMap::new();
        let mut conn = self.pool.acquire().await?;
        // Leaves are the events' leaf hashes, found by the events' key: seq = index + 1.
        for chunk in leaves.chunks(500) {
            let sql = format!(
                "SELECT seq, leaf_hash FROM audit_events WHERE seq IN ({})",
                (1..=chunk.len())
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut query = sqlx::query(&sql);
            for node in chunk {
                query = query.bind(to_i64(node.index + 1));
            }
            for row in query.fetch_all(&mut *conn).await? {
                let seq: i64 = row.try_get("seq")?;
                out.insert(
                    audit::Node {
                        level: 0,
                        index: u64::try_from(seq - 1).unwrap_or(0),
                    },
                    hash_from_hex(&row.try_get::<String, _>("leaf_hash")?, "audit_events")?,
                );
            }
        }
        // Larger subtrees: one statement for many, each term a primary-key lookup.
        for chunk in inner.chunks(250) {
            let terms: Vec<String> = (0..chunk.len())
                .map(|i| format!("(level = ${} AND idx = ${})", 2 * i + 1, 2 * i + 2))
                .collect();
            let sql = format!(
                "SELECT level, idx, hash FROM audit_nodes WHERE {}",
                terms.join(" OR ")
            );
            let mut query = sqlx::query(&sql);
            for node in chunk {
                query = query.bind(i64::from(node.level)).bind(to_i64(node.index));
            }
            for row in query.fetch_all(&mut *conn).await? {
                let level: i64 = row.try_get("level")?;
                let index: i64 = row.try_get("idx")?;
                out.insert(
                    audit::Node {
                        level: u32::try_from(level).unwrap_or(u32::MAX),
                        index: u64::try_from(index).unwrap_or(0),
                    },
                    hash_from_hex(&row.try_get::<String, _>("hash")?, "audit_nodes")?,
                );
            }
        }
        Ok(out)
    }

    /// MTHs of leaf ranges of the stored tree, in order.
    pub async fn range_hashes(&self, ranges: &[(u64, u64)]) -> Result<Vec<[u8; 32]>, StoreError> {
        let nodes = self
            .tree_nodes(ranges.iter().flat_map(|r| audit::subtrees(r.0, r.1)))
            .await?;
        ranges
            .iter()
            .map(|&r| {
                audit::range_hash(r, &nodes).ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "the access log's tree lacks nodes of {}..{}",
                        r.0, r.1
                    ))
                })
            })
            .collect()
    }

    /// The RFC 9162 root of the log's first `size` events, from the stored tree.
    pub async fn tree_root(&self, size: u64) -> Result<[u8; 32], StoreError> {
        if size == 0 {
            return Ok(audit::fold_subtrees(&[]));
        }
        Ok(self.range_hashes(&[(0, size)]).await?[0])
    }

    /// The inclusion proof of event `seq` in the tree of the first `size` events.
    pub async fn inclusion_proof(&self, seq: u64, size: u64) -> Result<Vec<[u8; 32]>, StoreError> {
        self.range_hashes(&audit::inclusion_ranges(seq.saturating_sub(1), size))
            .await
    }

    /// Inclusion proofs of several events in the tree of the first `size` events, read together.
    pub async fn inclusion_proofs(
        &self,
        seqs: &[u64],
        size: u64,
    ) -> Result<Vec<Vec<[u8; 32]>>, StoreError> {
        let ranges: Vec<Vec<(u64, u64)>> = seqs
            .iter()
            .map(|&seq| audit::inclusion_ranges(seq.saturating_sub(1), size))
            .collect();
        let flat: Vec<(u64, u64)> = ranges.iter().flatten().copied().collect();
        let mut hashes = self.range_hashes(&flat).await?.into_iter();
        Ok(ranges
            .iter()
            .map(|r| hashes.by_ref().take(r.len()).collect())
            .collect())
    }

    /// The consistency proof from the first `old` events to the first `size`.
    pub async fn consistency_proof(
        &self,
        old: u64,
        size: u64,
    ) -> Result<Vec<[u8; 32]>, StoreError> {
        let ranges = audit::consistency_ranges(old, size).unwrap_or_default();
        self.range_hashes(&ranges).await
    }

    /// The events about one client among the first `size`, from `from` until `to` (RFC 3339),
    /// in log order (by the index on the client pseudonym).
    pub async fn client_events(
        &self,
        client: &str,
        size: u64,
        from: Option<&str>,
        to: Option<&str>,
    ) -> Result<Vec<Event>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM audit_events WHERE client_pseudonym = $1 AND seq <= $2 \
             AND ($3 = '' OR time >= $3) AND ($4 = '' OR time < $4) ORDER BY seq",
        )
        .bind(client)
        .bind(to_i64(size))
        .bind(from.unwrap_or(""))
        .bind(to.unwrap_or(""))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| event_from_row(r).map(|s| s.event))
            .collect()
    }

    /// Writes the tree nodes of a log appended before the tree was stored (an upgrade), in one
    /// transaction holding the log's lock. Does nothing if the nodes are there.
    async fn complete_tree(&self) -> Result<(), StoreError> {
        let size = self.audit_size().await?;
        let top: Vec<audit::Node> = audit::subtrees(0, size)
            .into_iter()
            .filter(|n| n.level > 0)
            .collect();
        if self.tree_nodes(top.iter().copied()).await?.len() == top.len() {
            return Ok(());
        }
        let (_writing, mut tx) = self.begin_write().await?;
        sqlx::query("UPDATE audit_head SET seq = seq WHERE id = 1")
            .execute(&mut *tx)
            .await?;
        let leaves: Vec<String> = sqlx::query("SELECT leaf_hash FROM audit_events ORDER BY seq")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|r| r.try_get("leaf_hash"))
            .collect::<Result<_, _>>()?;
        let mut frontier = HashMap::new();
        for (i, leaf) in leaves.iter().enumerate() {
            let index = i as u64;
            frontier.insert(
                audit::Node { level: 0, index },
                hash_from_hex(leaf, "audit_events")?,
            );
            for node in audit::completed_by(index) {
                let (l, r) = node.children();
                let (Some(left), Some(right)) = (frontier.remove(&l), frontier.remove(&r)) else {
                    return Err(StoreError::Corrupt("the access log has gaps".into()));
                };
                let hash = audit::parent_hash(&left, &right);
                sqlx::query(
                    "INSERT INTO audit_nodes (level, idx, hash) VALUES ($1, $2, $3) \
                     ON CONFLICT (level, idx) DO NOTHING",
                )
                .bind(i64::from(node.level))
                .bind(to_i64(node.index))
                .bind(hex::encode(hash))
                .execute(&mut *tx)
                .await?;
                frontier.insert(node, hash);
            }
        }
        tx.commit().await?;
        tracing::info!(events = leaves.len(), "stored the access log's tree");
        Ok(())
    }

    /// Keeps a signed checkpoint.
    pub async fn add_checkpoint(&self, cp: &Checkpoint) -> Result<(), StoreError> {
        let _writing = self.embedded_turn().await;
        sqlx::query(
            "INSERT INTO audit_checkpoints (size, root_hash, time, note) VALUES ($1, $2, $3, $4)",
        )
        .bind(i64::try_from(cp.size).unwrap_or(i64::MAX))
        .bind(hex::encode(cp.root))
        .bind(cp.time)
        .bind(&cp.note)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Unix time of the latest checkpoint, if any.
    pub async fn latest_checkpoint_time(&self) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT MAX(time) AS t FROM audit_checkpoints")
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get::<Option<i64>, _>("t")?)
    }

    /// All kept checkpoint notes, oldest first.
    pub async fn checkpoint_notes(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT note FROM audit_checkpoints ORDER BY size, time")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("note")?)).collect()
    }
}
