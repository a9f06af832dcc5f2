//! The broker's settings, from one documented place: built-in defaults, then a TOML file
//! (`--config FILE` or `SLUIS_CONFIG`), then the environment (`SLUIS_<KEY>`, plus the
//! conventional `DATABASE_URL`, `DATABASE_URL_FILE` and `RUST_LOG`), then command-line flags.
//! Secrets are never written into the file: it names the files that hold them.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format as _, Serialized, Toml};
use serde::{Deserialize, Deserializer, Serialize};

/// The access log's origin when none is configured.
pub const DEFAULT_LOG_ORIGIN: &str = "sluis.local/access-log";

/// Hides the password in a database URL, for messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Every setting the broker takes; each key is also `SLUIS_<KEY>` in the environment.
#[derive(Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// `sqlite://FILE` (embedded) or `postgres://…`; may carry a password, so it is masked
    /// whenever shown.
    pub database_url: String,
    /// A file holding the database URL (with its password); wins over `database_url`.
    pub database_url_file: Option<PathBuf>,
    /// Apply schema migrations when connecting (false where the role may not change the schema).
    pub migrate: bool,
    /// Directory with policy.toml, forms/, parties.toml and allocation.toml.
    pub policy_dir: PathBuf,
    /// Ed25519 PKCS#8 PEM key that signs tokens and checkpoints.
    pub signing_key_file: Option<PathBuf>,
    /// Signing keys rotated out; their tokens stay valid until expiry, their checkpoints verify.
    #[serde(deserialize_with = "paths")]
    pub previous_signing_key_files: Vec<PathBuf>,
    /// TLS certificate chain (PEM); with `tls_key_file` the broker speaks HTTPS.
    pub tls_cert_file: Option<PathBuf>,
    /// TLS private key (PEM).
    pub tls_key_file: Option<PathBuf>,
    /// Secret (≥ 32 bytes) that keys client identifiers into pseudonyms.
    pub pseudonym_key_file: Option<PathBuf>,
    /// The access log's origin: first line of every checkpoint, name of its key.
    pub log_origin: String,
    /// Seconds between signed checkpoints (made only when the log grew).
    pub checkpoint_interval: u64,
    /// Seconds between purges of what is past its retention by `sluis serve` (a day).
    pub purge_interval: u64,
    /// `text` or `json` (one JSON object per line, with the request id).
    pub log_format: LogFormat,
    /// tracing filter, e.g. `info` or `sluis=debug,info`.
    pub log_filter: String,
    /// Window (seconds) over which failed logins are counted, per user and per address.
    pub login_window_secs: u64,
    /// From this many failures in the window on, each login attempt waits a second.
    pub login_slow_after: i64,
    /// From this many failures in the window on, login attempts are refused (429).
    pub login_refuse_after: i64,
    /// Sustained requests per second per organisation (per address before login).
    pub rate_per_second: u64,
    /// Requests per organisation allowed at once above the sustained rate.
    pub rate_burst: u32,
    /// A file holding the bearer token (at least 32 characters) that `/metrics` asks for;
    /// without it `/metrics` answers only to the machine itself (127.0.0.1, ::1).
    pub metrics_token_file: Option<PathBuf>,
    /// A file holding the SMTP URL the e-mail nudge goes through (`smtp://host:port`,
    /// `smtp://host:port?tls=required`, `smtps://user:password@host:port`); without it no
    /// e-mail is sent.
    pub nudge_smtp_url_file: Option<PathBuf>,
    /// The nudge's sender, e.g. `Sluis <noreply@sluis.example.nl>`.
    pub nudge_from: Option<String>,
    /// The link in the nudge: the broker's address for its users.
    pub nudge_link: Option<String>,
    /// Seconds between nudge rounds (each organisation gets at most one e-mail per round).
    pub nudge_interval: u64,
}

