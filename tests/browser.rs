//! Sluis in the browser, in Debian's Chromium driven by playwright-core
//! (`web/tests/browser/run.mjs`) against a real broker on 127.0.0.1: a newcomer's first login and
//! own password, a colleague giving access, a registration through the form, names and fields
//! opened in the browser, logout and idleness forgetting the identity, axe on every page, the
//! login by keyboard. Then, here: no request body outside the sealing endpoints holds a field
//! value, nothing sent opens any person's wrapped identity, and the broker sealed what the
//! form sent to exactly the parties entitled to it. Runs whenever Chromium, node and
//! `web/node_modules` are there; `SLUIS_REQUIRE_CHROMIUM=1` (as `.ci/run` sets) makes their
//! absence a failure. Screenshots: `target/browser/`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use std::collections::BTreeSet;

use base64::Engine as _;
use common::{CORPORATION_FIELDS, TestApp};
use serde_json::{Value, json};
use sha2::Digest as _;
use sluis::auth::{PersonSecrets, Secret};
use sluis::sealing::{self, Identity};

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");
const NEWCOMER: &str = "j.jansen";
const INITIAL: &str = "een lang eerste wachtwoord";
const OWN: &str = "mijn eigen geheime zin 789";
const CLIENT_NAME: &str = "Fenna Visser";

/// The browser and its driver, or why they are not here.
fn tools() -> Result<std::path::PathBuf, String> {
    let chromium = std::env::var("SLUIS_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let chromium = std::path::PathBuf::from(chromium);
    if !chromium.exists() {
        return Err(format!("no Chromium at {}", chromium.display()));
    }
    let driver = std::path::Path::new(MANIFEST).join("web/node_modules/playwright-core");
    if !driver.exists() {
        return Err("no web/node_modules (cd web && npm ci)".into());
    }
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|o| o.status.success()) {
        return Err("no node".into());
    }
    Ok(chromium)
}

