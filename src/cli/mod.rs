//! The `sluis` command line: serve, admin verbs, client verbs, audit verbs, demo.

mod audit;
mod lifecycle;

use std::io::Read as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result, bail};
use clap::{Args, Parser, Subcommand};

use crate::api::{self, AppState};
use crate::audit::{Event, Pseudonymiser};
use crate::auth::{self, Secret, SigningKey};
use crate::client::{self, Client, Credentials};
use crate::clock::now_text;
use crate::config::redact_url;
use crate::config::{self, Settings};
use crate::policy::{Policy, is_org_id};
use crate::sealing::{Identity, Recipient};
use crate::store::{Store, User};

/// Sluis: the privacy-first exchange of the Westfriesland outflow arrangement.
#[derive(Debug, Parser)]
#[command(name = "sluis", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct DbArgs {
    /// Configuration file (TOML; every key is in the README). Environment variables and flags
    /// override it.
    #[arg(long, env = "SLUIS_CONFIG")]
    config: Option<PathBuf>,
    /// Database URL: `sqlite://FILE` (embedded) or `postgres://…` (else `database_url` from the
    /// configuration or `DATABASE_URL`; default `sqlite://sluis.db`).
    #[arg(long = "database")]
    url: Option<String>,
    /// A file holding the database URL (with its password), instead of `--database`
    /// (`DATABASE_URL_FILE`).
    #[arg(long = "database-file")]
    url_file: Option<PathBuf>,
    /// Apply the schema migrations when connecting (default true; `SLUIS_MIGRATE`). Set to
    /// false where the broker's PostgreSQL role may not change the schema (then run
    /// `sluis migrate` as the owner).
    #[arg(long, action = clap::ArgAction::Set)]
    migrate: Option<bool>,
}

impl DbArgs {
    /// The configuration sources with these flags (and `extra` flags) on top.
    fn sources(&self, mut extra: toml::Table) -> Result<config::Sources> {
        if let Some(url) = &self.url {
            extra.insert("database_url".into(), url.clone().into());
        }
        if let Some(file) = &self.url_file {
            extra.insert(
                "database_url_file".into(),
                file.display().to_string().into(),
            );
        }
        if let Some(migrate) = self.migrate {
            extra.insert("migrate".into(), migrate.into());
        }
        Ok(config::Sources::gather(self.config.as_deref(), &extra)?)
    }

    /// The effective settings.
    fn settings(&self) -> Result<Settings> {
        Ok(self.sources(toml::Table::new())?.settings()?)
    }

    /// The database URL: from `database_url_file` if set, else `database_url`.
    fn url(&self) -> Result<String> {
        url_of(&self.settings()?)
    }
}

fn url_of(settings: &Settings) -> Result<String> {
    settings.database_url().with_context(|| {
        format!(
            "reading the database URL from {}",
            settings
                .database_url_file
                .as_deref()
                .unwrap_or(Path::new("?"))
                .display()
        )
    })
}

#[derive(Debug, Args)]
struct PolicyArgs {
    /// Directory with policy.toml, forms/ and parties.toml.
    #[arg(long = "policy", env = "SLUIS_POLICY_DIR", default_value = "policy")]
    dir: PathBuf,
}

#[derive(Debug, Args)]
struct ClientArgs {
    /// The broker's base URL.
    #[arg(long, env = "SLUIS_SERVER", default_value = "http://127.0.0.1:8080")]
    server: String,
    /// File holding an API key (`sluis_…`); or set SLUIS_API_KEY.
    #[arg(long)]
    api_key_file: Option<PathBuf>,
    /// Log in as this user instead; the password comes from SLUIS_PASSWORD or --password-file.
    #[arg(long)]
    username: Option<String>,
    /// File holding the user's password.
    #[arg(long)]
    password_file: Option<PathBuf>,
}

/// Everything `sluis serve` takes: the configuration file and a few flags that override it.
#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    db: DbArgs,
    /// Address to listen on (`listen`).
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Directory with policy.toml, forms/ and parties.toml (`policy_dir`).
    #[arg(long = "policy")]
    policy_dir: Option<PathBuf>,
    /// Ed25519 PKCS#8 PEM key that signs access tokens and checkpoints (`signing_key_file`).
    #[arg(long)]
    signing_key: Option<PathBuf>,
    /// Seconds between signed checkpoints (`checkpoint_interval`).
    #[arg(long)]
    checkpoint_interval: Option<u64>,
}

