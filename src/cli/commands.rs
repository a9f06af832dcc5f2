//! The command line's shape: every verb, its flags and their environment variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use clap::{Args, Parser, Subcommand};

use crate::config::{self, Settings};

/// Sluis: the privacy-first exchange of the Westfriesland outflow arrangement.
#[derive(Debug, Parser)]
#[command(name = "sluis", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Debug, Args)]
pub(super) struct DbArgs {
    /// Configuration file (TOML; every key is in deploy/README.md). Environment variables and flags
    /// override it.
    #[arg(long, env = "SLUIS_CONFIG")]
    pub(super) config: Option<PathBuf>,
    /// Database URL: `sqlite://FILE` (embedded) or `postgres://…` (else `database_url` from the
    /// configuration or `DATABASE_URL`; default `sqlite://sluis.db`).
    #[arg(long = "database")]
    pub(super) url: Option<String>,
    /// A file holding the database URL (with its password), instead of `--database`
    /// (`DATABASE_URL_FILE`).
    #[arg(long = "database-file")]
    pub(super) url_file: Option<PathBuf>,
    /// Apply the schema migrations when connecting (default true; `SLUIS_MIGRATE`). Set to
    /// false where the broker's PostgreSQL role may not change the schema (then run
    /// `sluis migrate` as the owner).
    #[arg(long, action = clap::ArgAction::Set)]
    pub(super) migrate: Option<bool>,
}

