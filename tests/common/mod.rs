//! Shared test set-up: a real database (a fresh SQLite file, or a fresh database on the
//! PostgreSQL server named by `SLUIS_TEST_POSTGRES_URL`), the enrolled Westfriesland parties
//! with fresh age identities, and a broker on 127.0.0.1.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;
use sluis::api::{AppState, RunningBroker};
use sluis::auth::Secret;
use sluis::client::{Client, Credentials};
use sluis::demo::{Enrolled, enrol_parties};
use sluis::policy::Policy;
use sluis::store::Store;

/// Field ids a corporation opens of a full registration, written out: art. 9.5 (personalia,
/// household, income, debts incl. schuldsanering and bewindvoering), dwelling requirements
/// (9.6) and the guide's contact (9.9). No BSN, no health data.
pub const CORPORATION_FIELDS: &[&str] = &[
    "accepts_suitable_offer",
    "affordability",
    "benefits",
    "children_ages",
    "children_count",
    "current_address",
    "date_of_birth",
    "debt_restructuring_status",
    "debts_total",
    "dwelling_constraints",
    "email",
    "financial_administrator",
    "financial_administrator_contact",
    "full_name",
    "guide_name",
    "guide_phone",
    "has_partner",
    "housing_preferences",
    "income_source",
    "net_monthly_income",
    "phone",
    "rent_affordable",
    "rent_arrears_amount",
    "rent_arrears_last_home",
    "residence_status",
    "wgs_admission_date",
    "woonmatch_number",
];

pub fn policy() -> Policy {
    Policy::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policy")).unwrap()
}

/// The database URLs to run a scenario on: SQLite always; PostgreSQL when
/// `SLUIS_TEST_POSTGRES_URL` is set. `SLUIS_REQUIRE_POSTGRES=1` makes its absence a failure.
pub fn backends() -> Vec<&'static str> {
    let mut out = vec!["sqlite"];
    if postgres_available() {
        out.push("postgres");
    }
    out
}

/// Whether a PostgreSQL server to test on is named (`SLUIS_TEST_POSTGRES_URL`); with
/// `SLUIS_REQUIRE_POSTGRES=1` its absence fails the test instead of skipping it.
pub fn postgres_available() -> bool {
    match std::env::var("SLUIS_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => true,
        _ if std::env::var("SLUIS_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => {
            panic!("SLUIS_REQUIRE_POSTGRES=1 but SLUIS_TEST_POSTGRES_URL is not set")
        }
        _ => {
            eprintln!("skipped: no PostgreSQL (set SLUIS_TEST_POSTGRES_URL to run this backend)");
            false
        }
    }
}

