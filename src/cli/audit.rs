//! `sluis audit`: verification against the database or a kept checkpoint, and the privacy
//! officer's queries through the API.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result, bail};
use serde_json::Value;

use super::commands::{AuditCommand, DbArgs};
use super::login;
use crate::audit::{self, Event, VerifierKey};
use crate::auth::SigningKey;
use crate::client::Client;

pub(super) async fn run(command: AuditCommand) -> Result<()> {
    match command {
        AuditCommand::Verify {
            db,
            signing_key,
            previous_signing_key,
            vkey,
            log_origin,
            checkpoint,
            proofs_from,
        } => {
            // Flags, else the configuration (file, environment): the same loader as `serve`.
            let settings = db.settings()?;
            let origin = log_origin.unwrap_or(settings.log_origin);
            let (signing, previous) = if signing_key.is_some() || !vkey.is_empty() {
                (signing_key, previous_signing_key)
            } else {
                (
                    settings.signing_key_file,
                    settings.previous_signing_key_files,
                )
            };
            let mut keys = Vec::new();
            for path in signing.iter().chain(&previous) {
                keys.push(SigningKey::from_pem_file(path)?.verifier_key(&origin));
            }
            for text in &vkey {
                keys.push(
                    VerifierKey::from_vkey(text).context("--vkey is not a note verifier key")?,
                );
            }
            if keys.is_empty() {
                bail!(
                    "give the broker's --signing-key (or `signing_key_file` in the configuration), or the log's --vkey"
                );
            }
            match (checkpoint, proofs_from) {
                (Some(file), Some(url)) => verify_remote(&file, &url, &keys).await,
                _ => verify_database(&db, &keys).await,
            }
        }
        AuditCommand::Events {
            client,
            org,
            case,
            client_pseudonym,
            user,
            action,
            outcome,
            format,
        } => {
            let c = login(&client).await?;
            let mut query = vec![(
                "format",
                if format == "table" {
                    "json".to_owned()
                } else {
                    format.clone()
                },
            )];
            for (k, v) in [
                ("org", org),
                ("case", case),
                ("client", client_pseudonym),
                ("user", user),
                ("action", action),
                ("outcome", outcome),
            ] {
                if let Some(v) = v {
                    query.push((k, v));
                }
            }
            let qs: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{k}={}", urlencode(v)))
                .collect();
            let path = format!("/v1/audit/events?{}", qs.join("&"));
            if format == "table" {
                let listed: Vec<serde_json::Value> =
                    serde_json::from_value(c.get_json(&path).await?)?;
                let (events, names) = with_user_names(&listed)?;
                print!("{}", audit::table(&events, &names));
            } else {
                print!("{}", c.get_text(&path).await?);
            }
            Ok(())
        }
        AuditCommand::Pseudonym { client } => {
            let mut identifier = zeroize::Zeroizing::new(String::new());
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut identifier)?;
            let body = serde_json::json!({ "identifier": identifier.trim() });
            let answer = login(&client)
                .await?
                .post_json("/v1/audit/pseudonyms", &body)
                .await
                .map_err(super::explain)?;
            println!("{}", answer["pseudonym"].as_str().unwrap_or_default());
            Ok(())
        }
        AuditCommand::Report {
            client,
            pseudonym,
            json,
        } => {
            let c = login(&client).await?;
            let report = c
                .get_json(&format!(
                    "/v1/audit/clients/{}/report",
                    urlencode(&pseudonym)
                ))
                .await?;
            let vkey = c.get_text("/v1/audit/vkey").await?;
            let key = VerifierKey::from_vkey(&vkey).context("the broker's vkey is malformed")?;
            let checked = check_report(&report, &key)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                let entries: Vec<serde_json::Value> = (report["events"].as_array())
                    .map(|a| {
                        a.iter()
                            .map(|e| {
                                let mut event = e["event"].clone();
                                event["user_name"] = e["user_name"].clone();
                                event
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let (events, names) = with_user_names(&entries)?;
                println!("Access report for client {pseudonym} (AVG art. 15)");
                print!("{}", audit::table(&events, &names));
                println!(
                    "{checked} events, each proven included in the signed checkpoint of size {}",
                    report["checkpoint"]["size"]
                );
            }
            Ok(())
        }
        AuditCommand::Signals { client, json } => {
            let c = login(&client).await?;
            let value = c.get_json("/v1/audit/signals").await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&value)?);
                return Ok(());
            }
            let s: audit::Signals = serde_json::from_value(value)?;
            let counts = |title: &str, v: &[audit::Count]| {
                println!("{title}:");
                if v.is_empty() {
                    println!("  none");
                }
                for c in v {
                    println!("  {:>5}  {}", c.count, c.key);
                }
            };
            counts("Denied attempts per user", &s.denied_by_user);
            counts("Denied attempts per source address", &s.denied_by_source);
            println!("Many distinct clients opened in one day:");
            for d in &s.many_clients_in_a_day {
                println!("  {} {} ({}): {} clients", d.day, d.user, d.org, d.clients);
            }
            println!(
                "Downloads outside office hours (seq): {:?}",
                s.outside_office_hours
            );
            counts("Most-viewed clients", &s.most_viewed_clients);
            println!(
                "Attempts to open a case after it ended or consent was withdrawn (seq): {:?}",
                s.after_end_or_withdrawal
            );
            Ok(())
        }
        AuditCommand::Receipt { file, vkey } => {
            let note = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let keys = (vkey.iter())
                .map(|k| VerifierKey::from_vkey(k).context("--vkey is not a note verifier key"))
                .collect::<Result<Vec<_>>>()?;
            let body = audit::open_note(&note, &keys)
                .map_err(|e| anyhow::anyhow!("{}: receipt {e}", file.display()))?;
            print!("{body}");
            println!("receipt verified");
            Ok(())
        }
        AuditCommand::Expire { db, policy } => {
            let policy = super::load_policy(&policy.dir(Some(&db))?)?;
            let years = policy.audit.retention_years;
            let store = super::connect_with(&db.settings()?).await?;
            let mut event = Event::admin(format!(
                "access-log retention: retention_years = {years} (policy [audit])"
            ));
            event.action = "delete".into();
            let expired = store.expire_events_past(years, event).await;
            store.close().await;
            let (before, expired) = expired?;
            println!(
                "{expired} access events before {before} expired: their content deleted, their \
                 places and hashes kept (the log still verifies)"
            );
            Ok(())
        }
        AuditCommand::Checkpoint { client } => {
            let c = login(&client).await?;
            let cp = c.post_json("/v1/audit/checkpoints", &Value::Null).await?;
            print!("{}", cp["note"].as_str().unwrap_or_default());
            Ok(())
        }
    }
}

