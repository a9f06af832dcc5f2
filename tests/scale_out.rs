//! Scale-out: two `sluis serve` processes on one database, a bounded mixed load through both at
//! once (127.0.0.1 only): no lost or duplicated case, every download served by either replica,
//! and one consistent, verifiable access log afterwards.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::Arc;

use common::TestDb;
use sluis::auth::Secret;
use sluis::client::{Client, Credentials};
use sluis::demo::{enrol_parties, fictional_consent, fictional_registration};
use sluis::store::Store;

async fn two_replicas_serve_one_consistent_exchange(backend: &'static str) {
    let db = TestDb::new(backend).await;
    let store = Store::connect(&db.url).await.unwrap();
    let policy = Arc::new(common::policy());
    let parties = enrol_parties(&store, &policy).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("signing.pem");
    std::fs::write(
        &key,
        sluis::auth::SigningKey::to_pem(&sluis::auth::SigningKey::generate_pkcs8()).as_bytes(),
    )
    .unwrap();
    let (a, base_a) = common::serve_process(&db.url, &key);
    let (b, base_b) = common::serve_process(&db.url, &key);
    let api_key = Secret::new(
        parties
            .iter()
            .find(|p| p.org == "leviaan")
            .unwrap()
            .api_key
            .expose()
            .to_owned(),
    );
    // One token, issued by replica A, is good on both (the replicas share the signing key).
    let at_a = Client::new(&base_a)
        .login(&Credentials::ApiKey(api_key))
        .await
        .unwrap();
    let at_b = at_a.with_base(&base_b);

    let mut tasks = Vec::new();
    for i in 0..24 {
        let (submit, fetch) = if i % 2 == 0 {
            (at_a.clone(), at_b.clone())
        } else {
            (at_b.clone(), at_a.clone())
        };
        tasks.push(tokio::spawn(async move {
            let answer = submit
                .submit(
                    "registration",
                    &fictional_registration(),
                    &fictional_consent(),
                )
                .await
                .unwrap();
            let case = answer["id"].as_str().unwrap().to_owned();
            // Downloaded at the other replica.
            let slice = fetch.slice(&case, "guidance").await.unwrap();
            assert_eq!(slice.fields.len(), 55);
            case
        }));
    }
    let mut cases = BTreeSet::new();
    for t in tasks {
        cases.insert(t.await.unwrap());
    }
    assert_eq!(cases.len(), 24, "{backend}: no case lost or duplicated");
    let stored: BTreeSet<String> = store
        .cases_of("leviaan")
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(stored, cases, "{backend}");
    drop((a, b));
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
crate::per_backend!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn two_replicas_serve_one_consistent_exchange);