impl DbArgs {
    /// The configuration sources with these flags (and `extra` flags) on top.
    pub(super) fn sources(&self, mut extra: toml::Table) -> Result<config::Sources> {
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
    pub(super) fn settings(&self) -> Result<Settings> {
        Ok(self.sources(toml::Table::new())?.settings()?)
    }

    /// The database URL: from `database_url_file` if set, else `database_url`.
    pub(super) fn url(&self) -> Result<String> {
        url_of(&self.settings()?)
    }
}

pub(super) fn url_of(settings: &Settings) -> Result<String> {
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
pub(super) struct PolicyArgs {
    /// Directory with policy.toml, forms/ and parties.toml; else `policy_dir` of the
    /// configuration (file, `SLUIS_POLICY_DIR`; default `policy`).
    #[arg(long = "policy")]
    pub(super) flag: Option<PathBuf>,
}

impl PolicyArgs {
    /// The policy directory: the flag, else the configuration's `policy_dir` (with `db`'s
    /// `--config`, or the environment alone).
    pub(super) fn dir(&self, db: Option<&DbArgs>) -> Result<PathBuf> {
        if let Some(dir) = &self.flag {
            return Ok(dir.clone());
        }
        let settings = match db {
            Some(db) => db.settings()?,
            None => config::Sources::gather(None, &toml::Table::new())?.settings()?,
        };
        Ok(settings.policy_dir)
    }
}

#[derive(Debug, Args)]
pub(super) struct ClientArgs {
    /// The broker's base URL.
    #[arg(long, env = "SLUIS_SERVER", default_value = "http://127.0.0.1:8080")]
    pub(super) server: String,
    /// File holding an API key (`sluis_…`); or set SLUIS_API_KEY.
    #[arg(long)]
    pub(super) api_key_file: Option<PathBuf>,
    /// Log in as this user instead; the password comes from SLUIS_PASSWORD or --password-file.
    #[arg(long)]
    pub(super) username: Option<String>,
    /// File holding the user's password.
    #[arg(long)]
    pub(super) password_file: Option<PathBuf>,
    /// CA certificate(s) (PEM) to trust for the broker's TLS, besides the public and the
    /// system's roots: a broker under an organisation's own CA.
    #[arg(long, env = "SLUIS_CA_FILE")]
    pub(super) ca_file: Option<PathBuf>,
}

/// Everything `sluis serve` takes: the configuration file and a few flags that override it.
#[derive(Debug, Args)]
pub(super) struct ServeArgs {
    #[command(flatten)]
    pub(super) db: DbArgs,
    /// Address to listen on (`listen`).
    #[arg(long)]
    pub(super) listen: Option<SocketAddr>,
    /// Directory with policy.toml, forms/ and parties.toml (`policy_dir`).
    #[arg(long = "policy")]
    pub(super) policy_dir: Option<PathBuf>,
    /// Ed25519 PKCS#8 PEM key that signs access tokens and checkpoints (`signing_key_file`).
    #[arg(long)]
    pub(super) signing_key: Option<PathBuf>,
    /// Seconds between signed checkpoints (`checkpoint_interval`).
    #[arg(long)]
    pub(super) checkpoint_interval: Option<u64>,
}

impl ServeArgs {
    /// The configuration sources with every flag that was given on top.
    pub(super) fn sources(&self) -> Result<config::Sources> {
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
pub(super) enum ConfigCommand {
    /// Validate the configuration (file, environment, flags) and the files it names; print the
    /// effective value of every setting and where it came from, secrets masked.
    Check {
        #[command(flatten)]
        args: ServeArgs,
        /// Also connect to the effective database (a wrong password or host shows here).
        #[arg(long)]
        connect: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum Command {
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
        /// Configuration file (TOML): its `signing_key_file`, `previous_signing_key_files` and
        /// `log_origin` verify the restored log. Environment variables and flags override it.
        #[arg(long, env = "SLUIS_CONFIG")]
        config: Option<PathBuf>,
        /// The broker's signing key (and previous ones, comma-separated) to verify the log with;
        /// else those of the configuration.
        #[arg(long, value_delimiter = ',')]
        signing_key: Vec<PathBuf>,
        /// The log's origin; else `log_origin` of the configuration.
        #[arg(long)]
        log_origin: Option<String>,
    },
    /// Apply the schema migrations and exit (run as the database owner role).
    Migrate {
        #[command(flatten)]
        db: DbArgs,
    },
    /// Delete the age files of every closed case past its retention (policy `[retention]`),
    /// one access event per case, and print a deletion receipt for each: a note signed with
    /// the broker's signing key under the log's origin, which the log's verifier key checks.
    Purge {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        policy: PolicyArgs,
        /// Also write each receipt to DIR/<case>.note.
        #[arg(long)]
        receipts: Option<PathBuf>,
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
        /// `json`: the broker's whole answer; `id`: only the new case's id (for scripts:
        /// `case=$(sluis submit --format id client.json)`).
        #[arg(long, default_value = "json", value_parser = ["json", "id"])]
        format: String,
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
    /// At the organisation, with its identity file: give a colleague the organisation's
    /// identity, wrapped for their own key (after they chose their own password in the
    /// browser), so that they can open fields there. The first member gets it this way; later
    /// ones also from a colleague's browser. Without USERNAME: the people and who holds it.
    Grant {
        #[command(flatten)]
        client: ClientArgs,
        /// The organisation's age identity file.
        #[arg(long, short, requires = "colleague")]
        identity: Option<PathBuf>,
        /// The colleague's login name.
        #[arg(requires = "identity")]
        colleague: Option<String>,
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
        /// The offer: the home's address (sealed to the care organisation and the coordinator).
        #[arg(long)]
        address: String,
        /// The offer: rent per month, whole euros.
        #[arg(long)]
        rent: i64,
        /// The offer: the viewing date, `YYYY-MM-DD`.
        #[arg(long)]
        viewing_on: String,
        /// The offer: extra rental conditions, if any (art. 9.6).
        #[arg(long)]
        conditions: Option<String>,
    },
    /// Care organisation, after the match: apply to the municipality of the home for guidance
    /// or special assistance (art. 9.7); your client re-shares to it what its decision needs.
    Apply {
        #[command(flatten)]
        client: ClientArgs,
        /// Your organisation's age identity file.
        #[arg(long, short)]
        identity: PathBuf,
        /// Case id.
        case: String,
        /// `guidance` or `special_assistance` (policy `[applications]`).
        #[arg(long)]
        kind: String,
        /// What is asked for, and why.
        #[arg(long)]
        request: String,
        /// A document to attach (PDF or text), optional.
        #[arg(long)]
        attachment: Option<PathBuf>,
    },
    /// Municipality of the home: record the decision on an application (art. 8.6, 9.7, 12).
    Decide {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id.
        case: String,
        /// Application id (from `sluis applications CASE`).
        application: String,
        /// `granted`, `refused` or `partly`.
        #[arg(long, value_parser = ["granted", "refused", "partly"])]
        outcome: String,
        /// The date of the decision, `YYYY-MM-DD`.
        #[arg(long)]
        decided_on: String,
        /// The decision's reason (sealed to the care organisation and the coordinator).
        #[arg(long)]
        motivation: String,
    },
    /// A case's applications with their deadlines, or (`--overdue`, coordinator and
    /// municipality) every undecided application past its last day.
    Applications {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id (not with `--overdue`).
        #[arg(required_unless_present = "overdue", conflicts_with = "overdue")]
        case: Option<String>,
        /// The overdue applications instead.
        #[arg(long)]
        overdue: bool,
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
        /// `triangle` (the client's, the corporation's and the municipality's, art. 4) or
        /// `regular`.
        #[arg(long, default_value = "triangle", value_parser = ["triangle", "regular"])]
        lease: String,
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
        /// JSON file with the uniform evaluation form: `eval_living`, `eval_finances`,
        /// `eval_guidance`, `eval_plan_goals`, `eval_next_steps` (and `evaluation_period`).
        #[arg(long)]
        fields: PathBuf,
        /// The evaluation report beside the form (PDF or text), optional.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Corporation or municipality, after the match: signal a problem to the care
    /// organisation and the coordinator (art. 9.9, 12); sealed to those two alone.
    Signal {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id.
        case: String,
        /// `rent_arrears`, `nuisance` or `other`.
        #[arg(long, value_parser = ["rent_arrears", "nuisance", "other"])]
        kind: String,
        /// The date of the signal, `YYYY-MM-DD`.
        #[arg(long)]
        on: String,
        /// What happened.
        #[arg(long)]
        note: String,
    },
    /// Any party: write a message to parties of the case you pick, about a category each
    /// of their roles may see (a case that talks both ways).
    Message {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id.
        case: String,
        /// A party it is for (organisation id); repeat for more.
        #[arg(long, required = true)]
        to: Vec<String>,
        /// The category it is about (`message`: the case's progress; or a category of the
        /// policy, such as `health_care`, which only roles granted it can receive).
        #[arg(long, default_value = "message")]
        about: String,
        /// The message.
        #[arg(long)]
        text: String,
        /// A document to attach (PDF or text), optional.
        #[arg(long)]
        attachment: Option<PathBuf>,
        /// The id of the message it answers.
        #[arg(long)]
        reply_to: Option<String>,
    },
    /// Coordinator (a consultation, art. 9, 15) or municipality of the home (the hand-over,
    /// art. 16): record a meeting's report for the parties that took part, each of which
    /// acknowledges it.
    Report {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id.
        case: String,
        /// `outflow_consultation`, `client_consultation` or `handover`.
        #[arg(long, value_parser = ["outflow_consultation", "client_consultation", "handover"])]
        kind: String,
        /// The day the meeting was held, `YYYY-MM-DD`.
        #[arg(long)]
        held_on: String,
        /// A party that took part (organisation id); repeat for more.
        #[arg(long, required = true)]
        to: Vec<String>,
        /// JSON file with the report form: `consultation_present`, `consultation_problem`,
        /// `consultation_decision`; or `handover_present`, `handover_plan`,
        /// `handover_client_view`.
        #[arg(long)]
        fields: PathBuf,
        /// The signed report as a document (PDF or text), optional.
        #[arg(long)]
        document: Option<PathBuf>,
    },
    /// A participant: acknowledge a report (its approval, art. 15, 16).
    Acknowledge {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id.
        case: String,
        /// Report id (from `sluis messages`).
        report: String,
    },
    /// The case's messages and reports your organisation wrote or received, opened with its
    /// identity, with each report's acknowledgements.
    Messages {
        #[command(flatten)]
        client: ClientArgs,
        /// Your organisation's age identity file.
        #[arg(long, short)]
        identity: PathBuf,
        /// Case id.
        case: String,
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
    /// Corporation: convert the triangle lease to a regular one (art. 4), once its three
    /// conditions are met, each with its day.
    ConvertLease {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id.
        case: String,
        /// The day of the conversion, `YYYY-MM-DD`.
        #[arg(long)]
        converted_on: String,
        /// The day the rent was established as paid on time.
        #[arg(long)]
        rent_paid_on: String,
        /// The day the living behaviour was established as acceptable.
        #[arg(long)]
        living_behaviour_on: String,
        /// The day the perspective plan's housing goals were reached.
        #[arg(long)]
        plan_goals_on: String,
    },
    /// Coordinator or the corporation that matched: end a case, with the reason (art. 9.11,
    /// 10). `replacement_housing` returns it to the coordinator for a new referral instead.
    End {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id.
        case: String,
        /// Why it ends.
        #[arg(long, value_parser = ["lease_ended", "home_swap", "replacement_housing", "moved_on", "other"])]
        reason: String,
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
    /// What changed for your organisation, and what waits for it (deadlines, reports to
    /// acknowledge).
    Inbox {
        #[command(flatten)]
        client: ClientArgs,
        /// Only what is not marked read (the deadlines always).
        #[arg(long)]
        unread: bool,
        /// Mark every notification read, after showing them.
        #[arg(long)]
        mark_read: bool,
    },
    /// The cases your organisation is a party to (the coordinator's list of all of them).
    Cases {
        #[command(flatten)]
        client: ClientArgs,
        /// `table` (default) or `json`.
        #[arg(long, default_value = "table")]
        format: String,
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
        /// Afterwards keep the broker running until Ctrl-C, with a demo person in each main
        /// organisation, so that you can look around in the browser.
        #[arg(long)]
        serve: bool,
        /// Where `--serve` listens.
        #[arg(long, default_value = "127.0.0.1:8080", requires = "serve")]
        listen: std::net::SocketAddr,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum ConsentCommand {
    /// Print the consent record (`--fhir`: as an HL7 FHIR R5 Consent resource).
    Show {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id.
        case: String,
        /// As FHIR JSON.
        #[arg(long)]
        fhir: bool,
        /// Every declaration of the case, oldest first (the chain of renewals).
        #[arg(long)]
        all: bool,
    },
    /// Record the client's new consent declaration for an open case (a renewal, or a wider
    /// scope): FILE holds `{"signed_on", "valid_until", "roles", "categories", "document"}`,
    /// as the `consent` of a submission.
    Renew {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id.
        case: String,
        /// JSON file with the declaration.
        file: PathBuf,
    },
    /// The client's erasure request (AVG art. 17): every party's copies of every case of the
    /// client are deleted at once; prints a signed deletion receipt per case.
    Erase {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id (any case of the client).
        case: String,
    },
    /// Print the deletion receipts kept for a case (of the broker's purges and of erasure
    /// requests), for the client; check one with `sluis audit receipt`.
    Receipts {
        #[command(flatten)]
        client: ClientArgs,
        /// Case id.
        case: String,
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
pub(super) enum AuditCommand {
    /// Recompute the log's hashes and tree and check every checkpoint; exit 1 naming the first
    /// bad sequence number. With --checkpoint and --proofs-from, check instead that a kept
    /// checkpoint is a prefix of what a broker serves now.
    Verify {
        #[command(flatten)]
        db: DbArgs,
        /// The broker's signing key (its public half verifies the checkpoints); else
        /// `signing_key_file` (and `previous_signing_key_files`) of the configuration.
        #[arg(long, conflicts_with = "vkey")]
        signing_key: Option<PathBuf>,
        /// Signing keys rotated out, whose checkpoints still count.
        #[arg(long, value_delimiter = ',')]
        previous_signing_key: Vec<PathBuf>,
        /// The log's note verifier key (`GET /v1/audit/vkey`); repeat for keys rotated out.
        #[arg(long)]
        vkey: Vec<String>,
        /// The log's origin; else `log_origin` of the configuration (file, environment).
        #[arg(long)]
        log_origin: Option<String>,
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
    /// A client's pseudonym from the identifier (the BSN) read from standard input, so it
    /// appears in no command line or shell history; the look-up is logged, the BSN is not.
    Pseudonym {
        #[command(flatten)]
        client: ClientArgs,
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
    /// Expire the access events older than the policy's `[audit] retention_years` (by the
    /// database role that owns the log: the broker's role may not delete): each event's content
    /// goes, its place and hashes stay, so the tree, the checkpoints and the chain still verify.
    /// The database refuses it for events younger than five years.
    Expire {
        #[command(flatten)]
        db: DbArgs,
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Sign a checkpoint now.
    Checkpoint {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Check a deletion receipt (from `sluis purge` or an erasure request) against the log's
    /// verifier key (`GET /v1/audit/vkey`); prints what it states, exit 1 if it does not verify.
    Receipt {
        /// The receipt file.
        file: PathBuf,
        /// The log's verifier key (repeat for keys rotated out).
        #[arg(long, required = true)]
        vkey: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub(super) enum PolicyCommand {
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
pub(super) enum OrgCommand {
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
    /// Set the address an organisation is nudged at by e-mail when something is new in its
    /// inbox (a functional mailbox); `--off` stops the nudges.
    SetNudge {
        /// Organisation id.
        id: String,
        /// The e-mail address.
        #[arg(required_unless_present = "off", conflicts_with = "off")]
        address: Option<String>,
        /// No more nudges for this organisation.
        #[arg(long)]
        off: bool,
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
pub(super) enum UserCommand {
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
pub(super) enum ApikeyCommand {
    /// Make an API key for a user; printed once.
    Create {
        /// Login name of the user.
        username: String,
        #[command(flatten)]
        db: DbArgs,
    },
}