/// One named test case per backend for a scenario `fn name(backend: &'static str)`:
/// `name::sqlite` and `name::postgres`, so the output says which backend failed. The
/// attributes given (`#[tokio::test]`, `#[test]`, …) go on each case.
#[macro_export]
macro_rules! per_backend {
    ($(#[$attr:meta])* async fn $name:ident) => {
        mod $name {
            $(#[$attr])*
            async fn sqlite() {
                super::$name("sqlite").await
            }
            $(#[$attr])*
            async fn postgres() {
                if $crate::common::postgres_available() {
                    super::$name("postgres").await
                }
            }
        }
    };
    ($(#[$attr:meta])* fn $name:ident) => {
        mod $name {
            $(#[$attr])*
            fn sqlite() {
                super::$name("sqlite")
            }
            $(#[$attr])*
            fn postgres() {
                if $crate::common::postgres_available() {
                    super::$name("postgres")
                }
            }
        }
    };
}

/// A fresh, empty database of the given backend.
pub struct TestDb {
    pub url: String,
    pub sqlite_file: Option<PathBuf>,
    pub _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub async fn new(backend: &str) -> Self {
        match backend {
            "sqlite" => {
                let dir = tempfile::tempdir().unwrap();
                let file = dir.path().join("sluis.db");
                Self {
                    url: format!("sqlite://{}", file.display()),
                    sqlite_file: Some(file),
                    _dir: Some(dir),
                }
            }
            "postgres" => {
                let admin = std::env::var("SLUIS_TEST_POSTGRES_URL").unwrap();
                let name = format!("sluis_t_{}", uuid::Uuid::new_v4().simple());
                sqlx::any::install_default_drivers();
                let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&pool)
                    .await
                    .unwrap();
                pool.close().await;
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap();
                Self {
                    url: format!("{base}/{name}"),
                    sqlite_file: None,
                    _dir: None,
                }
            }
            other => panic!("unknown backend {other}"),
        }
    }
}

/// A broker on 127.0.0.1 with every party enrolled.
pub struct TestApp {
    pub state: AppState,
    pub db: TestDb,
    pub store: Store,
    pub policy: Arc<Policy>,
    pub parties: Vec<Enrolled>,
    pub broker: RunningBroker,
}

/// How to start a [`TestApp`]: `TestApp::on(backend).limits(..).rate(..).start()`.
pub struct TestAppBuilder {
    backend: &'static str,
    db: Option<TestDb>,
    limits: sluis::auth::LoginLimits,
    rate: sluis::api::RateLimit,
    metrics_token: Option<String>,
    clock: Option<sluis::clock::Clock>,
}

impl TestAppBuilder {
    /// The bearer token `/metrics` asks for (default: none, the machine itself only).
    pub fn metrics_token(mut self, token: &str) -> Self {
        self.metrics_token = Some(token.to_owned());
        self
    }

    /// Limits on failed logins (default: the broker's).
    pub fn limits(mut self, limits: sluis::auth::LoginLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The request rate limit (default: generous, since tests drive many logins and
    /// requests from one address within a second; only the rate limit test tightens it).
    pub fn rate(mut self, rate: sluis::api::RateLimit) -> Self {
        self.rate = rate;
        self
    }

    /// The store's clock (default: the system's): a manual clock lets a test move the days.
    pub fn clock(mut self, clock: sluis::clock::Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// A database placed somewhere special instead of a fresh one of the backend.
    pub fn database(mut self, db: TestDb) -> Self {
        self.db = Some(db);
        self
    }

    /// Enrols every party and starts the broker on 127.0.0.1.
    pub async fn start(self) -> TestApp {
        let db = match self.db {
            Some(db) => db,
            None => TestDb::new(self.backend).await,
        };
        let mut store = Store::connect(&db.url).await.unwrap();
        if let Some(clock) = self.clock {
            store = store.with_clock(clock);
        }
        let policy = Arc::new(policy());
        let parties = enrol_parties(&store, &policy).await.unwrap();
        let mut state = AppState::ephemeral(store.clone(), policy.clone());
        state.login_limits = self.limits;
        state.rate = self.rate;
        state.metrics_token = self
            .metrics_token
            .map(|t| Arc::new(sluis::auth::Secret::new(t)));
        let broker = RunningBroker::start(state.clone(), "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        TestApp {
            state,
            db,
            store,
            policy,
            parties,
            broker,
        }
    }
}

impl TestApp {
    /// A builder for a broker on a fresh database of `backend`.
    pub fn on(backend: &'static str) -> TestAppBuilder {
        TestAppBuilder {
            backend,
            db: None,
            limits: sluis::auth::LoginLimits::default(),
            rate: sluis::api::RateLimit {
                per_second: 100_000,
                burst: 100_000,
            },
            metrics_token: None,
            clock: None,
        }
    }

    /// `TestApp::on(backend).start()`.
    pub async fn start(backend: &'static str) -> Self {
        Self::on(backend).start().await
    }

    pub fn party(&self, org: &str) -> &Enrolled {
        self.parties
            .iter()
            .find(|p| p.org == org)
            .unwrap_or_else(|| panic!("{org} not enrolled"))
    }

    pub async fn client(&self, org: &str) -> Client {
        let key = Secret::new(self.party(org).api_key.expose().to_owned());
        Client::new(&self.broker.base_url)
            .login(&Credentials::ApiKey(key))
            .await
            .unwrap()
    }

    /// Submits as `care` (with the fictional consent), lets the coordinator accept and refer it
    /// to `municipalities`; returns the case id.
    pub async fn submit_and_refer(
        &self,
        care: &str,
        fields: &Value,
        municipalities: &[&str],
    ) -> String {
        let consent = sluis::demo::fictional_consent();
        self.submit_and_refer_with(care, fields, &consent, municipalities)
            .await
    }

    /// As `submit_and_refer`, with the consent declaration `consent` (one signed on the
    /// store clock's day, for a manual clock).
    pub async fn submit_and_refer_with(
        &self,
        care: &str,
        fields: &Value,
        consent: &Value,
        municipalities: &[&str],
    ) -> String {
        let submitter = self.client(care).await;
        let submitted = submitter.submit("registration", fields, consent).await;
        let case = submitted.unwrap()["id"].as_str().unwrap().to_owned();
        let coordinator = self.client("bct-westfriesland").await;
        coordinator
            .step(
                &case,
                "assessment",
                &serde_json::json!({
                    "decision": "accept",
                    "fields": sluis::demo::checklist_all_met(&self.policy),
                }),
            )
            .await
            .unwrap();
        let to: Vec<String> = municipalities.iter().map(|s| s.to_string()).collect();
        coordinator
            .refer(
                &case,
                &self.party("bct-westfriesland").identity,
                &self.policy,
                &to,
            )
            .await
            .unwrap();
        case
    }

    /// Submits as `care` with the fictional consent; returns the case id.
    pub async fn submit(&self, care: &str, fields: &Value) -> String {
        let answer = self
            .client(care)
            .await
            .submit("registration", fields, &sluis::demo::fictional_consent())
            .await
            .unwrap();
        answer["id"].as_str().unwrap().to_owned()
    }

    /// Raw HTTP request with a bearer token; returns (status, content type, body).
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> (u16, String, String) {
        let http = reqwest::Client::new();
        let mut req = http.request(
            method.parse().unwrap(),
            format!("{}{path}", self.broker.base_url),
        );
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some((content_type, bytes)) = body {
            req = req.header("content-type", content_type).body(bytes);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, ct, resp.text().await.unwrap())
    }

    pub async fn token(&self, org: &str) -> String {
        let body = serde_json::json!({ "api_key": self.party(org).api_key.expose() }).to_string();
        let (status, _, text) = self
            .raw(
                "POST",
                "/v1/auth/token",
                None,
                Some(("application/json", body.into_bytes())),
            )
            .await;
        assert_eq!(status, 200, "{text}");
        serde_json::from_str::<Value>(&text).unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

/// A `sluis serve` process; killed (SIGKILL) and reaped when dropped.
pub struct Server(pub std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the real `sluis serve` on a free 127.0.0.1 port on database `url` with signing key
/// `key`, checkpoints every second and no request limits; returns it and its base URL.
pub fn serve_process(url: &str, key: &std::path::Path) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Server(
        std::process::Command::new(env!("CARGO_BIN_EXE_sluis"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "serve",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--checkpoint-interval",
                "1",
                "--signing-key",
            ])
            .arg(key)
            .env("DATABASE_URL", url)
            .env("SLUIS_RATE_BURST", "100000")
            .env("SLUIS_RATE_PER_SECOND", "100000")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let base = format!("http://127.0.0.1:{port}");
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return (server, base);
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    panic!("sluis serve did not come up");
}

/// Every log line of this test process at TRACE level, as written. The subscriber is global and
/// installed on the first call; every scenario of the process writes into the same capture
/// (each then searches it for its own markers).
#[derive(Clone, Default)]
pub struct Captured(pub Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// What was logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// The process's log capture (see [`Captured`]).
pub fn capture_all_logs() -> Captured {
    static CAPTURED: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            tracing_subscriber::fmt()
                .with_max_level(tracing::Level::TRACE)
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .init();
            captured
        })
        .clone()
}
