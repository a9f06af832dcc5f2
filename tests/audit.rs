//! The access log end to end, on every configured backend: events for every action and every
//! denial, atomicity with the action, append-only storage, tamper detection by `sluis audit
//! verify`, proofs served over HTTP, the client access report, and one log under concurrency.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use std::process::Command;

use common::{TestApp, TestDb};
use serde_json::{Value, json};
use sluis::api::{AccessReport, ProofBody};
use sluis::audit::{self, Event, VerifierKey};
use sluis::demo::fictional_registration;

const CARE: &str = "leviaan";
const COORDINATOR: &str = "bct-westfriesland";
const CORPORATION: &str = "intermaris";
const OFFICER: &str = "fg-westfriesland";

async fn all_events(app: &TestApp) -> Vec<Event> {
    all_events_of(&app.store).await
}

fn find<'a>(events: &'a [Event], action: &str, outcome: &str, org: Option<&str>) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| {
            e.action == action && e.outcome == outcome && (org.is_none() || e.org.as_deref() == org)
        })
        .collect()
}

async fn every_action_and_every_denial_writes_one_event(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let before = app.store.audit_size().await.unwrap();
    let case = app
        .submit_and_refer(CARE, &fictional_registration(), &["hoorn"])
        .await;
    app.client(CORPORATION)
        .await
        .slice(&case, "matching")
        .await
        .unwrap();
    // Denials: an outsider's download, a bad token, a wrong password, a non-auditor's query.
    let outsider = app.token("de-woonschakel").await;
    let (status, _, _) = app
        .raw(
            "GET",
            &format!("/v1/cases/{case}/slice?purpose=matching"),
            Some(&outsider),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _, _) = app.raw("GET", "/v1/cases", Some("not-a-token"), None).await;
    assert_eq!(status, 401);
    let wrong = json!({"username": "nobody", "password": "wrong"}).to_string();
    let (status, _, _) = app
        .raw(
            "POST",
            "/v1/auth/token",
            None,
            Some(("application/json", wrong.into_bytes())),
        )
        .await;
    assert_eq!(status, 401);
    let coordinator = app.token(COORDINATOR).await;
    let (status, _, _) = app
        .raw("GET", "/v1/audit/events", Some(&coordinator), None)
        .await;
    assert_eq!(status, 403);
    // Signals: the outsider's and the unknown user's denials show up.
    let signals: sluis::audit::Signals = serde_json::from_value(
        app.client(OFFICER)
            .await
            .get_json("/v1/audit/signals")
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        signals
            .denied_by_source
            .iter()
            .any(|c| c.key == "127.0.0.1" && c.count >= 3),
        "{signals:?}"
    );
    assert!(
        signals
            .most_viewed_clients
            .iter()
            .any(|c| c.key.starts_with("p-"))
    );
    // The privacy officer reads the log: that read is an event too.
    let officer = app.client(OFFICER).await;
    let listed: Vec<Event> = serde_json::from_value(
        officer
            .get_json(&format!("/v1/audit/events?case={case}"))
            .await
            .unwrap(),
    )
    .unwrap();

    let events = all_events(&app).await;
    assert!(before > 0, "enrolment is logged as admin changes");
    assert_eq!(
        find(&events[..before as usize], "admin", "allowed", None).len(),
        before as usize
    );
    let created = find(&events, "create", "allowed", Some(CARE));
    assert_eq!(created.len(), 1, "{backend}");
    assert_eq!(created[0].case.as_deref(), Some(case.as_str()));
    assert_eq!(
        created[0].fields.len(),
        55,
        "54 registration fields and the consent declaration"
    );
    assert!(
        created[0].consent.is_some(),
        "the consent record that allowed it"
    );
    assert!(
        created[0]
            .client
            .as_deref()
            .is_some_and(|c| c.starts_with("p-"))
    );
    let shared = find(&events, "share", "allowed", Some(COORDINATOR));
    assert_eq!(shared.len(), 1);
    assert_eq!(
        shared[0].recipients,
        ["het-grootslag", "hoorn", "intermaris", "wooncompagnie"],
        "a referral to Hoorn: the municipality and the corporations with homes there"
    );
    assert!(
        !shared[0].categories.contains(&"identifiers".to_string())
            && shared[0].categories.contains(&"personalia".to_string()),
        "the municipality's BSN waits for an application (policy [until_application])"
    );
    for never in ["placement", "housing_history", "assessment", "consent"] {
        assert!(
            !shared[0].categories.contains(&never.to_string()),
            "{never}"
        );
    }
    assert_eq!(
        find(&events, "update", "allowed", Some(COORDINATOR)).len(),
        1,
        "the acceptance"
    );
    let read = find(&events, "read", "allowed", Some(CORPORATION));
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].purpose.as_deref(), Some("matching"));
    assert_eq!(read[0].fields.len(), 27);
    assert_eq!(
        read[0].categories,
        [
            "care_contact",
            "debts",
            "dwelling_requirements",
            "household",
            "income",
            "personalia"
        ]
    );
    let denied_read = find(&events, "read", "denied", Some("de-woonschakel"));
    assert_eq!(denied_read.len(), 1);
    assert_eq!(
        denied_read[0].reason.as_deref(),
        Some("not a party to the case")
    );
    assert_eq!(denied_read[0].case.as_deref(), Some(case.as_str()));
    assert_eq!(find(&events, "authenticate", "denied", None).len(), 1);
    assert_eq!(find(&events, "login", "denied", None).len(), 1);
    assert!(!find(&events, "login", "allowed", Some(CORPORATION)).is_empty());
    assert_eq!(
        find(&events, "search", "denied", Some(COORDINATOR)).len(),
        1
    );
    assert_eq!(
        find(&events, "search", "allowed", Some(OFFICER)).len(),
        2,
        "signals and the query"
    );
    // Every event carries where it came from.
    assert!(read[0].source.as_deref() == Some("127.0.0.1") && read[0].request_id.is_some());
    // The officer's query saw this case's events, and none holds a value.
    assert!(
        listed.iter().any(|e| e.action == "create") && listed.iter().any(|e| e.outcome == "denied")
    );
    let text = serde_json::to_string(&events).unwrap();
    for value in ["Sanne", "111222333", "Kerkstraat", "06-12345678"] {
        assert!(!text.contains(value), "{backend}: a value in the log");
    }
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn every_action_and_every_denial_writes_one_event);

