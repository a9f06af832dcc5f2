//! Administration: the policy, organisations, users, API keys and keys of the broker.

use std::io::Read as _;
use std::path::Path;

use anyhow::{Context as _, Result, bail};

use crate::audit::Event;
use crate::auth;
use crate::auth::{Secret, SigningKey};
use crate::clock::now_text;
use crate::policy::is_org_id;
use crate::sealing::{Identity, Recipient};
use crate::store::User;

use super::commands::{ApikeyCommand, Command, OrgCommand, PolicyCommand, UserCommand};
use super::{connect, load_policy, read_secret_file};

pub(super) async fn run(command: Command) -> Result<()> {
    match command {
        Command::Policy { command } => match command {
            PolicyCommand::Show { json, policy } => {
                let p = load_policy(&policy.dir(None)?)?;
                if json {
                    println!("{}", serde_json::to_string_pretty(&p.to_json())?);
                } else {
                    print!("{}", p.to_text());
                }
                Ok(())
            }
            PolicyCommand::Check { policy } => {
                let p = load_policy(&policy.dir(None)?)?;
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
            store.add_api_key(&user, &key).await?;
            println!("{}", key.token.expose());
            eprintln!(
                "API key for {username} ({}): shown once, store it safely.",
                user.org_id
            );
            Ok(())
        }
        Command::Keygen { kind, out } => keygen(&kind, &out),
        _ => bail!("not an admin verb"),
    }
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
            let policy = load_policy(&policy.dir(Some(&db))?)?;
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
            let policy = load_policy(&policy.dir(Some(&db))?)?;
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
        OrgCommand::SetNudge {
            id,
            address,
            off: _,
            db,
        } => {
            // clap lets exactly one of ADDRESS and `--off` through.
            if let Some(a) = &address
                && a.parse::<lettre::message::Mailbox>().is_err()
            {
                bail!("`{a}` is not an e-mail address");
            }
            let what = match &address {
                Some(a) => format!("nudge address of {id}: {a}"),
                None => format!("nudges of {id} off"),
            };
            connect(&db)
                .await?
                .set_nudge_address(&id, address.as_deref(), Event::admin(what.clone()))
                .await
                .with_context(|| format!("organisation `{id}`"))?;
            println!("{what}");
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
            let policy = load_policy(&policy.dir(Some(&db))?)?;
            let store = connect(&db).await?;
            let organisation = store
                .organisation(&org)
                .await?
                .with_context(|| format!("no organisation `{org}`"))?;
            let role = role.unwrap_or_else(|| organisation.role.clone());
            if !policy.roles.contains_key(&role) {
                bail!("unknown role `{role}`");
            }
            if role != organisation.role {
                bail!(
                    "a user acts in its organisation's role: {org} is `{}`, not `{role}`",
                    organisation.role
                );
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
            // The broker keeps the login credential the person's client stretches from the
            // password (their own key follows from the password they choose at first login).
            let password_hash = match password {
                Some(p) if p.expose().chars().count() < 12 => {
                    bail!("a password needs at least 12 characters")
                }
                Some(p) => Some(auth::hash_password(
                    &auth::PersonSecrets::derive(&username, &p)?.login,
                )?),
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
