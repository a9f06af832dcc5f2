//! Retention (policy `[retention]`): `sluis purge` deletes exactly the age files of closed
//! cases past their time (crypto-shredding; the access log keeps its events and still
//! verifies), writes one event per case, and signs a deletion receipt that the log's verifier
//! key checks and a forged one fails. The store's clock is set. On both backends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use common::TestApp;
use serde_json::json;
use sluis::clock::Clock;
use sluis::demo::{checklist, fictional_consent_on, fictional_registration};
use time::macros::date;

const CARE: &str = "leviaan";
const COORDINATOR: &str = "bct-westfriesland";

async fn purge_deletes_exactly_what_is_past_its_time(backend: &'static str) {
    let clock = Clock::manual(date!(2026 - 01 - 01).midnight().assume_utc());
    let app = TestApp::on(backend).clock(clock.clone()).start().await;
    let care = app.client(CARE).await;
    let submit = || async {
        let answer = care
            .submit(
                "registration",
                &fictional_registration(),
                &fictional_consent_on(date!(2026 - 01 - 01)),
            )
            .await
            .unwrap();
        answer["id"].as_str().unwrap().to_owned()
    };
    let coordinator = app.client(COORDINATOR).await;
    let mut reject = checklist(&app.policy, Some("searched_first"));
    reject["decision_reason"] = json!("Fictief.");
    // Rejected on 2026-01-01: kept 365 days. Another rejected on 2026-03-01. One still open.
    let early = submit().await;
    coordinator
        .step(
            &early,
            "assessment",
            &json!({"decision": "reject", "fields": reject}),
        )
        .await
        .unwrap();
    clock.set(date!(2026 - 03 - 01).midnight().assume_utc());
    let late = submit().await;
    coordinator
        .step(
            &late,
            "assessment",
            &json!({"decision": "reject", "fields": reject}),
        )
        .await
        .unwrap();
    let open = submit().await;
    let files = |case: String| {
        let store = app.store.clone();
        async move { store.sealed_count(&case).await.unwrap().0 }
    };
    let (early_files, late_files, open_files) = (
        files(early.clone()).await,
        files(late.clone()).await,
        files(open.clone()).await,
    );
    assert!(early_files > 50 && late_files > 50 && open_files > 50);

    // Day 365 after closing: nothing is due yet.
    clock.set(date!(2027 - 01 - 01).midnight().assume_utc());
    assert!(app.state.purge().await.unwrap().is_empty(), "{backend}");
    // Day 366: the early rejection only.
    clock.set(date!(2027 - 01 - 02).midnight().assume_utc());
    let purged = app.state.purge().await.unwrap();
    assert_eq!(purged.len(), 1, "{backend}");
    assert_eq!(purged[0].case, early);
    assert_eq!(purged[0].state, "rejected");
    assert!(purged[0].fields.contains(&"bsn".to_owned()));
    assert!(purged[0].fields.contains(&"criteria_checklist".to_owned()));
    assert!(
        purged[0]
            .rule
            .starts_with("retention.rejected: 365 days after 2026-01-01"),
        "{}",
        purged[0].rule
    );
    assert_eq!(files(early.clone()).await, 0, "{backend}: crypto-shredded");
    assert_eq!(files(late.clone()).await, late_files);
    assert_eq!(files(open.clone()).await, open_files);
    // Run again: nothing more.
    assert!(app.state.purge().await.unwrap().is_empty());

    // The receipt verifies with the log's verifier key; a forged one does not.
    let receipt = purged[0].receipt.clone();
    let keys = app.state.verifier_keys();
    let body = sluis::audit::open_note(&receipt, &keys).unwrap();
    assert!(body.contains(&format!("case {early}\n")), "{body}");
    assert!(body.contains("\ndeletion receipt\n"));
    let forged = receipt.replace("state rejected", "state ended");
    assert!(sluis::audit::open_note(&forged, &keys).is_err());
    let other = sluis::auth::SigningKey::ephemeral();
    let foreign = sluis::auth::LogSigner {
        key: &other,
        origin: &app.state.log_origin,
    };
    let foreign = sluis::audit::sign_note(&foreign, &purged[0].receipt_body(&app.state.log_origin));
    assert!(sluis::audit::open_note(&foreign, &keys).is_err());

    // One event for the purge, naming the fields; the log still verifies.
    let log = app.store.audit_log().await.unwrap();
    let deletions: Vec<_> = log
        .iter()
        .filter(|s| s.event.action == "delete" && s.event.case.as_deref() == Some(early.as_str()))
        .collect();
    assert_eq!(deletions.len(), 1, "{backend}");
    assert_eq!(deletions[0].event.fields, purged[0].fields);
    let notes = app.store.checkpoint_notes().await.unwrap();
    let report = sluis::audit::verify(&log, &notes, &keys);
    assert!(report.ok, "{backend}: {:?}", report.first_problem);
    // The receipt is kept: the care organisation and the coordinator fetch it (long after
    // their closed-case access ended); the open case has none.
    let receipts = |org: &'static str, case: String| {
        let app = &app;
        async move {
            let path = format!("/v1/cases/{case}/receipts");
            app.client(org).await.get_json(&path).await.unwrap()["receipts"].clone()
        }
    };
    assert_eq!(
        receipts(CARE, early.clone()).await,
        json!([receipt]),
        "{backend}"
    );
    assert_eq!(receipts(COORDINATOR, early.clone()).await, json!([receipt]));
    assert_eq!(receipts(CARE, open.clone()).await, json!([]));
    let outsider = app.client("intermaris").await;
    let path = format!("/v1/cases/{early}/receipts");
    assert_eq!(
        outsider.get_json(&path).await.unwrap_err().status(),
        Some(404)
    );
    // The purged case serves nothing any more, to its care organisation either.
    let slice = care.slice(&early, "guidance").await;
    assert!(
        slice.is_err() || slice.unwrap().fields.is_empty(),
        "{backend}"
    );
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn purge_deletes_exactly_what_is_past_its_time);