impl ServeArgs {
    /// The configuration sources with every flag that was given on top.
    fn sources(&self) -> Result<config::Sources> {
        let mut flags = toml::Table::new();
        if let Some(listen) = self.listen {
            flags.insert("listen".into(), listen.to_string().into());
        }
        if let Some(dir) = &self.policy_dir {
            flags.insert("policy_dir".into(), dir.display().to_string().into());
        }
        if let Some(key) = &self.signing_key {
            flags.insert("signing_key_file".into(), key.display().to_string().into());
        }
        if let Some(secs) = self.checkpoint_interval {
            flags.insert(
                "checkpoint_interval".into(),
                i64::try_from(secs).unwrap_or(i64::MAX).into(),
            );
        }
        self.db.sources(flags)
    }
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate the configuration (file, environment, flags) and the files it names; print the
    /// effective value of every setting and where it came from, secrets masked.
    Check(ServeArgs),
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the broker.
    Serve(ServeArgs),
    /// Check the broker's configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Show or check the policy.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// Manage organisations (parties).
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API keys.
    Apikey {
        #[command(subcommand)]
        command: ApikeyCommand,
    },
    /// Back up an embedded (SQLite) database while the broker runs: a consistent copy with
    /// ciphertext, routing metadata and the access log — no organisation's private key.
    Backup {
        #[command(flatten)]
        db: DbArgs,
        /// The backup file to write (must not exist).
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore an embedded (SQLite) backup as a new database file (must not exist), then check
    /// it: migrations applied and the access log verified.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        /// The database file to create.
        #[arg(long)]
        to: PathBuf,
        /// The broker's signing key (and previous ones, comma-separated) to verify the log with.
        #[arg(long, env = "SLUIS_SIGNING_KEY_FILE", value_delimiter = ',')]
        signing_key: Vec<PathBuf>,
        /// The log's origin.
        #[arg(long, env = "SLUIS_LOG_ORIGIN", default_value = api::DEFAULT_LOG_ORIGIN)]
        log_origin: String,
    },
    /// Apply the schema migrations and exit (run as the database owner role).
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// The access log: verify, query, report, checkpoint.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Make a key: an age identity for an organisation, the broker's signing key, or the
    /// pseudonym secret.
    Keygen {
        /// `age` (an organisation's identity), `signing` (the broker's Ed25519 key for tokens and
        /// checkpoints) or `pseudonym` (the secret keying client pseudonyms).
        #[arg(long, default_value = "age", value_parser = ["age", "signing", "pseudonym"])]
        kind: String,
        /// Write to this file (created with mode 0600; refuses to overwrite).
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Submit a form (care organisation). FILE holds `{"fields": {…}, "consent": {…}}` as JSON
    /// (see the README for the consent declaration).
    Submit {
        #[command(flatten)]
        client: ClientArgs,
        /// The form's name.
        #[arg(long, default_value = "registration")]
        form: String,
        /// JSON file: `{"fields": {id: value}, "consent": {signed_on, valid_until, roles,
        /// categories, document}, "monitor": {"client_group", "origin_municipality"}}`
        /// (`monitor` optional).
        file: PathBuf,
    },
    /// Re-share a case's fields to new parties (coordinator): opens your slice locally and
    /// sends each recipient exactly what the policy grants its role.
    Share {
        #[command(flatten)]
        client: ClientArgs,
        /// Your organisation's age identity file.
        #[arg(long, short)]
        identity: PathBuf,
        /// Recipient organisation ids, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        to: Vec<String>,
        /// Case id.
        case: String,
    },
    /// Download your slice of a case and open it locally; prints JSON.
    Pull {
        #[command(flatten)]
        client: ClientArgs,
        /// Your organisation's age identity file.
        #[arg(long, short)]
        identity: PathBuf,
        /// Also keep the downloaded age files in this directory.
        #[arg(long)]
        save: Option<PathBuf>,
        /// Why you open it: a purpose of the policy (`sluis policy show` lists them), e.g.
        /// `matching`. The access log records it.
        #[arg(long)]
        purpose: String,
        /// Case id.
        case: String,
    },
    /// After `org set-recipient`: seal your organisation's copies of its cases again to the new
    /// key (opened here with the old identity, sealed by the broker to the new recipient).
    /// Safe to repeat; afterwards the old identity can be destroyed.
    Rekey {
        #[command(flatten)]
        client: ClientArgs,
        /// The old age identity file.
        #[arg(long, short)]
        identity: PathBuf,
        /// The new age identity file (its recipient must be the one registered now).
        #[arg(long)]
        new_identity: PathBuf,
        /// Case ids; all of your organisation's cases when none are given.
        cases: Vec<String>,
    },
    /// Coordinator: assess a registration (accept, reject, request_info).
    Assess {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id.
        case: String,
        /// `accept`, `reject` or `request_info`.
        #[arg(long, value_parser = ["accept", "reject", "request_info"])]
        decision: String,
        /// JSON file with assessment form values (a rejection needs `decision_reason`).
        #[arg(long)]
        fields: Option<PathBuf>,
    },
    /// Coordinator: refer a case to municipalities; they and the corporations with homes there
    /// become parties, each sent what its role may see (opened and re-shared by your client).
    Refer {
        #[command(flatten)]
        client: ClientArgs,
        /// Your organisation's age identity file.
        #[arg(long, short)]
        identity: PathBuf,
        /// Municipality organisation ids, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        municipality: Vec<String>,
        /// Case id.
        case: String,
    },
    /// Corporation: report a home for a referred case.
    Match {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id.
        case: String,
        /// The municipality of the home.
        #[arg(long)]
        municipality: String,
        /// `regular`, `youth_room` or `youth_studio`.
        #[arg(long, default_value = "regular")]
        kind: String,
    },
    /// Corporation: the lease is signed and the keys handed over.
    Housed {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id.
        case: String,
        /// Key handover date, YYYY-MM-DD.
        #[arg(long)]
        key_handover: String,
    },
    /// Care organisation: upload a half-yearly evaluation (art. 9.10).
    Evaluate {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id.
        case: String,
        /// Half-year: 1 or 2.
        #[arg(long)]
        period: i64,
        /// The evaluation report (PDF or text).
        #[arg(long)]
        report: PathBuf,
    },
    /// Care organisation: report changes (art. 6, 12); FILE holds field id → new value.
    ReportChange {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id.
        case: String,
        /// JSON file with the changed fields.
        file: PathBuf,
    },
    /// Care organisation: upload a document later (the perspective plan), streamed.
    Upload {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id.
        case: String,
        /// The document field.
        #[arg(long, default_value = "perspective_plan")]
        field: String,
        /// The file to upload.
        file: PathBuf,
    },
    /// Corporation: convert the triangle lease to a regular one (art. 4).
    ConvertLease {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id.
        case: String,
    },
    /// Coordinator or corporation: end a case.
    End {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id.
        case: String,
    },
    /// The client's consent: show it (also as FHIR) or withdraw it.
    Consent {
        #[command(subcommand)]
        command: ConsentCommand,
    },
    /// The annual monitor (art. 17) for a period: all of it for the coordinator, the privacy
    /// officer and the admin, your own rows for a party.
    Monitor {
        #[command(flatten)]
        client: ClientArgs,
        /// `2026`, `2026-H1` or `2026-H2`.
        #[arg(long)]
        period: String,
        /// `table` (default), `json`, `csv` or `svg`.
        #[arg(long, default_value = "table", value_parser = ["table", "json", "csv", "svg"])]
        format: String,
        /// Write to this file instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Report your organisation's counts for the monitor for a period (e.g. `rent_arrears=3`);
    /// replaces what you reported before for the same counts.
    ReportCounts {
        #[command(flatten)]
        client: ClientArgs,
        /// `2026`, `2026-H1` or `2026-H2`.
        #[arg(long)]
        period: String,
        /// `indicator=count` pairs (`sluis policy show` lists your role's indicators).
        #[arg(required = true)]
        counts: Vec<String>,
    },
    /// The load harness: starts `sluis serve` on 127.0.0.1 on a fresh database and measures
    /// submissions, slice downloads and a trivial endpoint at several concurrencies, each beside
    /// its baseline from the same run (BENCHMARKS.md). Bounded in requests and time.
    Bench {
        /// Database URL (a fresh SQLite file in a temp directory if not given); use an empty
        /// PostgreSQL database — the harness enrols the parties into it.
        #[arg(long)]
        database: Option<String>,
        /// Concurrent clients, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
        clients: Vec<usize>,
        /// At most this many seconds per measurement.
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
        /// At most this many requests per measurement (a quarter of it for submissions).
        #[arg(long, default_value_t = 40_000)]
        max_requests: usize,
        /// Events in the access log when the per-client access report is timed (the harness
        /// appends fictional ones up to this number).
        #[arg(long, default_value_t = 1_000_000)]
        log_events: u64,
        /// Also write the records as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// What changed for your organisation.
    Inbox {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Health probe for containers: exit 0 if the URL answers 2xx (e.g. /readyz).
    Probe {
        /// The URL to ask.
        #[arg(default_value = "http://127.0.0.1:8080/readyz")]
        url: String,
    },
    /// Play one fictional case through a fresh embedded broker and write what each party got.
    Demo {
        /// Output directory.
        #[arg(long, default_value = "demo-out")]
        out: PathBuf,
        #[command(flatten)]
        policy: PolicyArgs,
    },
}

#[derive(Debug, Subcommand)]
enum ConsentCommand {
    /// Print the consent record (`--fhir`: as an HL7 FHIR R5 Consent resource).
    Show {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id.
        case: String,
        /// As FHIR JSON.
        #[arg(long)]
        fhir: bool,
    },
    /// Withdraw the client's consent: at once, for everyone; the case's ciphertexts are deleted.
    Withdraw {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id.
        case: String,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute the log's hashes and tree and check every checkpoint; exit 1 naming the first
    /// bad sequence number. With --checkpoint and --proofs-from, check instead that a kept
    /// checkpoint is a prefix of what a broker serves now.
    Verify {
        #[command(flatten)]
        db: DbArgs,
        /// The broker's signing key (its public half verifies the checkpoints).
        #[arg(long, env = "SLUIS_SIGNING_KEY_FILE", conflicts_with = "vkey")]
        signing_key: Option<PathBuf>,
        /// Signing keys rotated out, whose checkpoints still count.
        #[arg(long, env = "SLUIS_PREVIOUS_SIGNING_KEY_FILES", value_delimiter = ',')]
        previous_signing_key: Vec<PathBuf>,
        /// The log's note verifier key (`GET /v1/audit/vkey`); repeat for keys rotated out.
        #[arg(long)]
        vkey: Vec<String>,
        /// The log's origin.
        #[arg(long, env = "SLUIS_LOG_ORIGIN", default_value = api::DEFAULT_LOG_ORIGIN)]
        log_origin: String,
        /// A checkpoint note kept earlier.
        #[arg(long, requires = "proofs_from")]
        checkpoint: Option<PathBuf>,
        /// Broker to fetch the latest checkpoint and the consistency proof from.
        #[arg(long, requires = "checkpoint")]
        proofs_from: Option<String>,
    },
    /// Query events (privacy officer).
    Events {
        #[command(flatten)]
        client: ClientArgs,
        /// Only this organisation.
        #[arg(long)]
        org: Option<String>,
        /// Only this case.
        #[arg(long)]
        case: Option<String>,
        /// Only this client pseudonym.
        #[arg(long)]
        client_pseudonym: Option<String>,
        /// Only this user (id): which client files did this employee open.
        #[arg(long)]
        user: Option<String>,
        /// Only this action (create, read, share, login, search, export, ...).
        #[arg(long)]
        action: Option<String>,
        /// Only this outcome (allowed, denied, error).
        #[arg(long)]
        outcome: Option<String>,
        /// `table`, `json`, `jsonl` or `csv`.
        #[arg(long, default_value = "table", value_parser = ["table", "json", "jsonl", "csv"])]
        format: String,
    },
    /// A client's access report (AVG art. 15), each event checked against a fresh checkpoint.
    Report {
        #[command(flatten)]
        client: ClientArgs,
        /// Client pseudonym.
        pseudonym: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Signals worth a look: denied attempts, many clients in a day, downloads outside office
    /// hours, most-viewed clients.
    Signals {
        #[command(flatten)]
        client: ClientArgs,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Sign a checkpoint now.
    Checkpoint {
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCommand {
    /// Print the policy (the matrix with its articles, forms, parties).
    Show {
        /// As JSON (the same document as GET /v1/policy).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Validate the policy; exit 1 with the problem if it is inconsistent.
    Check {
        #[command(flatten)]
        policy: PolicyArgs,
    },
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Enrol one organisation.
    Add {
        /// Organisation id (lower-case letters, digits, `-`).
        id: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// Role from the policy.
        #[arg(long)]
        role: String,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Enrol every party of the policy's enrolment file not yet enrolled.
    Enrol {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Register an organisation's age recipient (public key).
    SetRecipient {
        /// Organisation id.
        id: String,
        /// The recipient (`age1…`), as printed by `sluis keygen` or `age-keygen -y`.
        recipient: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Disable or enable an organisation.
    SetDisabled {
        /// Organisation id.
        id: String,
        /// `true` or `false`.
        #[arg(action = clap::ArgAction::Set)]
        disabled: bool,
        #[command(flatten)]
        db: DbArgs,
    },
    /// List organisations.
    List {
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Add a user to an organisation.
    Add {
        /// Login name.
        username: String,
        /// Organisation id.
        #[arg(long)]
        org: String,
        /// Role from the policy (default: the organisation's role).
        #[arg(long)]
        role: Option<String>,
        /// Read a password from this file (for people; systems use API keys).
        #[arg(long)]
        password_file: Option<PathBuf>,
        /// Read a password from standard input.
        #[arg(long, conflicts_with = "password_file")]
        password_stdin: bool,
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Delete a user and its API keys.
    Delete {
        /// Login name.
        username: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Disable or enable a user.
    SetDisabled {
        /// Login name.
        username: String,
        /// `true` or `false`.
        #[arg(action = clap::ArgAction::Set)]
        disabled: bool,
        #[command(flatten)]
        db: DbArgs,
    },
}

#[derive(Debug, Subcommand)]
enum ApikeyCommand {
    /// Make an API key for a user; printed once.
    Create {
        /// Login name of the user.
        username: String,
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    if !matches!(cli.command, Command::Serve(_)) {
        crate::telemetry::init_from_env();
    }
    match cli.command {
        Command::Serve(args) => {
            let settings = args.sources()?.settings()?;
            crate::telemetry::init(settings.log_format, &settings.log_filter);
            serve(settings).await
        }
        Command::Config {
            command: ConfigCommand::Check(args),
        } => config_check(&args).await,
        Command::Audit { command } => audit::run(command).await,
        Command::Backup { db, out } => {
            let store = connect(&db).await?;
            store
                .backup_to(&out)
                .await
                .with_context(|| format!("backing up to {}", out.display()))?;
            store.close().await;
            println!("backed up {} to {}", redact_url(&db.url()?), out.display());
            Ok(())
        }
        Command::Restore {
            from,
            to,
            signing_key,
            log_origin,
        } => {
            if to.exists() {
                bail!("{} exists; restore into a new file", to.display());
            }
            std::fs::copy(&from, &to)
                .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
            let url = format!("sqlite://{}", to.display());
            let store = Store::connect(&url).await?;
            let log = store.audit_log().await?;
            let notes = store.checkpoint_notes().await?;
            store.close().await;
            let keys = signing_key
                .iter()
                .map(|p| Ok(SigningKey::from_pem_file(p)?.verifier_key(&log_origin)))
                .collect::<Result<Vec<_>>>()?;
            if keys.is_empty() {
                bail!("give the broker's --signing-key to verify the restored access log");
            }
            let report = crate::audit::verify(&log, &notes, &keys);
            if let Some(problem) = report.first_problem {
                bail!(
                    "restored to {}, but its access log does not verify: {problem}",
                    to.display()
                );
            }
            println!(
                "restored to {url}: {} events, {} checkpoints verified",
                report.events, report.checkpoints
            );
            Ok(())
        }
        Command::Probe { url } => {
            let status = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(5))
                .build()?
                .get(&url)
                .send()
                .await
                .with_context(|| format!("probing {url}"))?
                .status();
            if !status.is_success() {
                bail!("{url} answered {status}");
            }
            println!("{url}: {status}");
            Ok(())
        }
        command @ (Command::Assess { .. }
        | Command::Refer { .. }
        | Command::Match { .. }
        | Command::Housed { .. }
        | Command::Evaluate { .. }
        | Command::ReportChange { .. }
        | Command::Upload { .. }
        | Command::ConvertLease { .. }
        | Command::End { .. }
        | Command::Consent { .. }
        | Command::Inbox { .. }) => lifecycle::run(command).await,
        Command::Migrate { db } => {
            let url = db.url()?;
            let store = Store::open(&url, true)
                .await
                .with_context(|| format!("migrating {}", redact_url(&url)))?;
            store.close().await;
            println!("database {} is up to date", redact_url(&url));
            Ok(())
        }
        Command::Policy { command } => match command {
            PolicyCommand::Show { json, policy } => {
                let p = load_policy(&policy.dir)?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&p.to_json())?);
                } else {
                    print!("{}", p.to_text());
                }
                Ok(())
            }
            PolicyCommand::Check { policy } => {
                let p = load_policy(&policy.dir)?;
                println!(
                    "policy {} is valid: {} categories, {} fields, {} parties",
                    p.version,
                    p.categories.len(),
                    p.fields.len(),
                    p.parties.len()
                );
                Ok(())
            }
        },
        Command::Org { command } => org(command).await,
        Command::User { command } => user(command).await,
        Command::Apikey {
            command: ApikeyCommand::Create { username, db },
        } => {
            let store = connect(&db).await?;
            let user = store
                .user_by_name(&username)
                .await?
                .with_context(|| format!("no user `{username}`"))?;
            let key = auth::new_api_key();
            store
                .add_api_key(
                    &key.id,
                    &user.id,
                    &key.digest,
                    Event::admin(format!("api key {} for {username}", key.id)),
                )
                .await?;
            println!("{}", key.token.expose());
            eprintln!(
                "API key for {username} ({}): shown once, store it safely.",
                user.org_id
            );
            Ok(())
        }
        Command::Keygen { kind, out } => keygen(&kind, &out),
        Command::Submit { client, form, file } => {
            let text = zeroize::Zeroizing::new(
                std::fs::read_to_string(&file)
                    .with_context(|| format!("reading {}", file.display()))?,
            );
            let body: serde_json::Value = serde_json::from_str(&text)
                .map_err(|e| anyhow::anyhow!("{}: not JSON (line {})", file.display(), e.line()))?;
            let (Some(fields), Some(consent)) = (body.get("fields"), body.get("consent")) else {
                bail!(
                    "{}: expected {{\"fields\": {{…}}, \"consent\": {{…}}}}",
                    file.display()
                );
            };
            let mut request =
                serde_json::json!({"form": form, "fields": fields, "consent": consent});
            if let Some(monitor) = body.get("monitor") {
                request["monitor"] = monitor.clone();
            }
            let answer = login(&client)
                .await?
                .post_json("/v1/cases", &request)
                .await
                .map_err(explain)?;
            println!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(())
        }
        Command::Share {
            client,
            identity,
            to,
            case,
        } => {
            let identity = read_identity(&identity)?;
            let c = login(&client).await?;
            let policy = Policy::from_json(c.policy_json().await?)?;
            let answer = c
                .reshare(&case, &identity, &policy, &to)
                .await
                .map_err(explain)?;
            println!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(())
        }
        Command::Pull {
            client,
            identity,
            save,
            purpose,
            case,
        } => {
            let identity = read_identity(&identity)?;
            let c = login(&client).await?;
            let policy = Policy::from_json(c.policy_json().await?)?;
            let slice = c.slice(&case, &purpose).await.map_err(explain)?;
            if let Some(dir) = save {
                std::fs::create_dir_all(&dir)?;
                for f in &slice.fields {
                    std::fs::write(dir.join(format!("{}.age", f.field)), client::ciphertext(f)?)?;
                }
            }
            let opened = client::open_slice(&slice, &identity, &policy)?;
            println!("{}", opened.to_json().as_str());
            Ok(())
        }
        Command::Bench {
            database,
            clients,
            seconds,
            max_requests,
            log_events,
            json,
            policy,
        } => {
            let options = crate::bench::Options {
                database,
                levels: clients,
                seconds,
                max_requests,
                log_events,
                binary: std::env::current_exe().context("finding the sluis binary")?,
                policy_dir: policy.dir,
            };
            let records = crate::bench::run(&options).await?;
            print!("{}", crate::bench::table(&records));
            if let Some(path) = json {
                crate::bench::write_json(&records, &path)?;
            }
            Ok(())
        }
        Command::Monitor {
            client,
            period,
            format,
            out,
        } => {
            let c = login(&client).await?;
            let path = |f: &str| format!("/v1/monitor?period={period}&format={f}");
            let text = match format.as_str() {
                "table" => {
                    let json = c.get_json(&path("json")).await.map_err(explain)?;
                    let monitor: crate::monitor::Monitor = serde_json::from_value(json)
                        .context("the broker's monitor has an unexpected shape")?;
                    monitor.to_text()
                }
                "json" => serde_json::to_string_pretty(
                    &c.get_json(&path("json")).await.map_err(explain)?,
                )?,
                other => c.get_text(&path(other)).await.map_err(explain)?,
            };
            match out {
                Some(file) => {
                    std::fs::write(&file, text)
                        .with_context(|| format!("writing {}", file.display()))?;
                }
                None => print!("{text}"),
            }
            Ok(())
        }
        Command::ReportCounts {
            client,
            period,
            counts,
        } => {
            let mut map = serde_json::Map::new();
            for pair in &counts {
                let (k, v) = pair
                    .split_once('=')
                    .with_context(|| format!("`{pair}` is not indicator=count"))?;
                let n: i64 = v
                    .parse()
                    .with_context(|| format!("the count of `{k}` is not a whole number"))?;
                map.insert(k.to_owned(), serde_json::json!(n));
            }
            let answer = login(&client)
                .await?
                .post_json(
                    "/v1/monitor/reports",
                    &serde_json::json!({"period": period, "counts": map}),
                )
                .await
                .map_err(explain)?;
            println!("{}", serde_json::to_string_pretty(&answer)?);
            Ok(())
        }
        Command::Rekey {
            client,
            identity,
            new_identity,
            cases,
        } => {
            let old = read_identity(&identity)?;
            let new = read_identity(&new_identity)?;
            let c = login(&client).await?;
            let policy = Policy::from_json(c.policy_json().await?)?;
            let cases = if cases.is_empty() {
                c.get_json("/v1/cases")
                    .await
                    .map_err(explain)?
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|case| case["id"].as_str().map(str::to_owned))
                    .collect()
            } else {
                cases
            };
            let (mut rekeyed, mut already) = (0, 0);
            for case in &cases {
                let done = c.rekey(case, &old, &new, &policy).await.map_err(explain)?;
                println!(
                    "{case}: {} sealed to the new key, {} already were{}",
                    done.rekeyed,
                    done.already,
                    if done.withheld > 0 {
                        format!(
                            ", {} categories withheld by consent left as they are",
                            done.withheld
                        )
                    } else {
                        String::new()
                    }
                );
                rekeyed += done.rekeyed;
                already += done.already;
            }
            println!(
                "{} cases: {rekeyed} files sealed to the new key, {already} already were",
                cases.len()
            );
            Ok(())
        }
        Command::Demo { out, policy } => {
            let p = load_policy(&policy.dir)?;
            let report = crate::demo::run(&out, p.clone()).await?;
            print!("{}", crate::demo::summary(&report, &p, &out));
            Ok(())
        }
    }
}

fn explain(e: client::ClientError) -> anyhow::Error {
    match &e {
        client::ClientError::Problem { errors, .. } if !errors.is_empty() => {
            let lines: Vec<String> = errors
                .iter()
                .map(|p| format!("  {}: {}", p.field, p.problem))
                .collect();
            anyhow::anyhow!("{e}\n{}", lines.join("\n"))
        }
        _ => e.into(),
    }
}

fn read_pseudonym_key(path: &Path) -> Result<Pseudonymiser> {
    let secret = zeroize::Zeroizing::new(
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    );
    Pseudonymiser::new(&secret).context("the pseudonym secret needs at least 32 bytes")
}

fn load_policy(dir: &Path) -> Result<Policy> {
    Ok(Policy::load_dir(dir)?)
}

async fn connect(db: &DbArgs) -> Result<Store> {
    connect_with(&db.settings()?).await
}

async fn connect_with(settings: &Settings) -> Result<Store> {
    let url = url_of(settings)?;
    Store::open(&url, settings.migrate)
        .await
        .with_context(|| format!("opening database {}", redact_url(&url)))
}

/// Prints every effective setting with its source, then checks each file a setting names.
async fn config_check(args: &ServeArgs) -> Result<()> {
    let sources = args.sources()?;
    let settings = sources.settings()?;
    for key in config::KEYS {
        println!(
            "{key} = {}  # {}",
            settings.show(key),
            sources.source_of(key)
        );
    }
    let mut problems = Vec::new();
    let mut check = |what: &str, result: Result<()>| match result {
        Ok(()) => println!("ok: {what}"),
        Err(e) => problems.push(format!("{what}: {e:#}")),
    };
    check(
        "database URL",
        url_of(&settings).and_then(|url| {
            if config::is_database_url(&url) {
                Ok(())
            } else {
                bail!("it must start with sqlite:, postgres:// or postgresql://")
            }
        }),
    );
    check("policy", load_policy(&settings.policy_dir).map(drop));
    let keys = settings
        .signing_key_file
        .iter()
        .chain(&settings.previous_signing_key_files);
    for path in keys {
        check(
            &format!("signing key {}", path.display()),
            SigningKey::from_pem_file(path)
                .map(drop)
                .map_err(Into::into),
        );
    }
    if let Some(path) = &settings.pseudonym_key_file {
        check("pseudonym secret", read_pseudonym_key(path).map(drop));
    }
    if let (Some(cert), Some(key)) = (&settings.tls_cert_file, &settings.tls_key_file) {
        let files = api::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        };
        check(
            "TLS certificate and key",
            files.check().await.map_err(Into::into),
        );
    }
    if problems.is_empty() {
        println!("configuration ok");
        Ok(())
    } else {
        for p in &problems {
            println!("error: {p}");
        }
        bail!("{} problem(s) in the configuration", problems.len())
    }
}

async fn serve(settings: Settings) -> Result<()> {
    let previous_keys = settings
        .previous_signing_key_files
        .iter()
        .map(|p| SigningKey::from_pem_file(p))
        .collect::<Result<Vec<_>, _>>()?;
    let policy = load_policy(&settings.policy_dir)?;
    let pseudonyms = match &settings.pseudonym_key_file {
        Some(path) => read_pseudonym_key(path)?,
        None => {
            tracing::warn!(
                "no pseudonym secret configured (pseudonym_key_file): client pseudonyms hold only until restart"
            );
            Pseudonymiser::ephemeral()
        }
    };
    let signing = match &settings.signing_key_file {
        Some(path) => SigningKey::from_pem_file(path)?,
        None => {
            tracing::warn!(
                "no signing key configured (signing_key_file): using a fresh key; tokens end with this process"
            );
            SigningKey::ephemeral()
        }
    };
    let store = connect_with(&settings).await?;
    let url = &url_of(&settings)?;
    tracing::info!(policy = %policy.version, database = %redact_url(url), backend = ?store.backend(), "starting");
    let state = AppState {
        store: store.clone(),
        policy: Arc::new(policy),
        signing: Arc::new(signing),
        previous_keys: Arc::new(previous_keys),
        pseudonyms: Arc::new(pseudonyms),
        log_origin: Arc::from(settings.log_origin.as_str()),
        login_limits: crate::auth::LoginLimits {
            window_secs: settings.login_window_secs,
            slow_after: settings.login_slow_after,
            refuse_after: settings.login_refuse_after,
            ..crate::auth::LoginLimits::default()
        },
        rate: api::RateLimit {
            per_second: settings.rate_per_second,
            burst: settings.rate_burst,
        },
    };
    let listen = settings.listen;
    let tls = settings
        .tls_cert_file
        .clone()
        .zip(settings.tls_key_file.clone())
        .map(|(cert, key)| api::TlsFiles { cert, key });
    let checkpoints = tokio::spawn(api::checkpoint_periodically(
        state.clone(),
        std::time::Duration::from_secs(settings.checkpoint_interval.max(1)),
    ));
    match tls {
        Some(tls) => {
            let listener =
                std::net::TcpListener::bind(listen).with_context(|| format!("binding {listen}"))?;
            tracing::info!(address = %listener.local_addr()?, "listening (TLS)");
            api::serve_tls(listener, state, &tls, shutdown_signal()).await?;
        }
        None => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("binding {listen}"))?;
            tracing::info!(address = %listener.local_addr()?, "listening");
            api::serve(listener, state, shutdown_signal()).await?;
        }
    }
    checkpoints.abort();
    store.close().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}

async fn org(command: OrgCommand) -> Result<()> {
    match command {
        OrgCommand::Add {
            id,
            name,
            role,
            db,
            policy,
        } => {
            let policy = load_policy(&policy.dir)?;
            if !is_org_id(&id) {
                bail!("organisation id `{id}` must be lower-case letters, digits and `-`");
            }
            if !policy.roles.contains_key(&role) {
                bail!(
                    "unknown role `{role}`; the policy knows: {}",
                    policy.roles.keys().cloned().collect::<Vec<_>>().join(", ")
                );
            }
            connect(&db)
                .await?
                .add_organisation(
                    &id,
                    &name,
                    &role,
                    Event::admin(format!("enrol {id} ({role})")),
                )
                .await?;
            println!("enrolled {id} ({role})");
        }
        OrgCommand::Enrol { db, policy } => {
            let policy = load_policy(&policy.dir)?;
            let store = connect(&db).await?;
            for (id, party) in &policy.parties {
                if store.organisation(id).await?.is_none() {
                    store
                        .add_organisation(
                            id,
                            &party.name,
                            &party.role,
                            Event::admin(format!("enrol {id} ({})", party.role)),
                        )
                        .await?;
                    println!("enrolled {id} ({})", party.role);
                }
            }
        }
        OrgCommand::SetRecipient { id, recipient, db } => {
            let recipient: Recipient = recipient.parse().context("recipient")?;
            connect(&db)
                .await?
                .set_recipient(
                    &id,
                    &recipient.to_string(),
                    Event::admin(format!("recipient of {id}: {recipient}")),
                )
                .await
                .with_context(|| format!("organisation `{id}`"))?;
            println!("recipient of {id} set to {recipient}");
        }
        OrgCommand::SetDisabled { id, disabled, db } => {
            connect(&db)
                .await?
                .set_organisation_disabled(
                    &id,
                    disabled,
                    Event::admin(format!("organisation {id} disabled: {disabled}")),
                )
                .await
                .with_context(|| format!("organisation `{id}`"))?;
            println!("{id} disabled: {disabled}");
        }
        OrgCommand::List { db } => {
            for o in connect(&db).await?.organisations().await? {
                let key = o.recipient.as_deref().unwrap_or("(no recipient key)");
                let state = if o.disabled { " [disabled]" } else { "" };
                println!("{:<20} {:<16} {key}{state}  {}", o.id, o.role, o.name);
            }
        }
    }
    Ok(())
}

async fn user(command: UserCommand) -> Result<()> {
    match command {
        UserCommand::Add {
            username,
            org,
            role,
            password_file,
            password_stdin,
            db,
            policy,
        } => {
            let policy = load_policy(&policy.dir)?;
            let store = connect(&db).await?;
            let organisation = store
                .organisation(&org)
                .await?
                .with_context(|| format!("no organisation `{org}`"))?;
            let role = role.unwrap_or_else(|| organisation.role.clone());
            if !policy.roles.contains_key(&role) {
                bail!("unknown role `{role}`");
            }
            let password = match (password_file, password_stdin) {
                (Some(path), _) => Some(read_secret_file(&path)?),
                (None, true) => {
                    let mut s = String::new();
                    std::io::stdin().read_to_string(&mut s)?;
                    Some(Secret::new(s.trim_end_matches(['\r', '\n']).to_owned()))
                }
                (None, false) => None,
            };
            let password_hash = match password {
                Some(p) if p.expose().chars().count() < 12 => {
                    bail!("a password needs at least 12 characters")
                }
                Some(p) => Some(auth::hash_password(&p)?),
                None => None,
            };
            store
                .add_user(
                    &User {
                        id: uuid::Uuid::new_v4().to_string(),
                        username: username.clone(),
                        org_id: org.clone(),
                        role: role.clone(),
                        password_hash,
                        disabled: false,
                    },
                    Event::admin(format!("user {username} in {org} as {role}")),
                )
                .await
                .with_context(|| format!("adding user `{username}`"))?;
            println!("added user {username} to {org} as {role}");
        }
        UserCommand::Delete { username, db } => {
            connect(&db)
                .await?
                .delete_user(&username, Event::admin(format!("user {username} deleted")))
                .await
                .with_context(|| format!("user `{username}`"))?;
            println!("deleted user {username}");
        }
        UserCommand::SetDisabled {
            username,
            disabled,
            db,
        } => {
            connect(&db)
                .await?
                .set_user_disabled(
                    &username,
                    disabled,
                    Event::admin(format!("user {username} disabled: {disabled}")),
                )
                .await
                .with_context(|| format!("user `{username}`"))?;
            println!("{username} disabled: {disabled}");
        }
    }
    Ok(())
}

fn keygen(kind: &str, out: &Path) -> Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(out)
        .with_context(|| format!("creating {} (it must not exist yet)", out.display()))?;
    if kind == "pseudonym" {
        let mut secret = zeroize::Zeroizing::new([0u8; 32]);
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), secret.as_mut())
            .map_err(|_| anyhow::anyhow!("no system randomness"))?;
        file.write_all(secret.as_ref())?;
        eprintln!(
            "wrote the client pseudonym secret to {}; keep it apart from the database",
            out.display()
        );
    } else if kind == "signing" {
        let pkcs8 = SigningKey::generate_pkcs8();
        file.write_all(SigningKey::to_pem(&pkcs8).as_bytes())?;
        eprintln!(
            "wrote the broker's signing key (tokens and checkpoints) to {}",
            out.display()
        );
    } else {
        let identity = Identity::generate();
        file.write_all(identity.to_file_text(&now_text()).as_bytes())?;
        eprintln!(
            "wrote an age identity to {}; register its public key with `sluis org set-recipient`:",
            out.display()
        );
        println!("{}", identity.recipient());
    }
    Ok(())
}

fn read_identity(path: &Path) -> Result<Identity> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    Ok(Identity::from_file_text(&text)?)
}

fn read_secret_file(path: &Path) -> Result<Secret> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Secret::new(text.trim_end_matches(['\r', '\n']).to_owned()))
}

async fn login(args: &ClientArgs) -> Result<Client> {
    let credentials = match (&args.username, &args.api_key_file) {
        (Some(username), _) => {
            let password = match &args.password_file {
                Some(p) => read_secret_file(p)?,
                None => Secret::new(
                    std::env::var("SLUIS_PASSWORD")
                        .context("set SLUIS_PASSWORD or --password-file")?,
                ),
            };
            Credentials::Password {
                username: username.clone(),
                password,
            }
        }
        (None, Some(path)) => Credentials::ApiKey(read_secret_file(path)?),
        (None, None) => Credentials::ApiKey(Secret::new(
            std::env::var("SLUIS_API_KEY")
                .context("give --api-key-file, SLUIS_API_KEY, or --username")?,
        )),
    };
    Client::new(&args.server)
        .login(&credentials)
        .await
        .map_err(explain)
}
