//! Faults: the real broker killed with SIGKILL in the middle of a burst of submissions and
//! downloads (bounded, on 127.0.0.1), then restarted on the same database. Every submission
//! that was answered 2xx is complete and readable, none left a half-written case, and the
//! access log verifies.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::TestDb;
use sluis::auth::Secret;
use sluis::client::{self, Client, Credentials};
use sluis::demo::{enrol_parties, fictional_consent, fictional_registration};
use sluis::store::Store;

async fn a_killed_broker_leaves_only_whole_cases_and_a_verifiable_log(backend: &'static str) {
    let db = TestDb::new(backend).await;
    let store = Store::connect(&db.url).await.unwrap();
    let policy = Arc::new(common::policy());
    let parties = enrol_parties(&store, &policy).await.unwrap();
    let party = |org: &str| parties.iter().find(|p| p.org == org).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("signing.pem");
    std::fs::write(
        &key,
        sluis::auth::SigningKey::to_pem(&sluis::auth::SigningKey::generate_pkcs8()).as_bytes(),
    )
    .unwrap();

    let (server, base) = common::serve_process(&db.url, &key);
    let login = |org: &str, base: String| {
        let key = Secret::new(party(org).api_key.expose().to_owned());
        async move {
            Client::new(&base)
                .login(&Credentials::ApiKey(key))
                .await
                .unwrap()
        }
    };
    let care = login("leviaan", base.clone()).await;
    // A bounded burst: 48 submissions at once, each followed by a download. The broker is
    // killed as soon as 8 were answered, with the rest in flight.
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..48 {
        let c = care.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let answer = c
                .submit(
                    "registration",
                    &fictional_registration(),
                    &fictional_consent(),
                )
                .await
                .ok()?;
            let case = answer["id"].as_str()?.to_owned();
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let _ = c.slice(&case, "guidance").await;
            Some(case)
        }));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while done.load(std::sync::atomic::Ordering::SeqCst) < 8 && std::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    drop(server); // SIGKILL, mid-burst
    let mut answered = Vec::new();
    for t in tasks {
        if let Some(case) = tokio::time::timeout(Duration::from_secs(30), t)
            .await
            .unwrap()
            .unwrap()
        {
            answered.push(case);
        }
    }
    assert!(
        !answered.is_empty() && answered.len() < 48,
        "{backend}: the kill must land mid-burst ({} answered)",
        answered.len()
    );

    let (server, base) = common::serve_process(&db.url, &key);
    let care = login("leviaan", base.clone()).await;
    // Every case answered 2xx is whole: all 55 sealed fields open for the care organisation.
    for case in &answered {
        let slice = care.slice(case, "guidance").await.unwrap();
        let opened = client::open_slice(&slice, &party("leviaan").identity, &policy).unwrap();
        assert_eq!(opened.fields.len(), 55, "{backend}: case {case}");
    }
    // And no case in the database is half-written: each has its parties, its fields and its event.
    let stored = store.cases_of("leviaan").await.unwrap();
    assert!(stored.len() >= answered.len());
    let log = store.audit_log().await.unwrap();
    for case in &stored {
        assert_eq!(store.parties(&case.id).await.unwrap().len(), 2, "{backend}");
        assert_eq!(
            store.slice(&case.id, "leviaan").await.unwrap().len(),
            55,
            "{backend}"
        );
        assert!(log.iter().any(
            |s| s.event.action == "create" && s.event.case.as_deref() == Some(case.id.as_str())
        ));
    }
    drop(server);
    store.close().await;
    let verify = Command::new(env!("CARGO_BIN_EXE_sluis"))
        .args(["audit", "verify", "--database", &db.url, "--signing-key"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{backend}: {}",
        String::from_utf8_lossy(&verify.stderr)
    );
}
crate::per_backend!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn a_killed_broker_leaves_only_whole_cases_and_a_verifiable_log);