/// A fresh signing key for the broker, as a PEM file in `dir`.
fn signing_key_file(dir: &std::path::Path) -> std::path::PathBuf {
    let key_file = dir.join("signing.pem");
    let pem = sluis::auth::SigningKey::to_pem(&sluis::auth::SigningKey::generate_pkcs8());
    std::fs::write(&key_file, pem.as_bytes()).unwrap();
    key_file
}

/// A broker on SQLite, stopped, whose one case was rejected on 2020-01-01: by the system clock
/// long past its 365 days.
async fn rejected_in_2020() -> (common::TestDb, sluis::store::Store, String) {
    let clock = Clock::manual(date!(2020 - 01 - 01).midnight().assume_utc());
    let app = TestApp::on("sqlite").clock(clock).start().await;
    let answer = app
        .client(CARE)
        .await
        .submit(
            "registration",
            &fictional_registration(),
            &fictional_consent_on(date!(2020 - 01 - 01)),
        )
        .await
        .unwrap();
    let case = answer["id"].as_str().unwrap().to_owned();
    let mut reject = checklist(&app.policy, Some("searched_first"));
    reject["decision_reason"] = json!("Fictief.");
    app.client(COORDINATOR)
        .await
        .step(
            &case,
            "assessment",
            &json!({"decision": "reject", "fields": reject}),
        )
        .await
        .unwrap();
    app.broker.stop().await.unwrap();
    (app.db, app.store, case)
}

/// `sluis purge` as an operator runs it: the configuration's database, signing key and log
/// origin; each receipt printed and written to `--receipts DIR`, verifiable with the key.
#[tokio::test]
async fn the_purge_verb_prints_and_writes_verifiable_receipts() {
    let (db, store, case) = rejected_in_2020().await;
    let dir = tempfile::tempdir().unwrap();
    let key_file = signing_key_file(dir.path());
    let receipts = dir.path().join("receipts");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluis"))
        .args(["purge", "--database", &db.url, "--receipts"])
        .arg(&receipts)
        .env("SLUIS_SIGNING_KEY_FILE", &key_file)
        .env("SLUIS_LOG_ORIGIN", "sluis.test/access-log")
        .env(
            "SLUIS_POLICY_DIR",
            concat!(env!("CARGO_MANIFEST_DIR"), "/policy"),
        )
        .env("SLUIS_MIGRATE", "false")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("sluis.test/access-log\ndeletion receipt\n"),
        "{stdout}"
    );
    let written = std::fs::read_to_string(receipts.join(format!("{case}.note"))).unwrap();
    let key = sluis::auth::SigningKey::from_pem_file(&key_file).unwrap();
    let body =
        sluis::audit::open_note(&written, &[key.verifier_key("sluis.test/access-log")]).unwrap();
    assert!(body.contains(&format!("case {case}\n")), "{body}");
    assert!(
        body.contains("rule retention.rejected: 365 days after 2020-01-01"),
        "{body}"
    );
    // The verb that checks a receipt: this one verifies, an altered one does not.
    let vkey = key.verifier_key("sluis.test/access-log").to_vkey();
    let check = |file: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_sluis"))
            .args(["audit", "receipt", "--vkey", &vkey])
            .arg(file)
            .output()
            .unwrap()
    };
    let good = check(&receipts.join(format!("{case}.note")));
    assert!(good.status.success());
    assert!(String::from_utf8_lossy(&good.stdout).ends_with("receipt verified\n"));
    let forged = dir.path().join("forged.note");
    std::fs::write(&forged, written.replace("state rejected", "state ended")).unwrap();
    let bad = check(&forged);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("receipt signature invalid"));
    assert_eq!(store.sealed_count(&case).await.unwrap().0, 0);
}

