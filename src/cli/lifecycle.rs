//! The lifecycle client verbs: each one a step through the broker as the logged-in party.

use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use super::commands::{Command, ConsentCommand};
use super::{explain, login, read_identity};
use crate::policy::Policy;

fn read_json(path: &std::path::Path) -> Result<Value> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not JSON (line {})", path.display(), e.line()))
}

/// A document file as the base64 a document field takes.
fn document(path: &std::path::Path) -> Result<Value> {
    let bytes = zeroize::Zeroizing::new(
        std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    );
    Ok(json!(BASE64.encode(bytes.as_slice())))
}

fn print(value: &Value) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

pub(super) async fn run(command: Command) -> Result<()> {
    match command {
        Command::Assess {
            client,
            case,
            decision,
            fields,
        } => {
            let fields = match fields {
                Some(path) => read_json(&path)?,
                None => json!({}),
            };
            let c = login(&client).await?;
            print(
                &c.step(
                    &case,
                    "assessment",
                    &json!({"decision": decision, "fields": fields}),
                )
                .await
                .map_err(explain)?,
            )
        }
        Command::Refer {
            client,
            identity,
            municipality,
            case,
        } => {
            let identity = read_identity(&identity)?;
            let c = login(&client).await?;
            let policy = Policy::from_json(c.policy_json().await?)?;
            print(
                &c.refer(&case, &identity, &policy, &municipality)
                    .await
                    .map_err(explain)?,
            )
        }
        Command::Match {
            client,
            case,
            municipality,
            kind,
            address,
            rent,
            viewing_on,
            conditions,
        } => {
            let mut offer = json!({
                "offer_address": address, "offer_rent": rent, "offer_viewing_on": viewing_on
            });
            if let Some(conditions) = conditions {
                offer["offer_conditions"] = json!(conditions);
            }
            let body =
                json!({"home_municipality": municipality, "home_kind": kind, "offer": offer});
            print(
                &login(&client)
                    .await?
                    .step(&case, "match", &body)
                    .await
                    .map_err(explain)?,
            )
        }
        Command::Housed {
            client,
            case,
            key_handover,
            lease,
        } => {
            let body = json!({"key_handover": key_handover, "lease": lease});
            print(
                &login(&client)
                    .await?
                    .step(&case, "housed", &body)
                    .await
                    .map_err(explain)?,
            )
        }
        Command::Signal {
            client,
            case,
            kind,
            on,
            note,
        } => {
            let body =
                json!({"fields": {"signal_kind": kind, "signal_on": on, "signal_note": note}});
            print(
                &login(&client)
                    .await?
                    .step(&case, "signals", &body)
                    .await
                    .map_err(explain)?,
            )
        }
        Command::Message {
            client,
            case,
            to,
            about,
            text,
            attachment,
            reply_to,
        } => {
            let mut fields = json!({"message_text": text});
            if let Some(file) = attachment {
                fields["message_attachment"] = document(&file)?;
            }
            let body = json!({"to": to, "about": about, "fields": fields, "reply_to": reply_to});
            let c = login(&client).await?;
            print(&c.step(&case, "messages", &body).await.map_err(explain)?)
        }
        Command::Report {
            client,
            case,
            kind,
            held_on,
            to,
            fields,
            document: file,
        } => {
            let mut form = read_json(&fields)?;
            if let Some(file) = file {
                let field = if kind == "handover" {
                    "handover_document"
                } else {
                    "consultation_document"
                };
                form[field] = document(&file)?;
            }
            let body = json!({"kind": kind, "held_on": held_on, "to": to, "fields": form});
            let c = login(&client).await?;
            print(&c.step(&case, "reports", &body).await.map_err(explain)?)
        }
        Command::Acknowledge {
            client,
            case,
            report,
        } => {
            let c = login(&client).await?;
            let step = format!("reports/{report}/acknowledgement");
            print(&c.step(&case, &step, &json!({})).await.map_err(explain)?)
        }
        Command::Messages {
            client,
            identity,
            case,
        } => {
            let identity = read_identity(&identity)?;
            let c = login(&client).await?;
            let policy = Policy::from_json(c.policy_json().await?)?;
            let thread = c.thread(&case, &identity, &policy).await.map_err(explain)?;
            println!("{}", thread.to_json().as_str());
            Ok(())
        }
        Command::Evaluate {
            client,
            case,
            period,
            fields,
            report,
        } => {
            let mut form = read_json(&fields)?;
            if form.get("evaluation_period").is_none() {
                form["evaluation_period"] = json!(format!("half-year {period}"));
            }
            if let Some(report) = report {
                form["evaluation_report"] = document(&report)?;
            }
            let body = json!({"period": period, "fields": form});
            print(
                &login(&client)
                    .await?
                    .step(&case, "evaluations", &body)
                    .await
                    .map_err(explain)?,
            )
        }
        Command::ReportChange { client, case, file } => {
            let body = json!({"fields": read_json(&file)?});
            print(
                &login(&client)
                    .await?
                    .step(&case, "changes", &body)
                    .await
                    .map_err(explain)?,
            )
        }
        Command::ConvertLease {
            client,
            case,
            converted_on,
            rent_paid_on,
            living_behaviour_on,
            plan_goals_on,
        } => {
            let body = json!({"converted_on": converted_on, "conditions": {
                "rent_paid_on_time": rent_paid_on,
                "living_behaviour": living_behaviour_on,
                "plan_housing_goals": plan_goals_on,
            }});
            let c = login(&client).await?;
            print(
                &c.step(&case, "lease-conversion", &body)
                    .await
                    .map_err(explain)?,
            )
        }
        Command::End {
            client,
            case,
            reason,
        } => print(
            &login(&client)
                .await?
                .step(&case, "end", &json!({"reason": reason}))
                .await
                .map_err(explain)?,
        ),
        Command::Apply {
            client,
            identity,
            case,
            kind,
            request,
            attachment,
        } => {
            let mut fields = json!({"application_request": request});
            if let Some(file) = attachment {
                fields["application_attachment"] = document(&file)?;
            }
            let id = read_identity(&identity)?;
            let session = login(&client).await?;
            let policy = Policy::from_json(session.policy_json().await?)?;
            let done = session.apply(&case, &id, &policy, &kind, &fields).await;
            print(&done.map_err(explain)?)
        }
        Command::Decide {
            client,
            case,
            application,
            outcome,
            decided_on,
            motivation,
        } => {
            let body = json!({
                "outcome": outcome, "decided_on": decided_on,
                "fields": {"decision_motivation": motivation}
            });
            let path = format!("/v1/cases/{case}/applications/{application}/decision");
            print(
                &login(&client)
                    .await?
                    .post_json(&path, &body)
                    .await
                    .map_err(explain)?,
            )
        }
        Command::Applications {
            client,
            case,
            overdue: _,
        } => {
            // clap lets exactly one of CASE and `--overdue` through.
            let path = match case {
                Some(case) => format!("/v1/cases/{case}/applications"),
                None => "/v1/applications/overdue".to_owned(),
            };
            print(
                &login(&client)
                    .await?
                    .get_json(&path)
                    .await
                    .map_err(explain)?,
            )
        }
        Command::Consent { command } => match command {
            ConsentCommand::Show {
                client,
                case,
                fhir,
                all,
            } => {
                let path = format!(
                    "/v1/cases/{case}/consent{}{}",
                    if all { "s" } else { "" },
                    if fhir { "?format=fhir" } else { "" }
                );
                print(
                    &login(&client)
                        .await?
                        .get_json(&path)
                        .await
                        .map_err(explain)?,
                )
            }
            ConsentCommand::Renew { client, case, file } => {
                let text = zeroize::Zeroizing::new(
                    std::fs::read_to_string(&file)
                        .with_context(|| format!("reading {}", file.display()))?,
                );
                let body: Value = serde_json::from_str(&text).map_err(|e| {
                    anyhow::anyhow!("{}: not JSON (line {})", file.display(), e.line())
                })?;
                print(
                    &login(&client)
                        .await?
                        .post_json(&format!("/v1/cases/{case}/consent"), &body)
                        .await
                        .map_err(explain)?,
                )
            }
            ConsentCommand::Erase { client, case } => {
                let done = login(&client)
                    .await?
                    .step(&case, "erasure", &json!({}))
                    .await
                    .map_err(explain)?;
                print_receipts(&done);
                Ok(())
            }
            ConsentCommand::Receipts { client, case } => {
                let path = format!("/v1/cases/{case}/receipts");
                print_receipts(
                    &login(&client)
                        .await?
                        .get_json(&path)
                        .await
                        .map_err(explain)?,
                );
                Ok(())
            }
            ConsentCommand::Withdraw { client, case } => print(
                &login(&client)
                    .await?
                    .step(&case, "consent/withdraw", &json!({}))
                    .await
                    .map_err(explain)?,
            ),
        },
        Command::Inbox {
            client,
            unread,
            mark_read,
        } => {
            let c = login(&client).await?;
            let path = if unread {
                "/v1/inbox?unread=true"
            } else {
                "/v1/inbox"
            };
            print(&c.get_json(path).await.map_err(explain)?)?;
            if mark_read {
                let marked = (c.post_json("/v1/inbox/read", &json!({"all": true})).await)
                    .map_err(explain)?;
                eprintln!("{} notification(s) marked read", marked["marked"]);
            }
            Ok(())
        }
        Command::Cases { client, format } => {
            let cases = login(&client)
                .await?
                .get_json("/v1/cases")
                .await
                .map_err(explain)?;
            match format.as_str() {
                "json" => print(&cases),
                "table" => {
                    print!("{}", cases_table(&cases));
                    Ok(())
                }
                _ => bail!("--format is table or json"),
            }
        }
        _ => bail!("not a lifecycle verb"),
    }
}

/// The case list as a table: id, state, who registered it, when, last change.
fn cases_table(cases: &Value) -> String {
    let mut out = format!(
        "{:<36}  {:<16} {:<20} {:<24} {}\n",
        "case", "state", "registered by", "registered (UTC)", "last change (UTC)"
    );
    for case in cases.as_array().into_iter().flatten() {
        let field = |k: &str| case[k].as_str().unwrap_or("-").to_owned();
        out.push_str(&format!(
            "{:<36}  {:<16} {:<20} {:<24} {}\n",
            field("id"),
            field("state"),
            field("created_by"),
            field("created_at"),
            field("updated_at")
        ));
    }
    out
}

/// Prints each signed deletion receipt of an answer's `receipts`.
fn print_receipts(answer: &serde_json::Value) {
    for receipt in answer["receipts"].as_array().into_iter().flatten() {
        println!("{}", receipt.as_str().unwrap_or_default());
    }
}
