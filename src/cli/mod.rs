//! The `sluis` command line: serve, admin verbs, client verbs, audit verbs, demo.

mod admin;
mod audit;
mod commands;
mod exchange;
mod lifecycle;
mod serve;

use std::path::Path;

use anyhow::{Context as _, Result};

use crate::audit::Pseudonymiser;
use crate::auth::Secret;
use crate::client::{self, Client, Credentials};
use crate::config::Settings;
use crate::config::redact_url;
use crate::policy::Policy;
use crate::sealing::Identity;
use crate::store::Store;

pub use commands::Cli;
use commands::{ClientArgs, Command, DbArgs, url_of};

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<()> {
    if !matches!(cli.command, Command::Serve(_)) {
        crate::telemetry::init_from_env();
    }
    match cli.command {
        command @ (Command::Serve(_)
        | Command::Config { .. }
        | Command::Backup { .. }
        | Command::Restore { .. }
        | Command::Probe { .. }
        | Command::Migrate { .. }
        | Command::Purge { .. }) => serve::run(command).await,
        command @ (Command::Policy { .. }
        | Command::Org { .. }
        | Command::User { .. }
        | Command::Apikey { .. }
        | Command::Keygen { .. }) => admin::run(command).await,
        command @ (Command::Submit { .. }
        | Command::Share { .. }
        | Command::Pull { .. }
        | Command::Monitor { .. }
        | Command::ReportCounts { .. }
        | Command::Rekey { .. }
        | Command::Grant { .. }) => exchange::run(command).await,
        command @ (Command::Assess { .. }
        | Command::Refer { .. }
        | Command::Match { .. }
        | Command::Apply { .. }
        | Command::Decide { .. }
        | Command::Applications { .. }
        | Command::Housed { .. }
        | Command::Evaluate { .. }
        | Command::Signal { .. }
        | Command::Message { .. }
        | Command::Report { .. }
        | Command::Acknowledge { .. }
        | Command::Messages { .. }
        | Command::ReportChange { .. }
        | Command::Upload { .. }
        | Command::ConvertLease { .. }
        | Command::End { .. }
        | Command::Consent { .. }
        | Command::Inbox { .. }
        | Command::Cases { .. }) => lifecycle::run(command).await,
        Command::Audit { command } => audit::run(command).await,
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
                policy_dir: policy.dir(None)?,
            };
            let records = crate::bench::run(&options).await?;
            print!("{}", crate::bench::table(&records));
            if let Some(path) = json {
                crate::bench::write_json(&records, &path)?;
            }
            Ok(())
        }
        Command::Demo {
            out,
            policy,
            serve,
            listen,
        } => {
            let p = load_policy(&policy.dir(None)?)?;
            let (report, serving) =
                crate::demo::run_serving(&out, p.clone(), serve.then_some(listen)).await?;
            print!("{}", crate::demo::summary(&report, &p, &out));
            if let Some(serving) = serving {
                println!(
                    "\nLook around in the browser at {} (Ctrl-C stops it). Fictional people:",
                    serving.url
                );
                for person in &serving.people {
                    println!(
                        "  {:<20} user {:<28} password {}",
                        person.org, person.username, person.password
                    );
                }
                serving.until_ctrl_c().await?;
            }
            Ok(())
        }
    }
}

/// An error with its causes, each once: a cause whose text the message already holds (an
/// error that prints its source as well as returning it) is not repeated.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = e.to_string();
    for cause in e.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
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
        client::ClientError::Open(_) => anyhow::anyhow!(
            "{e}\n  if your organisation registered a new recipient key, its copies are still \
             sealed to the old one: open them with the old identity and move them with \
             `sluis rekey -i OLD --new-identity NEW`"
        ),
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
    let client = match &args.ca_file {
        Some(path) => {
            let pem = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            Client::with_ca(&args.server, &pem)
                .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
        }
        None => Client::new(&args.server),
    };
    client.login(&credentials).await.map_err(explain)
}

#[cfg(test)]
mod tests {
    use anyhow::Context as _;

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        let printed_and_returned = anyhow::Error::new(crate::policy::PolicyError::Read {
            path: "policy/forms".into(),
            source: io,
        })
        .context("loading the policy");
        assert_eq!(
            super::error_text(&printed_and_returned),
            "loading the policy: policy: cannot read policy/forms: no such file"
        );
        let nested: anyhow::Result<()> = Err(anyhow::anyhow!("connection refused"))
            .context("opening database sqlite://x.db")
            .context("sluis migrate");
        assert_eq!(
            super::error_text(&nested.unwrap_err()),
            "sluis migrate: opening database sqlite://x.db: connection refused"
        );
    }
}