/// An erasure request (AVG art. 17) by the care organisation: every party's copies of every
/// case of that client go at once — her case with Parlan too — open cases are withdrawn, and
/// each case gets a deletion receipt the log's key verifies. Another client is untouched; a
/// corporation may not ask it, an outsider gets 404.
async fn an_erasure_request_deletes_every_copy_of_the_client(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let first = app
        .submit_and_refer(CARE, &fictional_registration(), &["hoorn"])
        .await;
    let second = app
        .submit_and_refer("parlan", &fictional_registration(), &["medemblik"])
        .await;
    let other = app.submit(CARE, &sluis::demo::second_registration()).await;
    let before_other = app.store.sealed_count(&other).await.unwrap();
    let ask = |org: &'static str| {
        let app = &app;
        let first = first.clone();
        async move {
            app.client(org)
                .await
                .step(&first, "erasure", &json!({}))
                .await
        }
    };
    assert_eq!(
        ask("intermaris").await.unwrap_err().status(),
        Some(403),
        "{backend}"
    );
    assert_eq!(
        ask("de-woonschakel").await.unwrap_err().status(),
        Some(404),
        "{backend}"
    );
    assert!(app.store.sealed_count(&first).await.unwrap().0 > 0);

    let done = ask(CARE).await.unwrap();
    let receipts = done["receipts"].as_array().unwrap();
    assert_eq!(receipts.len(), 2, "{backend}: both cases of the client");
    let keys = app.state.verifier_keys();
    // The receipts are kept for the case: the care organisation fetches them again; a referred
    // corporation may not.
    let path = format!("/v1/cases/{first}/receipts");
    let kept = app.client(CARE).await.get_json(&path).await.unwrap();
    assert!(receipts.contains(&kept["receipts"][0]), "{backend}: {kept}");
    assert_eq!(kept["receipts"].as_array().unwrap().len(), 1);
    let corporation = app.client("intermaris").await.get_json(&path).await;
    assert_eq!(corporation.unwrap_err().status(), Some(403), "{backend}");
    for (receipt, case) in receipts.iter().zip({
        let mut both = [first.clone(), second.clone()];
        both.sort();
        both
    }) {
        let body = sluis::audit::open_note(receipt.as_str().unwrap(), &keys).unwrap();
        assert!(body.contains(&format!("case {case}\n")), "{body}");
        assert!(
            body.contains("rule erasure request (AVG art. 17)\n"),
            "{body}"
        );
        assert_eq!(
            app.store.sealed_count(&case).await.unwrap(),
            (0, 0),
            "{backend}"
        );
        let case = app.store.case(&case).await.unwrap().unwrap();
        assert_eq!(case.state, "withdrawn");
        assert_eq!(
            app.store.consent(&case.id).await.unwrap().unwrap().status,
            "withdrawn"
        );
    }
    assert_eq!(app.store.sealed_count(&other).await.unwrap(), before_other);
    let log = app.store.audit_log().await.unwrap();
    let notes = app.store.checkpoint_notes().await.unwrap();
    assert!(sluis::audit::verify(&log, &notes, &keys).ok, "{backend}");
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn an_erasure_request_deletes_every_copy_of_the_client);

/// `sluis serve` purges by itself: at start (then every `purge_interval`) a case past its
/// retention is crypto-shredded and its receipt kept, verifiable with the broker's key.
#[tokio::test]
async fn the_broker_purges_at_start_and_keeps_the_receipt() {
    let (db, store, case) = rejected_in_2020().await;
    assert!(store.sealed_count(&case).await.unwrap().0 > 0);
    let dir = tempfile::tempdir().unwrap();
    let key_file = signing_key_file(dir.path());
    let (server, _base) = common::serve_process(&db.url, &key_file);
    // Bounded wait for the start-up purge (not a timing expectation: 60 s is ample anywhere).
    let mut kept = Vec::new();
    for _ in 0..600 {
        kept = store.receipts(&case).await.unwrap();
        if !kept.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    drop(server);
    assert_eq!(kept.len(), 1, "the broker kept no receipt");
    let key = sluis::auth::SigningKey::from_pem_file(&key_file).unwrap();
    let vkey = key.verifier_key(sluis::api::DEFAULT_LOG_ORIGIN);
    let body = sluis::audit::open_note(&kept[0], &[vkey]).unwrap();
    assert!(body.contains(&format!("case {case}\n")), "{body}");
    assert!(
        body.contains("rule retention.rejected: 365 days after 2020-01-01"),
        "{body}"
    );
    assert_eq!(store.sealed_count(&case).await.unwrap(), (0, 0));
}