/// Every string in a JSON document (and the document itself).
fn strings(text: &str) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            Value::Object(o) => o.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = vec![text.to_owned()];
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        walk(&v, &mut out);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_care_guide_works_in_the_browser_and_the_broker_opens_nothing() {
    let chromium = match tools() {
        Ok(c) => c,
        Err(why) if std::env::var("SLUIS_REQUIRE_CHROMIUM").as_deref() == Ok("1") => {
            panic!("SLUIS_REQUIRE_CHROMIUM=1 but {why}")
        }
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let app = TestApp::start("sqlite").await;
    let care = sluis::demo::add_people(
        &app.store,
        &app.parties,
        &[
            "leviaan",
            "bct-westfriesland",
            "intermaris",
            "hoorn",
            "fg-westfriesland",
            "sluis-beheer",
        ],
    )
    .await
    .unwrap();
    let initial = PersonSecrets::derive(NEWCOMER, &Secret::new(INITIAL.into())).unwrap();
    let newcomer = sluis::store::User {
        id: uuid::Uuid::new_v4().to_string(),
        username: NEWCOMER.into(),
        org_id: "leviaan".into(),
        role: "care".into(),
        password_hash: Some(sluis::auth::hash_password(&initial.login).unwrap()),
        disabled: false,
    };
    let event = sluis::audit::Event::admin("test: a newcomer".into());
    app.store.add_user(&newcomer, event).await.unwrap();
    let out = std::path::Path::new(MANIFEST).join("target/browser");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let mut client: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{MANIFEST}/deploy/client.json")).unwrap(),
    )
    .unwrap();
    client["fields"]["full_name"] = json!(CLIENT_NAME);
    client["fields"]["form_cosigned_by"] = json!(CLIENT_NAME);
    let client_file = out.join("client.json");
    std::fs::write(&client_file, client.to_string()).unwrap();
    let people = json!({
        "care": {"username": care[0].username, "password": care[0].password},
        "coordinator": {"username": care[1].username, "password": care[1].password},
        "corporation": {"username": care[2].username, "password": care[2].password},
        "municipality": {"username": care[3].username, "password": care[3].password},
        "officer": {"username": care[4].username, "password": care[4].password},
        "admin": {"username": care[5].username, "password": care[5].password},
        "newcomer": {"username": NEWCOMER, "initial": INITIAL, "own": OWN},
    });
    // A second client of the care organisation, who will withdraw consent and ask for erasure
    // in the browser.
    let mut other = sluis::demo::fictional_registration();
    other["full_name"] = json!("Sem de Boer");
    other["form_cosigned_by"] = json!("Sem de Boer");
    other["bsn"] = json!("123456782");
    let second = app.submit("leviaan", &other).await;
    let base = app.broker.base_url.clone();
    let (out2, client2, second2) = (out.clone(), client_file.clone(), second.clone());
    let run = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg("tests/browser/run.mjs")
            .current_dir(format!("{MANIFEST}/web"))
            .env("SLUIS_URL", &base)
            .env("SLUIS_OUT", &out2)
            .env("SLUIS_PEOPLE", people.to_string())
            .env("SLUIS_CLIENT", &client2)
            .env("SLUIS_CHROMIUM", &chromium)
            .env("SLUIS_SECOND_CASE", &second2)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let results: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("results.json")).unwrap_or_default(),
    )
    .unwrap_or(Value::Null);
    assert!(run.status.success(), "{log}\n{results:#}");
    assert_eq!(results["axe"], json!([]), "{results:#}");
    assert!(
        results["checks"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["ok"] == json!(true)),
        "{results:#}"
    );
    // The corporation's page held exactly its fields: nothing of another category.
    assert_eq!(
        results["corporation_fields"],
        json!(CORPORATION_FIELDS),
        "{results:#}"
    );

    // What the browser sent: field values only to the sealing endpoint (the submission).
    let traffic: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(out.join("traffic.json")).unwrap()).unwrap();
    let values: Vec<String> = (client["fields"].as_object().unwrap().values())
        .flat_map(|v| match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect(),
            Value::Number(n) => vec![n.to_string()],
            _ => vec![],
        })
        .filter(|v| v.len() >= 4)
        .collect();
    // The sealing endpoints: the submission, a change report, a signal, a document, the
    // referral's re-share, the match's offer, a message, an application with its re-share, a
    // report, a decision, a renewed consent declaration.
    let sealing = |method: &str, path: &str| {
        let posted = [
            "/changes",
            "/referral",
            "/signals",
            "/match",
            "/messages",
            "/applications",
            "/reports",
            "/decision",
            "/consent",
        ];
        method == "POST" && (path == "/v1/cases" || posted.iter().any(|p| path.ends_with(p)))
            || method == "PUT" && path.contains("/documents/")
    };
    let mut bodies = 0;
    for request in &traffic {
        let (method, path, body) = (
            request["method"].as_str().unwrap(),
            request["path"].as_str().unwrap(),
            request["body"].as_str().unwrap(),
        );
        if body.is_empty() || sealing(method, path) {
            continue;
        }
        bodies += 1;
        // The privacy officer's look-up sends the BSN typed in (to be turned into the
        // pseudonym), and nothing else.
        let lookup = method == "POST" && path == "/v1/audit/pseudonyms";
        if lookup {
            assert_eq!(
                body,
                json!({"identifier": client["fields"]["bsn"]}).to_string()
            );
            continue;
        }
        for value in &values {
            assert!(
                !body.contains(value.as_str()),
                "{method} {path} carries a field value"
            );
        }
    }
    assert!(
        bodies >= 4,
        "logins, the own password and the grant were recorded"
    );
    assert!(
        traffic
            .iter()
            .any(|r| sealing(r["method"].as_str().unwrap(), r["path"].as_str().unwrap()))
    );
    // Nothing sent opens a wrapped identity: every string of every body, tried as the
    // password (derived as the browser derives it) and as the seed of an identity.
    let mut wrappings = Vec::new();
    for username in [care[0].username.as_str(), NEWCOMER] {
        let user = app.store.user_by_name(username).await.unwrap().unwrap();
        let key = app.store.person_key(&user.id).await.unwrap().unwrap();
        let wrapped = base64::engine::general_purpose::STANDARD
            .decode(key.wrapped.unwrap())
            .unwrap();
        wrappings.push((username.to_owned(), wrapped));
    }
    let sent: std::collections::BTreeSet<String> = (traffic.iter())
        .flat_map(|r| strings(r["body"].as_str().unwrap()))
        .filter(|s| !s.is_empty() && s.len() < 4096)
        .collect();
    for value in &sent {
        let seed: [u8; 32] = sha2::Sha256::digest(value.as_bytes()).into();
        let as_seed = Identity::from_seed(&seed).unwrap();
        for (username, wrapped) in &wrappings {
            assert!(sealing::open(wrapped, &as_seed).is_err());
            let derived = PersonSecrets::derive(username, &Secret::new(value.clone())).unwrap();
            let as_password = Identity::from_seed(derived.seed()).unwrap();
            assert!(
                sealing::open(wrapped, &as_password).is_err(),
                "a value sent opens {username}'s identity"
            );
        }
    }
    // The case was referred to Hoorn, matched by Intermaris, its lease converted with its
    // three conditions, and replacement housing recorded, in the browser: the other
    // corporations with homes there lost their copies at the match (404 since), and Intermaris
    // opens exactly its categories (art. 9.5, 9.6, 9.9) of what the form sent.
    let case = results["case"].as_str().unwrap();
    let stored = app.store.case(case).await.unwrap().unwrap();
    // Last, replacement housing sent it back to the coordinator (art. 9.11).
    assert_eq!(stored.state, "assessed");
    let states = app.store.states(case).await.unwrap();
    assert_eq!(
        states[states.len() - 4..],
        ["matched", "housed", "lease_converted", "assessed"]
    );
    assert_eq!(stored.facts.lease_kind.as_deref(), Some("triangle"));
    assert_eq!(app.store.lease_conditions(case).await.unwrap().len(), 3);
    let parties = app.store.parties(case).await.unwrap();
    let mut orgs: Vec<&str> = parties.iter().map(|p| p.org_id.as_str()).collect();
    orgs.sort_unstable();
    assert_eq!(
        orgs,
        ["bct-westfriesland", "hoorn", "intermaris", "leviaan"]
    );
    let slice = app
        .client("intermaris")
        .await
        .slice(case, "matching")
        .await
        .unwrap();
    let identity = &app.party("intermaris").identity;
    let opened = sluis::client::open_slice(&slice, identity, &app.policy).unwrap();
    let fields: BTreeSet<&str> = opened.fields.keys().map(String::as_str).collect();
    let offer = ["offer_address", "offer_rent", "offer_viewing_on"];
    let expected: BTreeSet<&str> = CORPORATION_FIELDS.iter().copied().chain(offer).collect();
    assert_eq!(
        fields, expected,
        "what it receives at referral, and its own offer"
    );
    assert_eq!(opened.fields["full_name"], json!(CLIENT_NAME));
    let at_intermaris = opened.items;
    // The corporation's signal reached the coordinator (and nobody else: tests/lifecycle.rs).
    let coordinator = app.client("bct-westfriesland").await;
    let slice = coordinator.slice(case, "assessment").await.unwrap();
    let identity = &app.party("bct-westfriesland").identity;
    let opened = sluis::client::open_slice(&slice, identity, &app.policy).unwrap();
    let signals: Vec<&Value> = (opened.items.values())
        .filter_map(|item| item.get("signal_note"))
        .collect();
    assert_eq!(signals, [&json!("Twee maanden huur achter.")]);
    // So did the message written in the browser, to the care organisation and the
    // coordinator, beside the coordinator's own question to the care organisation.
    let messages: BTreeSet<&str> = (opened.items.values())
        .filter_map(|item| item.get("message_text")?.as_str())
        .collect();
    assert_eq!(
        messages,
        BTreeSet::from([
            "De bezichtiging is verschoven naar dinsdag.",
            "Graag de actuele stand van de schuldhulp."
        ])
    );
    // The offer typed in the browser reached the coordinator.
    assert_eq!(
        opened.fields["offer_address"],
        json!("Fictieve Dijk 12, 1621 AA Hoorn")
    );
    // The perspective plan uploaded later in the browser is the one the coordinator received.
    let plan = "%PDF-1.4\n% Perspectiefplan, bijgewerkt (fictief)\n%%EOF\n";
    assert_eq!(
        opened.fields["perspective_plan"],
        json!(base64::engine::general_purpose::STANDARD.encode(plan))
    );
    for revoked in ["het-grootslag", "wooncompagnie"] {
        let answer = app.client(revoked).await.slice(case, "matching").await;
        assert_eq!(answer.unwrap_err().status(), Some(404), "{revoked}");
    }
    // Hoorn, the municipality of the home, got at referral who the client is, the household
    // and the guide (policy [until_application]); the application made in the browser brought
    // it what its decision needs, re-shared by the care guide's page; it holds the application
    // and its decision, the consultation's report and its own hand-over report. Never the
    // offer, the placement or the housing history.
    let hoorn = app
        .client("hoorn")
        .await
        .slice(case, "guidance_decision")
        .await
        .unwrap();
    let categories: BTreeSet<&str> = hoorn.fields.iter().map(|f| f.category.as_str()).collect();
    assert_eq!(
        categories,
        BTreeSet::from([
            "application",
            "care_contact",
            "consultation",
            "debts",
            "handover",
            "health_care",
            "household",
            "identifiers",
            "income",
            "personalia",
            "perspective_plan"
        ])
    );
    let applications = app.store.applications(case).await.unwrap();
    assert_eq!(applications.len(), 1);
    assert_eq!(applications[0].outcome.as_deref(), Some("granted"));
    let thread = app.store.messages(case).await.unwrap();
    let kinds: Vec<&str> = thread.iter().map(|m| m.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "message",
            "message",
            "message",
            "client_consultation",
            "handover"
        ]
    );
    assert_eq!(thread[0].about, "assessment", "the coordinator's question");
    let acknowledged: Vec<&str> = (thread[3].to.iter())
        .filter(|a| a.acknowledged_at.is_some())
        .map(|a| a.org.as_str())
        .collect();
    assert_eq!(acknowledged, ["hoorn"], "the consultation's report");
    // The guide's reply answers the corporation's message, to the corporation alone, which
    // opens it.
    assert_eq!(thread[2].reply_to.as_deref(), Some(thread[1].id.as_str()));
    let to: Vec<&str> = thread[2].to.iter().map(|a| a.org.as_str()).collect();
    assert_eq!(to, ["intermaris"]);
    assert_eq!(
        at_intermaris[&thread[2].id]["message_text"],
        json!("Dinsdag past, de cliënt komt.")
    );
    // The renewed declaration recorded in the browser is the one in force.
    let consents = app.store.consents(case).await.unwrap();
    let statuses: Vec<&str> = consents.iter().map(|c| c.status.as_str()).collect();
    assert_eq!(statuses, ["superseded", "active"]);
    // The second client's case: withdrawn, every copy gone, and the receipt the guide
    // downloaded is the broker's, signed under the log's key.
    let erased = app.store.case(&second).await.unwrap().unwrap();
    assert_eq!(erased.state, "withdrawn");
    assert_eq!(app.store.sealed_count(&second).await.unwrap().0, 0);
    let receipt = results["receipt"].as_str().unwrap();
    assert_eq!(app.store.receipts(&second).await.unwrap(), [receipt]);
    let body = sluis::audit::open_note(receipt, &app.state.verifier_keys()).unwrap();
    assert!(body.contains(&format!("case {second}\n")), "{body}");
    // The first client's case is untouched by the second client's erasure.
    assert_eq!(
        app.store.case(case).await.unwrap().unwrap().state,
        "assessed"
    );
    app.broker.stop().await.unwrap();
}