/// How log lines are written to standard error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: "sqlite://sluis.db".to_owned(),
            database_url_file: None,
            migrate: true,
            policy_dir: PathBuf::from("policy"),
            signing_key_file: None,
            previous_signing_key_files: Vec::new(),
            tls_cert_file: None,
            tls_key_file: None,
            pseudonym_key_file: None,
            log_origin: DEFAULT_LOG_ORIGIN.to_owned(),
            checkpoint_interval: 300,
            purge_interval: 86_400,
            log_format: LogFormat::Text,
            log_filter: "info".to_owned(),
            login_window_secs: 900,
            login_slow_after: 5,
            login_refuse_after: 10,
            rate_per_second: 50,
            rate_burst: 120,
            metrics_token_file: None,
            nudge_smtp_url_file: None,
            nudge_from: None,
            nudge_link: None,
            nudge_interval: 900,
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("database_url", &redact_url(&self.database_url))
            .field("database_url_file", &self.database_url_file)
            .field("policy_dir", &self.policy_dir)
            .finish_non_exhaustive()
    }
}

/// The keys, in the order they are documented and printed.
pub const KEYS: [&str; 25] = [
    "listen",
    "database_url",
    "database_url_file",
    "migrate",
    "policy_dir",
    "signing_key_file",
    "previous_signing_key_files",
    "tls_cert_file",
    "tls_key_file",
    "pseudonym_key_file",
    "log_origin",
    "checkpoint_interval",
    "purge_interval",
    "log_format",
    "log_filter",
    "login_window_secs",
    "login_slow_after",
    "login_refuse_after",
    "rate_per_second",
    "rate_burst",
    "metrics_token_file",
    "nudge_smtp_url_file",
    "nudge_from",
    "nudge_link",
    "nudge_interval",
];

/// Why the settings could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file given with `--config` does not exist.
    #[error("configuration file {0} not found")]
    NoFile(PathBuf),
    /// A value has the wrong type or a key is unknown (the message names the key, not a value).
    #[error("{0}")]
    Invalid(String),
}

/// The sources of the settings, merged in order; later ones win.
#[derive(Debug)]
pub struct Sources {
    figment: Figment,
    flags: Vec<String>,
}

impl Sources {
    /// Defaults, then `file` (which must exist when given), then the environment, then
    /// `overrides` (the command-line flags that were given, as a partial TOML table).
    pub fn gather(file: Option<&Path>, overrides: &toml::Table) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::NoFile(path.to_owned()));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment
            .merge(Env::raw().only(&["database_url", "database_url_file"]))
            .merge(Env::raw().only(&["rust_log"]).map(|_| "log_filter".into()))
            .merge(Env::prefixed("SLUIS_").only(&KEYS))
            .merge(Serialized::globals(overrides));
        Ok(Self {
            figment,
            flags: overrides.keys().cloned().collect(),
        })
    }

    /// How strongly a setting was given: a flag over the environment over the file over the
    /// default.
    fn rank(&self, key: &str) -> u8 {
        let source = self.source_of(key);
        if source == "command line" {
            3
        } else if source.starts_with("environment") {
            2
        } else if source.starts_with("file") {
            1
        } else {
            0
        }
    }

    /// The merged settings, checked for consistency.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let mut settings: Settings = self
            .figment
            .extract()
            .map_err(|e| ConfigError::Invalid(describe(e)))?;
        // The database URL follows the same precedence as every other setting: whichever of
        // `database_url` and `database_url_file` was given by the stronger source is used
        // (a `--database` flag over a `database_url_file` in the file); both from the same
        // source is refused rather than guessed.
        if settings.database_url_file.is_some() {
            let (url, file) = (self.rank("database_url"), self.rank("database_url_file"));
            if url > file {
                settings.database_url_file = None;
            } else if url == file {
                return Err(ConfigError::Invalid(format!(
                    "database_url and database_url_file are both given ({}): give one of them",
                    self.source_of("database_url")
                )));
            }
        }
        if settings.tls_cert_file.is_some() != settings.tls_key_file.is_some() {
            return Err(ConfigError::Invalid(
                "tls_cert_file and tls_key_file go together: set both or neither".to_owned(),
            ));
        }
        if settings.checkpoint_interval == 0 {
            return Err(ConfigError::Invalid(
                "checkpoint_interval must be at least 1 second".to_owned(),
            ));
        }
        if settings.purge_interval == 0 {
            return Err(ConfigError::Invalid(
                "purge_interval must be at least 1 second".to_owned(),
            ));
        }
        let nudge = [
            settings.nudge_smtp_url_file.is_some(),
            settings.nudge_from.is_some(),
            settings.nudge_link.is_some(),
        ];
        if nudge.contains(&true) && nudge.contains(&false) {
            return Err(ConfigError::Invalid(
                "nudge_smtp_url_file, nudge_from and nudge_link go together: set all three or none"
                    .to_owned(),
            ));
        }
        if settings.nudge_interval == 0 {
            return Err(ConfigError::Invalid(
                "nudge_interval must be at least 1 second".to_owned(),
            ));
        }
        if settings.login_slow_after > settings.login_refuse_after {
            return Err(ConfigError::Invalid(
                "login_slow_after must not exceed login_refuse_after".to_owned(),
            ));
        }
        if settings.rate_per_second == 0 || settings.rate_burst == 0 {
            return Err(ConfigError::Invalid(
                "rate_per_second and rate_burst must be at least 1".to_owned(),
            ));
        }
        if !is_database_url(&settings.database_url) {
            return Err(ConfigError::Invalid(
                "database_url must start with sqlite:, postgres:// or postgresql://".to_owned(),
            ));
        }
        Ok(settings)
    }

    /// Where the effective value of `key` came from ("default", "TOML file …", an environment
    /// variable, "command line").
    pub fn source_of(&self, key: &str) -> String {
        if self.flags.iter().any(|k| k == key) {
            return "command line".to_owned();
        }
        match self.figment.find_metadata(key) {
            Some(meta) => match &meta.source {
                Some(figment::Source::File(path)) => format!("file {}", path.display()),
                _ if meta.name.contains("environment") => {
                    let variable = if meta.name.contains("SLUIS_") {
                        format!("SLUIS_{}", key.to_ascii_uppercase())
                    } else if key == "log_filter" {
                        "RUST_LOG".to_owned()
                    } else {
                        key.to_ascii_uppercase()
                    };
                    format!("environment {variable}")
                }
                _ => "default".to_owned(),
            },
            None => "default".to_owned(),
        }
    }
}

