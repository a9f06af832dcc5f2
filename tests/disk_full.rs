//! SQLite on a disk that fills up: writes are refused with a clear `507` problem, reads that
//! would go unrecorded are refused too, nothing half-written remains, the database stays
//! intact and the access log verifies; once there is room again everything works.
//!
//! The disk is a real, small tmpfs mounted for the test (needs root). Where mounting is not
//! possible the test says so and passes, unless `SLUIS_REQUIRE_TMPFS=1` (set by `.ci/run`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use common::{TestApp, TestDb};
use sluis::client::{self, ClientError};
use sluis::demo::{fictional_consent, fictional_registration};

const CARE: &str = "leviaan";

/// A tmpfs mounted at a directory; unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Self> {
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(std::process::Stdio::null())
            .status();
        if status.is_ok_and(|s| s.success()) {
            return Some(Self(dir.to_owned()));
        }
        if std::env::var("SLUIS_REQUIRE_TMPFS").is_ok_and(|v| v == "1") {
            panic!("SLUIS_REQUIRE_TMPFS=1 but a tmpfs cannot be mounted here");
        }
        eprintln!("disk_full: cannot mount a tmpfs (not root?): the full-disk test did not run");
        None
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Fills the file system holding `path` to the last block, then gives `keep` bytes back.
async fn download_events(app: &TestApp, case: &str) -> usize {
    app.store
        .events(&sluis::store::EventFilter {
            case: Some(case.to_owned()),
            action: Some("read".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .len()
}

fn fill(path: &Path, keep: u64) {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 16 * 1024];
    let mut written = 0u64;
    while file.write_all(&chunk).is_ok() {
        written += chunk.len() as u64;
    }
    let _ = file.flush();
    file.set_len(written.saturating_sub(keep)).unwrap();
    file.sync_all().unwrap();
}

#[tokio::test]
async fn a_full_disk_is_a_clear_error_and_nothing_is_corrupt() {
    let outer = tempfile::tempdir().unwrap();
    let disk = outer.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let Some(_tmpfs) = Tmpfs::mount(&disk, "12m") else {
        return;
    };
    let file = disk.join("sluis.db");
    let db = TestDb {
        url: format!("sqlite://{}", file.display()),
        sqlite_file: Some(file.clone()),
        _dir: None,
    };
    let app = TestApp::on("sqlite").database(db).start().await;
    let care = app.client(CARE).await;
    let first = app.submit(CARE, &fictional_registration()).await;

    // The token for the download below, while a login can still write its event.
    let token = app.token(CARE).await;
    let filler = disk.join("filler");
    fill(&filler, 256 * 1024);
    let mut stored = vec![first.clone()];
    let mut refused = None;
    for _ in 0..200 {
        match care
            .submit(
                "registration",
                &fictional_registration(),
                &fictional_consent(),
            )
            .await
        {
            Ok(answer) => stored.push(answer["id"].as_str().unwrap().to_owned()),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let Some(ClientError::Problem {
        status,
        title,
        detail,
        ..
    }) = refused
    else {
        panic!("the disk never filled: {} cases stored", stored.len());
    };
    assert_eq!(status, 507);
    assert_eq!(title, "Insufficient storage");
    assert!(detail.contains("no space left"), "{detail}");

    // A download while the disk is full is served only if its access event was written
    // (small rows may still fit in pages the database already holds); otherwise it is a 507.
    let downloads_before = download_events(&app, &first).await;
    let (status, content_type, body) = app
        .raw(
            "GET",
            &format!("/v1/cases/{first}/slice?purpose=guidance"),
            Some(&token),
            None,
        )
        .await;
    match status {
        200 => assert_eq!(download_events(&app, &first).await, downloads_before + 1),
        507 => {
            assert_eq!(content_type, "application/problem+json");
            assert!(body.contains("storage-full"), "{body}");
            assert_eq!(download_events(&app, &first).await, downloads_before);
        }
        other => panic!("a download on a full disk answered {other}: {body}"),
    }
    // The server is still up and answers what needs no writing.
    assert_eq!(app.raw("GET", "/healthz", None, None).await.0, 200);

    // Room again: everything works, and nothing was lost or half-written.
    std::fs::remove_file(&filler).unwrap();
    let after = app.submit(CARE, &fictional_registration()).await;
    stored.push(after);
    let listed = care.get_json("/v1/cases").await.unwrap();
    let mut ids: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    stored.sort();
    assert_eq!(ids, stored, "exactly the acknowledged cases exist");
    // The 54 fields of the fictional registration and the consent scan.
    let complete = 55;
    for case in &stored {
        let slice = care.slice(case, "guidance").await.unwrap();
        let opened = client::open_slice(&slice, &app.party(CARE).identity, &app.policy).unwrap();
        assert_eq!(opened.fields.len(), complete, "case {case} is whole");
    }

    let log = app.store.audit_log().await.unwrap();
    let notes = app.store.checkpoint_notes().await.unwrap();
    let report = sluis::audit::verify(&log, &notes, &app.state.verifier_keys());
    assert!(report.ok, "{:?}", report.first_problem);
    app.broker.stop().await.unwrap();
    app.store.close().await;

    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&format!("sqlite://{}", file.display()))
        .await
        .unwrap();
    let check: (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(check.0, "ok");
    pool.close().await;
}
