//! Backup and restore: a backup taken while the broker runs restores into a fresh database whose
//! access log verifies and whose every slice opens with the organisations' identities. A backup
//! holds ciphertext only: no identity, no value in the clear.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use std::process::Command;

use common::TestApp;
use sluis::client;
use sluis::demo::fictional_registration;
use sluis::store::Store;

fn sluis(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_sluis"))
        .args(args)
        .output()
        .unwrap()
}

/// Every party's slice of `case` in `store` opens with its identity; returns field counts.
async fn open_all(app: &TestApp, store: &Store, case: &str) -> Vec<(String, usize)> {
    let mut counts = Vec::new();
    for p in &app.parties {
        let sealed = store.slice(case, &p.org).await.unwrap();
        if sealed.is_empty() {
            continue;
        }
        for f in &sealed {
            sluis::sealing::open(&f.ciphertext, &p.identity)
                .unwrap_or_else(|_| panic!("{} cannot open {}", p.org, f.field_id));
        }
        counts.push((p.org.clone(), sealed.len()));
    }
    counts
}

async fn a_backup_restores_verifies_and_opens(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let case = app
        .submit_and_refer("leviaan", &fictional_registration(), &["hoorn"])
        .await;
    let slice = app
        .client("intermaris")
        .await
        .slice(&case, "matching")
        .await
        .unwrap();
    assert_eq!(
        client::open_slice(&slice, &app.party("intermaris").identity, &app.policy)
            .unwrap()
            .fields
            .len(),
        27
    );
    app.state.checkpoint().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("signing.pem");
    std::fs::write(
        &key,
        sluis::auth::SigningKey::to_pem(&app.state.signing.pkcs8()).as_bytes(),
    )
    .unwrap();
    let key = key.to_str().unwrap().to_owned();

    let restored_url = if backend == "sqlite" {
        // Taken while the broker runs.
        let backup = dir.path().join("backup.db");
        let out = sluis(&[
            "backup",
            "--database",
            &app.db.url,
            "--out",
            backup.to_str().unwrap(),
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let bytes = std::fs::read(&backup).unwrap();
        for secret in [
            "AGE-SECRET-KEY",
            "Sanne de Vries",
            "111222333",
            "BEGIN PRIVATE KEY",
        ] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "the backup holds {secret}"
            );
        }
        let restored = dir.path().join("restored.db");
        let out = sluis(&[
            "restore",
            "--from",
            backup.to_str().unwrap(),
            "--to",
            restored.to_str().unwrap(),
            "--signing-key",
            &key,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("checkpoints verified"));
        format!("sqlite://{}", restored.display())
    } else {
        // PostgreSQL: pg_dump while the broker runs, pg_restore into a fresh database.
        let dump = dir.path().join("sluis.dump");
        let out = Command::new("pg_dump")
            .args(["--format=custom", "--no-owner", "--file"])
            .arg(&dump)
            .arg(&app.db.url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let fresh = common::TestDb::new("postgres").await;
        let out = Command::new("pg_restore")
            .args(["--no-owner", "--dbname", &fresh.url])
            .arg(&dump)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = sluis(&[
            "audit",
            "verify",
            "--database",
            &fresh.url,
            "--signing-key",
            &key,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        fresh.url
    };
    let restored = Store::connect(&restored_url).await.unwrap();
    let original = open_all(&app, &app.store, &case).await;
    let copy = open_all(&app, &restored, &case).await;
    assert_eq!(
        copy, original,
        "{backend}: every slice opens after the restore"
    );
    assert_eq!(original.len(), 6);
    restored.close().await;
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn a_backup_restores_verifies_and_opens);
