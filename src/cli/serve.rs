//! Running the broker and keeping it: `serve`, `config check`, `migrate`, `backup`, `restore`
//! and `probe`.

use std::sync::Arc;

use anyhow::{Context as _, Result, bail};

use crate::api::AppState;
use crate::audit::Pseudonymiser;
use crate::auth::SigningKey;
use crate::config::{Settings, redact_url};
use crate::store::Store;
use crate::{api, config};

use super::commands::{Command, ConfigCommand, ServeArgs, url_of};
use super::{connect, connect_with, load_policy, read_pseudonym_key};

pub(super) async fn run(command: Command) -> Result<()> {
    match command {
        Command::Serve(args) => {
            let settings = args.sources()?.settings()?;
            crate::telemetry::init(settings.log_format, &settings.log_filter);
            serve(settings).await
        }
        Command::Config {
            command: ConfigCommand::Check { args, connect },
        } => config_check(&args, connect).await,
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
            config,
            signing_key,
            log_origin,
        } => {
            // Flags, else the configuration (file, environment): the same loader as `serve`.
            let settings = crate::config::Sources::gather(config.as_deref(), &toml::Table::new())?
                .settings()?;
            let log_origin = log_origin.unwrap_or(settings.log_origin);
            let signing_key = if signing_key.is_empty() {
                settings
                    .signing_key_file
                    .into_iter()
                    .chain(settings.previous_signing_key_files)
                    .collect()
            } else {
                signing_key
            };
            let keys = signing_key
                .iter()
                .map(|p| Ok(SigningKey::from_pem_file(p)?.verifier_key(&log_origin)))
                .collect::<Result<Vec<_>>>()?;
            if keys.is_empty() {
                bail!(
                    "give the broker's --signing-key (or `signing_key_file` in the configuration) to verify the restored access log"
                );
            }
            if to.exists() {
                bail!("{} exists; restore into a new file", to.display());
            }
            std::fs::copy(&from, &to)
                .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
            let url = format!("sqlite://{}", to.display());
            let verified = async {
                let store = Store::connect(&url).await?;
                let report = store.verify_log(&keys).await;
                store.close().await;
                anyhow::Ok(report?)
            }
            .await;
            let problem = match &verified {
                Ok(report) => report.first_problem.as_ref().map(ToString::to_string),
                Err(e) => Some(super::error_text(e)),
            };
            if let Some(problem) = problem {
                // A restore that does not verify leaves nothing behind to be taken for one.
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", to.display()));
                }
                bail!(
                    "the backup's access log does not verify ({problem}); nothing was restored to {}",
                    to.display()
                );
            }
            let report = verified?;
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
        Command::Migrate { db } => {
            let url = db.url()?;
            let (store, applied) = Store::migrate(&url)
                .await
                .with_context(|| format!("migrating {}", redact_url(&url)))?;
            store.close().await;
            match applied {
                0 => println!("database {} was up to date", redact_url(&url)),
                n => println!("database {}: applied {n} migrations", redact_url(&url)),
            }
            Ok(())
        }
        Command::Purge {
            db,
            policy,
            receipts,
        } => purge(&db, &policy, receipts.as_deref()).await,
        _ => bail!("not an operations verb"),
    }
}

/// Prints every effective setting with its source, then checks each file a setting names.
async fn config_check(args: &ServeArgs, connect: bool) -> Result<()> {
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
        Err(e) => problems.push(format!("{what}: {}", super::error_text(&e))),
    };
    let url = url_of(&settings);
    if let Ok(url) = &url {
        println!("# the broker connects to {}", redact_url(url));
    }
    check(
        "database URL",
        url.as_ref()
            .map_err(|e| anyhow::anyhow!(super::error_text(e)))
            .and_then(|url| {
                if config::is_database_url(url) {
                    Ok(())
                } else {
                    bail!("it must start with sqlite:, postgres:// or postgresql://")
                }
            }),
    );
    if let (true, Ok(url)) = (connect, &url) {
        let reached = async {
            let store = Store::open(url, false).await?;
            store.ping().await?;
            store.close().await;
            anyhow::Ok(())
        };
        check("connecting to the database", reached.await);
    }
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
    if let Some(path) = &settings.metrics_token_file {
        check("metrics token", read_metrics_token(path).map(drop));
    }
    check("e-mail nudge", nudger(&settings).map(drop));
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
        token_failures: Arc::default(),
        metrics_token: match &settings.metrics_token_file {
            Some(path) => Some(Arc::new(read_metrics_token(path)?)),
            None => None,
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
    let purges = tokio::spawn(api::purge_periodically(
        state.clone(),
        std::time::Duration::from_secs(settings.purge_interval.max(1)),
    ));
    let nudges = match nudger(&settings)? {
        Some(nudger) => {
            let every = std::time::Duration::from_secs(settings.nudge_interval.max(1));
            tracing::info!(every_secs = every.as_secs(), "e-mail nudges on");
            Some(tokio::spawn(crate::nudge::nudge_periodically(
                nudger,
                store.clone(),
                every,
            )))
        }
        None => None,
    };
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
    purges.abort();
    if let Some(nudges) = nudges {
        nudges.abort();
    }
    store.close().await;
    Ok(())
}

/// The e-mail nudger the settings ask for (all three of its settings, checked together by
/// `config`), or none.
fn nudger(settings: &Settings) -> Result<Option<crate::nudge::Nudger>> {
    let (Some(file), Some(from), Some(link)) = (
        &settings.nudge_smtp_url_file,
        &settings.nudge_from,
        &settings.nudge_link,
    ) else {
        return Ok(None);
    };
    let url = zeroize::Zeroizing::new(
        std::fs::read_to_string(file)
            .with_context(|| format!("reading nudge_smtp_url_file {}", file.display()))?,
    );
    Ok(Some(crate::nudge::Nudger::new(&url, from, link)?))
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

/// The bearer token `/metrics` asks for, from its file (at least 32 characters).
fn read_metrics_token(path: &std::path::Path) -> Result<crate::auth::Secret> {
    let token = super::read_secret_file(path)?;
    if token.expose().trim().chars().count() < 32 {
        bail!(
            "the metrics token in {} needs at least 32 characters",
            path.display()
        );
    }
    Ok(token)
}

/// `sluis purge`: the store deletes what is past its retention; each case's receipt is signed
/// here with the broker's key under the log's origin.
async fn purge(
    db: &super::commands::DbArgs,
    policy: &super::commands::PolicyArgs,
    receipts: Option<&std::path::Path>,
) -> Result<()> {
    let settings = db.settings()?;
    let key_file = (settings.signing_key_file.as_ref())
        .context("a purge signs its receipts: set signing_key_file (or --config)")?;
    let key = SigningKey::from_pem_file(key_file)?;
    let policy = load_policy(&policy.dir(Some(db))?)?;
    let store = super::connect_with(&settings).await?;
    let signer = crate::auth::LogSigner {
        key: &key,
        origin: &settings.log_origin,
    };
    let purged = store.purge(&policy, &signer).await;
    store.close().await;
    for case in purged? {
        if let Some(dir) = receipts {
            std::fs::create_dir_all(dir)?;
            std::fs::write(dir.join(format!("{}.note", case.case)), &case.receipt)?;
        }
        println!("{}", case.receipt);
    }
    Ok(())
}