async fn verify_database(db: &DbArgs, keys: &[VerifierKey]) -> Result<()> {
    // Verification only reads: it never migrates the database it checks.
    let url = super::url_of(&db.settings()?)?;
    let store = crate::store::Store::open(&url, false)
        .await
        .with_context(|| format!("opening {}", crate::config::redact_url(&url)))?;
    let report = store.verify_log(keys).await?;
    match &report.first_problem {
        None => {
            println!(
                "access log verified: {} events, {} checkpoints, root {}",
                report.events, report.checkpoints, report.root
            );
            Ok(())
        }
        Some(problem) => bail!("access log verification failed: {problem}"),
    }
}

async fn verify_remote(file: &std::path::Path, url: &str, keys: &[VerifierKey]) -> Result<()> {
    let kept_note =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let kept = audit::open_checkpoint_any(&kept_note, keys)
        .context("the kept checkpoint's signature does not verify")?;
    let c = Client::new(url);
    let latest_note = c.get_text("/v1/audit/checkpoint").await?;
    let latest = audit::open_checkpoint_any(&latest_note, keys)
        .context("the broker's latest checkpoint does not verify")?;
    if latest.size < kept.size {
        bail!(
            "seq {}: missing (the broker's log has {} events, the kept checkpoint covers {})",
            latest.size + 1,
            latest.size,
            kept.size
        );
    }
    let proof = c
        .get_json(&format!(
            "/v1/audit/proofs/consistency?from={}&to={}",
            kept.size, latest.size
        ))
        .await?;
    let hashes = parse_hashes(&proof["hashes"])?;
    if !audit::verify_consistency(kept.size, &kept.root, latest.size, &latest.root, &hashes) {
        bail!(
            "the log served now is not an extension of the kept checkpoint of size {}",
            kept.size
        );
    }
    println!(
        "kept checkpoint of size {} is a prefix of the log of size {} served by {url}",
        kept.size, latest.size
    );
    Ok(())
}

fn parse_hashes(v: &Value) -> Result<Vec<[u8; 32]>> {
    v.as_array()
        .context("no hashes")?
        .iter()
        .map(|h| {
            let bytes = hex::decode(h.as_str().unwrap_or_default()).context("a hash is not hex")?;
            bytes
                .try_into()
                .map_err(|_| anyhow::anyhow!("a hash has 32 bytes"))
        })
        .collect()
}

/// Checks the report's checkpoint signature and every event's inclusion proof.
fn check_report(report: &Value, key: &VerifierKey) -> Result<usize> {
    let note = report["checkpoint"]["note"]
        .as_str()
        .context("no checkpoint")?;
    let cp =
        audit::open_checkpoint(note, key).context("the report's checkpoint does not verify")?;
    let entries = report["events"].as_array().context("no events")?;
    for entry in entries {
        let event: Event = serde_json::from_value(entry["event"].clone())?;
        let proof = parse_hashes(&entry["proof"])?;
        if !audit::verify_inclusion(&event, cp.size, &cp.root, &proof) {
            bail!(
                "seq {}: its inclusion proof does not verify against the checkpoint",
                event.seq
            );
        }
    }
    Ok(entries.len())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Events as the broker lists them (each with its user's `user_name`), and the names by user id.
fn with_user_names(listed: &[serde_json::Value]) -> Result<(Vec<Event>, BTreeMap<String, String>)> {
    let mut names = BTreeMap::new();
    let mut events = Vec::with_capacity(listed.len());
    for value in listed {
        let event: Event = serde_json::from_value(value.clone())?;
        if let (Some(user), Some(name)) = (&event.user, value["user_name"].as_str()) {
            names.insert(user.clone(), name.to_owned());
        }
        events.push(event);
    }
    Ok((events, names))
}
