//! The exchange verbs of a party's client that are not lifecycle steps: submit, re-share, pull, rekey, and the
//! monitor.

use anyhow::{Context as _, Result, bail};

use crate::client;
use crate::policy::Policy;

use super::commands::Command;
use super::{explain, login, read_identity};

pub(super) async fn run(command: Command) -> Result<()> {
    match command {
        Command::Submit {
            client,
            form,
            file,
            format,
        } => {
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
            match (format.as_str(), answer["id"].as_str()) {
                ("id", Some(id)) => println!("{id}"),
                _ => println!("{}", serde_json::to_string_pretty(&answer)?),
            }
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
                // DIR/<case>/<field>.age and an item's DIR/<case>/items/<item>/<field>.age, as
                // the demo lays out its slices.
                let dir = dir.join(&slice.case);
                for f in &slice.fields {
                    let at = match &f.item {
                        Some(item) => dir.join("items").join(item),
                        None => dir.clone(),
                    };
                    std::fs::create_dir_all(&at)
                        .with_context(|| format!("creating {}", at.display()))?;
                    std::fs::write(at.join(format!("{}.age", f.field)), client::ciphertext(f)?)?;
                }
            }
            let opened = client::open_slice(&slice, &identity, &policy).map_err(explain)?;
            println!("{}", opened.to_json().as_str());
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
        Command::Grant {
            client,
            identity,
            colleague,
        } => {
            let c = login(&client).await?;
            match colleague.zip(identity) {
                Some((username, identity)) => {
                    let identity = read_identity(&identity)?;
                    c.grant_identity(&identity, &username)
                        .await
                        .map_err(explain)?;
                    println!("gave {username} the organisation's identity");
                }
                None => {
                    let members = c.get_json("/v1/me/members").await.map_err(explain)?;
                    for m in members.as_array().into_iter().flatten() {
                        let state = match (m["recipient"].is_null(), m["has_identity"].as_bool()) {
                            (true, _) => "has not chosen a password yet",
                            (false, Some(true)) => "holds the identity",
                            (false, _) => "waits for the identity",
                        };
                        println!("{:<24} {state}", m["username"].as_str().unwrap_or_default());
                    }
                }
            }
            Ok(())
        }
        _ => bail!("not a client verb"),
    }
}