/// Whether `url` names a backend the store knows.
pub fn is_database_url(url: &str) -> bool {
    url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// A figment error without the offending value (it may be a secret).
fn describe(e: figment::Error) -> String {
    let mut out = Vec::new();
    for err in e {
        let key = if err.path.is_empty() {
            "configuration".to_owned()
        } else {
            err.path.join(".")
        };
        let what = match &err.kind {
            figment::error::Kind::UnknownField(field, _) => format!("unknown setting `{field}`"),
            figment::error::Kind::InvalidType(_, expected) => format!("expected {expected}"),
            figment::error::Kind::InvalidValue(_, expected) => format!("expected {expected}"),
            figment::error::Kind::Message(m) if !m.contains('=') => m.clone(),
            _ => "invalid value".to_owned(),
        };
        let from = err
            .metadata
            .as_ref()
            .map(|m| format!(" (from {})", m.name))
            .unwrap_or_default();
        out.push(format!("{key}: {what}{from}"));
    }
    out.join("; ")
}

/// Accepts a list of paths, or one comma-separated string (the form an environment variable has).
fn paths<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<PathBuf>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Paths {
        List(Vec<PathBuf>),
        One(String),
    }
    Ok(match Paths::deserialize(deserializer)? {
        Paths::List(list) => list,
        Paths::One(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .collect(),
    })
}

impl Settings {
    /// The database URL: read from `database_url_file` when set, else `database_url`.
    pub fn database_url(&self) -> std::io::Result<String> {
        match &self.database_url_file {
            Some(path) => Ok(std::fs::read_to_string(path)?.trim().to_owned()),
            None => Ok(self.database_url.clone()),
        }
    }

    /// The value of `key` for showing: TOML syntax, the database URL's password masked.
    pub fn show(&self, key: &str) -> String {
        let table = toml::Table::try_from(self).unwrap_or_default();
        match (key, table.get(key)) {
            ("database_url", _) => toml::Value::String(redact_url(&self.database_url)).to_string(),
            (_, Some(value)) => value.to_string(),
            (_, None) => "(not set)".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_password_is_hidden() {
        assert_eq!(
            redact_url("postgres://sluis:geheim@db:5432/sluis"),
            "postgres://sluis:***@db:5432/sluis"
        );
        assert_eq!(redact_url("sqlite://sluis.db"), "sqlite://sluis.db");
    }
}