async fn an_action_that_rolls_back_leaves_no_event_and_events_cannot_be_changed(
    backend: &'static str,
) {
    let app = TestApp::start(backend).await;
    app.client(OFFICER)
        .await
        .post_json("/v1/audit/checkpoints", &Value::Null)
        .await
        .unwrap();
    let size = app.store.audit_size().await.unwrap();
    let again = app
        .store
        .add_organisation(CARE, "Leviaan", "care", Event::admin("duplicate".into()))
        .await;
    assert!(again.is_err(), "the organisation exists");
    assert_eq!(
        app.store.audit_size().await.unwrap(),
        size,
        "{backend}: no event for a rolled-back action"
    );
    assert_eq!(all_events(&app).await.len() as u64, size);

    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    for sql in [
        "UPDATE audit_events SET org_id = 'hoorn' WHERE seq = 1",
        "DELETE FROM audit_events WHERE seq = 1",
        "UPDATE audit_checkpoints SET size = 0",
    ] {
        let refused = sqlx::query(sql).execute(&pool).await;
        assert!(refused.is_err(), "{backend}: `{sql}` must be refused");
        assert!(refused.unwrap_err().to_string().contains("append-only"));
    }
    if backend == "postgres" {
        assert!(
            sqlx::query("TRUNCATE audit_events")
                .execute(&pool)
                .await
                .is_err()
        );
    }
    pool.close().await;
    assert_eq!(app.store.audit_size().await.unwrap(), size);
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn an_action_that_rolls_back_leaves_no_event_and_events_cannot_be_changed);

/// A copy of `db` with its append-only guard removed and `tamper` applied.
async fn tampered_copy(
    backend: &str,
    db: &TestDb,
    tamper: &str,
    dir: &std::path::Path,
    name: &str,
) -> String {
    sqlx::any::install_default_drivers();
    if backend == "sqlite" {
        let source = db.sqlite_file.as_ref().unwrap();
        let copy = dir.join(format!("{name}.db"));
        std::fs::copy(source, &copy).unwrap();
        if let Ok(wal) = std::fs::read(source.with_extension("db-wal")) {
            std::fs::write(copy.with_extension("db-wal"), wal).unwrap();
        }
        let url = format!("sqlite://{}", copy.display());
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::raw_sql("DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::raw_sql(tamper).execute(&pool).await.unwrap();
        pool.close().await;
        url
    } else {
        let admin = std::env::var("SLUIS_TEST_POSTGRES_URL").unwrap();
        let source = db.url.rsplit('/').next().unwrap();
        let copy = format!("{source}_{name}");
        let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
        // Sessions of processes that just exited may linger for a moment; a template needs none.
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()")
            .bind(source)
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query(&format!("CREATE DATABASE {copy} TEMPLATE {source}"))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let url = format!("{}/{copy}", admin.rsplit_once('/').unwrap().0);
        let pool = sqlx::AnyPool::connect(&url).await.unwrap();
        sqlx::raw_sql("ALTER TABLE audit_events DISABLE TRIGGER USER;")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::raw_sql(tamper).execute(&pool).await.unwrap();
        pool.close().await;
        url
    }
}

fn verify_cli(url: &str, vkey: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sluis"))
        .args(["audit", "verify", "--database", url, "--vkey", vkey])
        .env_remove("SLUIS_SIGNING_KEY_FILE")
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

async fn verify_names_the_first_bad_sequence_number_of_a_tampered_copy(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let case = app
        .submit_and_refer(CARE, &fictional_registration(), &["hoorn"])
        .await;
    app.client(CORPORATION)
        .await
        .slice(&case, "matching")
        .await
        .unwrap();
    let officer = app.client(OFFICER).await;
    officer
        .post_json("/v1/audit/checkpoints", &Value::Null)
        .await
        .unwrap();
    let vkey = officer.get_text("/v1/audit/vkey").await.unwrap();
    let size = app.store.audit_size().await.unwrap() as i64;
    assert!(size > 60, "{size}");
    let TestApp {
        db, store, broker, ..
    } = app;
    broker.stop().await.unwrap();
    store.close().await;

    let (ok, text) = verify_cli(&db.url, &vkey);
    assert!(ok, "{backend}: the untouched log verifies: {text}");
    assert!(
        text.contains(&format!("{size} events, 1 checkpoints")),
        "{text}"
    );

    let dir = tempfile::tempdir().unwrap();
    let cut = size - 3;
    for (name, tamper, expected) in [
        ("altered", "UPDATE audit_events SET org_id = 'hoorn' WHERE seq = 25;".to_string(), "seq 25: changed".to_string()),
        ("deleted", "DELETE FROM audit_events WHERE seq = 31;".to_string(), "seq 31: missing".to_string()),
        (
            "swapped",
            "UPDATE audit_events SET seq = -40 WHERE seq = 40; UPDATE audit_events SET seq = 40 WHERE seq = 41; UPDATE audit_events SET seq = 41 WHERE seq = -40;".to_string(),
            "seq 40: reordered".to_string(),
        ),
        ("truncated", format!("DELETE FROM audit_events WHERE seq > {cut};"), format!("seq {}: missing (truncated", cut + 1)),
    ] {
        let url = tampered_copy(backend, &db, &tamper, dir.path(), name).await;
        let (ok, text) = verify_cli(&url, &vkey);
        assert!(!ok, "{backend} {name}: must fail");
        assert!(text.contains(&expected), "{backend} {name}: expected `{expected}` in {text}");
    }
    // A forged key does not verify the genuine checkpoint.
    let mut key = VerifierKey::from_vkey(&vkey).unwrap();
    key.public_key[0] ^= 1;
    let (ok, text) = verify_cli(&db.url, &key.to_vkey());
    assert!(!ok && text.contains("signature invalid"), "{text}");
}
crate::per_backend!(#[tokio::test] async fn verify_names_the_first_bad_sequence_number_of_a_tampered_copy);

// Multi-threaded: the test runs the `sluis` binary against the in-process broker.
async fn proofs_served_over_http_verify_and_forgeries_do_not(backend: &'static str) {
    let app = TestApp::start(backend).await;
    app.submit_and_refer(CARE, &fictional_registration(), &["hoorn"])
        .await;
    let officer = app.client(OFFICER).await;
    let key = VerifierKey::from_vkey(&officer.get_text("/v1/audit/vkey").await.unwrap()).unwrap();
    officer
        .post_json("/v1/audit/checkpoints", &Value::Null)
        .await
        .unwrap();
    let first = audit::open_checkpoint(
        &officer.get_text("/v1/audit/checkpoint").await.unwrap(),
        &key,
    )
    .unwrap();
    app.submit_and_refer("parlan", &fictional_registration(), &["medemblik"])
        .await;
    officer
        .post_json("/v1/audit/checkpoints", &Value::Null)
        .await
        .unwrap();
    let second = audit::open_checkpoint(
        &officer.get_text("/v1/audit/checkpoint").await.unwrap(),
        &key,
    )
    .unwrap();
    assert!(second.size > first.size);

    let events = all_events(&app).await;
    let ceiling = (second.size as f64).log2().ceil() as usize;
    for seq in [1, first.size / 2, first.size, second.size] {
        let proof: ProofBody = serde_json::from_value(
            officer
                .get_json(&format!(
                    "/v1/audit/proofs/inclusion?seq={seq}&size={}",
                    second.size
                ))
                .await
                .unwrap(),
        )
        .unwrap();
        let hashes: Vec<[u8; 32]> = proof
            .hashes
            .iter()
            .map(|h| hex::decode(h).unwrap().try_into().unwrap())
            .collect();
        assert!(
            hashes.len() <= ceiling,
            "{} hashes for {} leaves",
            hashes.len(),
            second.size
        );
        let event = &events[seq as usize - 1];
        assert!(
            audit::verify_inclusion(event, second.size, &second.root, &hashes),
            "{backend} seq {seq}"
        );
        let mut forged = hashes.clone();
        if let Some(h) = forged.first_mut() {
            h[31] ^= 1;
            assert!(!audit::verify_inclusion(
                event,
                second.size,
                &second.root,
                &forged
            ));
        }
        let other = &events[(seq as usize) % events.len()];
        assert!(
            !audit::verify_inclusion(other, second.size, &second.root, &hashes)
                || other.seq == event.seq
        );
    }
    let proof: ProofBody = serde_json::from_value(
        officer
            .get_json(&format!(
                "/v1/audit/proofs/consistency?from={}&to={}",
                first.size, second.size
            ))
            .await
            .unwrap(),
    )
    .unwrap();
    let hashes: Vec<[u8; 32]> = proof
        .hashes
        .iter()
        .map(|h| hex::decode(h).unwrap().try_into().unwrap())
        .collect();
    assert!(hashes.len() <= ceiling + 1);
    assert!(audit::verify_consistency(
        first.size,
        &first.root,
        second.size,
        &second.root,
        &hashes
    ));
    let mut wrong_root = first.root;
    wrong_root[0] ^= 1;
    assert!(!audit::verify_consistency(
        first.size,
        &wrong_root,
        second.size,
        &second.root,
        &hashes
    ));

    // A kept checkpoint checked against the live broker with the CLI.
    let dir = tempfile::tempdir().unwrap();
    let kept = dir.path().join("kept.note");
    std::fs::write(&kept, &first.note).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sluis"))
        .args([
            "audit",
            "verify",
            "--vkey",
            &key.to_vkey(),
            "--proofs-from",
            &app.broker.base_url,
            "--checkpoint",
        ])
        .arg(&kept)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn proofs_served_over_http_verify_and_forgeries_do_not);

async fn the_privacy_officer_gets_a_provable_access_report_per_client(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let first = app
        .submit_and_refer(CARE, &fictional_registration(), &["hoorn"])
        .await;
    // The same client registered again by another organisation: the same pseudonym.
    let second = app
        .submit_and_refer("parlan", &fictional_registration(), &["medemblik"])
        .await;
    app.client(CORPORATION)
        .await
        .slice(&first, "matching")
        .await
        .unwrap();
    // The pseudonym links a client's cases: the coordinator's business, not the other parties'.
    let coordinator = app.client(COORDINATOR).await;
    let meta = coordinator
        .get_json(&format!("/v1/cases/{first}"))
        .await
        .unwrap();
    let pseudonym = meta["client_pseudonym"].as_str().unwrap().to_owned();
    let meta2 = coordinator
        .get_json(&format!("/v1/cases/{second}"))
        .await
        .unwrap();
    assert_eq!(meta2["client_pseudonym"].as_str(), Some(pseudonym.as_str()));
    for (org, case) in [(CARE, &first), ("parlan", &second)] {
        let meta = app
            .client(org)
            .await
            .get_json(&format!("/v1/cases/{case}"))
            .await
            .unwrap();
        assert!(
            meta["client_pseudonym"].is_null(),
            "{backend}: {org} sees the pseudonym"
        );
    }

    let officer = app.client(OFFICER).await;
    let report: AccessReport = serde_json::from_value(
        officer
            .get_json(&format!("/v1/audit/clients/{pseudonym}/report"))
            .await
            .unwrap(),
    )
    .unwrap();
    let key = VerifierKey::from_vkey(&officer.get_text("/v1/audit/vkey").await.unwrap()).unwrap();
    let cp = audit::open_checkpoint(&report.checkpoint.note, &key).unwrap();
    let actions: Vec<(&str, &str)> = report
        .events
        .iter()
        .map(|e| {
            (
                e.event.action.as_str(),
                e.event.org.as_deref().unwrap_or(""),
            )
        })
        .collect();
    for expected in [
        ("create", CARE),
        ("share", COORDINATOR),
        ("read", CORPORATION),
        ("create", "parlan"),
        ("read", COORDINATOR),
    ] {
        assert!(
            actions.contains(&expected),
            "{backend}: {expected:?} not in {actions:?}"
        );
    }
    for entry in &report.events {
        let proof: Vec<[u8; 32]> = entry
            .proof
            .iter()
            .map(|h| hex::decode(h).unwrap().try_into().unwrap())
            .collect();
        assert!(
            audit::verify_inclusion(&entry.event, cp.size, &cp.root, &proof),
            "seq {}",
            entry.event.seq
        );
    }
    // The report itself was recorded, as an export about this client.
    let events = all_events(&app).await;
    let exports = find(&events, "export", "allowed", Some(OFFICER));
    assert_eq!(exports.len(), 1);
    assert_eq!(exports[0].client.as_deref(), Some(pseudonym.as_str()));
    // CSV export: a header and one row per event.
    let csv = officer
        .get_text(&format!("/v1/audit/events?client={pseudonym}&format=csv"))
        .await
        .unwrap();
    assert!(csv.starts_with("seq,time,action,outcome,reason,user,user_name,role,"));
    assert!(csv.lines().count() > report.events.len());
    // Each event names its user by login name beside the id, in the report and the listing,
    // and the listing filters by either.
    let reader = report
        .events
        .iter()
        .find(|e| e.event.action == "read" && e.event.org.as_deref() == Some(CORPORATION))
        .unwrap();
    assert_eq!(reader.user_name.as_deref(), Some("intermaris-system"));
    let by_name = officer
        .get_json("/v1/audit/events?user=intermaris-system")
        .await
        .unwrap();
    let by_name = by_name.as_array().unwrap();
    assert!(!by_name.is_empty());
    for listed in by_name {
        assert_eq!(listed["user_name"], "intermaris-system", "{backend}");
        assert_eq!(listed["user"].as_str(), reader.event.user.as_deref());
    }
    let by_id = officer
        .get_json(&format!(
            "/v1/audit/events?user={}",
            reader.event.user.as_deref().unwrap()
        ))
        .await
        .unwrap();
    assert_eq!(by_id.as_array().unwrap().len(), by_name.len());
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn the_privacy_officer_gets_a_provable_access_report_per_client);

async fn concurrent_requests_and_two_brokers_make_one_consistent_log(backend: &'static str) {
    let app = TestApp::start(backend).await;
    // A second broker process-equivalent: its own pool and server on the same database.
    let store2 = sluis::store::Store::connect(&app.db.url).await.unwrap();
    let state2 = sluis::api::AppState::ephemeral(store2.clone(), app.policy.clone());
    let broker2 = sluis::api::RunningBroker::start(state2, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let key = sluis::auth::Secret::new(app.party(CARE).api_key.expose().to_owned());
    let other = sluis::client::Client::new(&broker2.base_url)
        .login(&sluis::client::Credentials::ApiKey(key))
        .await
        .unwrap();
    let here = app.client(CARE).await;
    let before = app.store.audit_size().await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let c = if i % 2 == 0 {
            here.clone()
        } else {
            other.clone()
        };
        tasks.push(tokio::spawn(async move {
            let answer = c
                .submit(
                    "registration",
                    &fictional_registration(),
                    &sluis::demo::fictional_consent(),
                )
                .await
                .unwrap();
            let case = answer["id"].as_str().unwrap().to_owned();
            c.slice(&case, "guidance").await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let log = app.store.audit_log().await.unwrap();
    assert_eq!(
        log.len() as u64,
        before + 32,
        "{backend}: 16 creates and 16 reads"
    );
    assert!(
        log.iter()
            .enumerate()
            .all(|(i, s)| s.event.seq == i as i64 + 1)
    );
    let state = sluis::api::AppState::ephemeral(app.store.clone(), app.policy.clone());
    let cp = state.checkpoint().await.unwrap();
    let report = audit::verify(&log, &[cp.note], &state.verifier_keys());
    assert!(report.ok, "{backend}: {:?}", report.first_problem);
    broker2.stop().await.unwrap();
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn concurrent_requests_and_two_brokers_make_one_consistent_log);

/// The stored tree against an independent one (ct-merkle over the events' canonical
/// encodings): events appended by concurrent requests (group commit), then the tree of a log
/// from before the tree was stored, rebuilt when the store opens.
async fn the_stored_tree_gives_the_rfc_9162_roots_and_proofs_and_is_rebuilt_on_upgrade(
    backend: &'static str,
) {
    let db = TestDb::new(backend).await;
    let store = sluis::store::Store::connect(&db.url).await.unwrap();
    let tasks: Vec<_> = (0..37)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut e = Event::new("read", "allowed");
                e.client = Some(format!("client-{}", i % 3));
                store.record(e).await.unwrap()
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap().seq);
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=37).collect::<Vec<i64>>(), "{backend}");
    let check = |store: sluis::store::Store| async move {
        let events = all_events_of(&store).await;
        for size in [1u64, 2, 13, 32, 37] {
            let tree = audit::Tree::of(&events[..size as usize]);
            assert_eq!(store.tree_root(size).await.unwrap(), tree.root(), "{size}");
            for seq in [1, size / 2 + 1, size] {
                assert_eq!(
                    Some(store.inclusion_proof(seq, size).await.unwrap()),
                    tree.inclusion_proof(seq),
                    "{seq} in {size}"
                );
            }
            assert_eq!(
                Some(
                    store
                        .consistency_proof(size.div_ceil(3), size)
                        .await
                        .unwrap()
                ),
                tree.consistency_proof(size.div_ceil(3)),
                "{size}"
            );
        }
        let mine = store
            .client_events("client-1", 30, None, None)
            .await
            .unwrap();
        let seqs: Vec<i64> = mine.iter().map(|e| e.seq).collect();
        let expected: Vec<i64> = events
            .iter()
            .filter(|e| e.client.as_deref() == Some("client-1") && e.seq <= 30)
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, expected);
        assert_eq!(seqs.len(), 10);
        store.close().await;
    };
    check(store).await;
    // A log written before the tree was stored: its nodes are not there.
    let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let unlock = if backend == "sqlite" {
        "DROP TRIGGER audit_nodes_no_delete;"
    } else {
        "ALTER TABLE audit_nodes DISABLE TRIGGER USER;"
    };
    sqlx::raw_sql(unlock).execute(&pool).await.unwrap();
    sqlx::raw_sql("DELETE FROM audit_nodes")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let store = sluis::store::Store::connect(&db.url).await.unwrap();
    check(store).await;
}
crate::per_backend!(#[tokio::test] async fn the_stored_tree_gives_the_rfc_9162_roots_and_proofs_and_is_rebuilt_on_upgrade);

async fn all_events_of(store: &sluis::store::Store) -> Vec<Event> {
    store
        .audit_log()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.event)
        .collect()
}

/// The privacy officer finds a client by the BSN typed in: the broker gives the pseudonym the
/// log keys the client by; the look-up is an event, the BSN is kept nowhere, and no other role
/// may look up.
async fn the_privacy_officer_finds_a_client_by_the_bsn(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let fields = sluis::demo::fictional_registration();
    let bsn = fields["bsn"].as_str().unwrap().to_owned();
    let case = app.submit(CARE, &fields).await;
    let known = app
        .client(COORDINATOR)
        .await
        .get_json(&format!("/v1/cases/{case}"))
        .await
        .unwrap()["client_pseudonym"]
        .as_str()
        .unwrap()
        .to_owned();
    let ask = |org: &'static str, identifier: &str| {
        let body = serde_json::json!({ "identifier": identifier }).to_string();
        let app = &app;
        async move {
            let token = app.token(org).await;
            app.raw(
                "POST",
                "/v1/audit/pseudonyms",
                Some(&token),
                Some(("application/json", body.into_bytes())),
            )
            .await
        }
    };
    let (status, _, body) = ask(OFFICER, &bsn).await;
    assert_eq!(status, 200, "{backend}: {body}");
    let found: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        found["pseudonym"].as_str(),
        Some(known.as_str()),
        "{backend}"
    );
    let (status, _, body) = ask(OFFICER, "123456780").await;
    assert_eq!(status, 422, "{backend}: {body}");
    assert!(!body.contains("123456780"));
    let (status, _, _) = ask(CARE, &bsn).await;
    assert_eq!(
        status, 403,
        "{backend}: only the privacy officer looks clients up"
    );
    let log = all_events(&app).await;
    let lookups: Vec<_> = log
        .iter()
        .filter(|e| e.reason.as_deref() == Some("client pseudonym look-up"))
        .collect();
    assert_eq!(lookups.len(), 1, "{backend}");
    assert_eq!(lookups[0].client.as_deref(), Some(known.as_str()));
    let dump = app.store.dump_text().await.unwrap();
    assert!(!dump.contains(&bsn), "{backend}: the BSN is kept nowhere");
}
crate::per_backend!(#[tokio::test] async fn the_privacy_officer_finds_a_client_by_the_bsn);

/// Access events past their retention expire (`sluis audit expire`, policy `[audit]
/// retention_years` = 5): the events of 2019 lose their content, keep their place and hashes,
/// and the log — its chain, its tree, both checkpoints — still verifies; the events of 2025
/// stay whole and provable. The database itself refuses to delete an event younger than five
/// years, even with a stub in place, and an old one without its stub.
async fn events_past_their_retention_expire_and_the_log_still_verifies(backend: &'static str) {
    use sluis::clock::Clock;
    use time::macros::date;
    let clock = Clock::manual(date!(2019 - 01 - 01).midnight().assume_utc());
    let app = TestApp::on(backend).clock(clock.clone()).start().await;
    let submit = |on: time::Date| {
        let app = &app;
        async move {
            let answer = app
                .client(CARE)
                .await
                .submit(
                    "registration",
                    &fictional_registration(),
                    &sluis::demo::fictional_consent_on(on),
                )
                .await
                .unwrap();
            answer["id"].as_str().unwrap().to_owned()
        }
    };
    submit(date!(2019 - 01 - 01)).await;
    app.state.checkpoint().await.unwrap();
    clock.set(date!(2025 - 06 - 01).midnight().assume_utc());
    let recent = submit(date!(2025 - 06 - 01)).await;
    app.client(COORDINATOR)
        .await
        .slice(&recent, "assessment")
        .await
        .unwrap();
    app.state.checkpoint().await.unwrap();
    let before = app.store.audit_log().await.unwrap();
    let old = before
        .iter()
        .filter(|s| s.event.time.starts_with("2019-"))
        .count();
    assert!(
        old > 20 && old < before.len(),
        "{backend}: {old} of {}",
        before.len()
    );

    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    // An old event without its stub, and a young one even with a stub, cannot be deleted.
    let refused = sqlx::query("DELETE FROM audit_events WHERE seq = 1")
        .execute(&pool)
        .await;
    assert!(
        refused.unwrap_err().to_string().contains("append-only"),
        "{backend}"
    );
    let young = before.last().unwrap().event.seq;
    let mut tx = pool.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO audit_expired (seq, time, leaf_hash, chain_hash) \
         SELECT seq, time, leaf_hash, chain_hash FROM audit_events WHERE seq = $1",
    )
    .bind(young)
    .execute(&mut *tx)
    .await
    .unwrap();
    let refused = sqlx::query("DELETE FROM audit_events WHERE seq = $1")
        .bind(young)
        .execute(&mut *tx)
        .await;
    assert!(
        refused.unwrap_err().to_string().contains("append-only"),
        "{backend}"
    );
    tx.rollback().await.unwrap();
    pool.close().await;

    // The operator's verb, by the system clock: everything before December 2021 or so expires.
    let out = Command::new(env!("CARGO_BIN_EXE_sluis"))
        .args(["audit", "expire", "--database", &app.db.url, "--policy"])
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/policy"))
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
        stdout.starts_with(&format!("{old} access events before ")),
        "{stdout}"
    );

    let after = app.store.audit_log().await.unwrap();
    assert_eq!(
        after.len(),
        before.len() + 1,
        "{backend}: the expiry is an event"
    );
    for (was, now) in before.iter().zip(&after) {
        assert_eq!(
            (was.event.seq, &was.leaf_hash),
            (now.event.seq, &now.leaf_hash)
        );
        if was.event.time.starts_with("2019-") {
            assert!(now.expired && now.event.case.is_none() && now.event.org.is_none());
        } else {
            assert_eq!(now, was, "{backend}: a recent event stays whole");
        }
    }
    let expiry = &after.last().unwrap().event;
    assert_eq!(expiry.action, "delete");
    assert!(
        expiry
            .reason
            .as_deref()
            .unwrap()
            .contains("retention_years = 5"),
        "{expiry:?}"
    );
    let report = app
        .store
        .verify_log(&app.state.verifier_keys())
        .await
        .unwrap();
    assert!(report.ok, "{backend}: {:?}", report.first_problem);
    assert_eq!((report.expired, report.checkpoints), (old as u64, 2));
    let vkey = app.state.verifier_keys()[0].to_vkey();
    let (ok, text) = verify_cli(&app.db.url, &vkey);
    assert!(
        ok && text.contains("access log verified"),
        "{backend}: {text}"
    );
    // The recent events are still found and proven for the privacy officer.
    let size = app.store.audit_size().await.unwrap();
    let recent_read = after
        .iter()
        .find(|s| s.event.action == "read" && s.event.case.as_deref() == Some(recent.as_str()))
        .unwrap();
    let proof = app
        .store
        .inclusion_proof(recent_read.event.seq as u64, size)
        .await
        .unwrap();
    let root = app.store.tree_root(size).await.unwrap();
    assert!(
        audit::verify_inclusion(&recent_read.event, size, &root, &proof),
        "{backend}"
    );
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn events_past_their_retention_expire_and_the_log_still_verifies);
