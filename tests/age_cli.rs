//! Interoperability with the reference `age` CLI (Go, Debian package `age`). Runs whenever
//! `age` is on PATH; `SLUIS_REQUIRE_AGE_CLI=1` (set by `.ci/run`) makes its absence a failure.
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
use sluis::sealing::{self, Identity, Plaintext};

fn age_cli_present() -> bool {
    let found = Command::new("age")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("SLUIS_REQUIRE_AGE_CLI").map_or(true, |v| v != "1"),
            "SLUIS_REQUIRE_AGE_CLI=1 but the `age` command is not installed"
        );
        eprintln!("age CLI not installed: interoperability not checked here (CI installs it)");
    }
    found
}

async fn a_corporation_opens_its_field_with_the_reference_age_cli(backend: &'static str) {
    if !age_cli_present() {
        return;
    }
    let app = TestApp::start(backend).await;
    let case = app
        .submit_and_refer("parlan", &fictional_registration(), &["medemblik"])
        .await;
    let dir = tempfile::tempdir().unwrap();
    let identity_file = dir.path().join("wel-wonen.txt");
    std::fs::write(
        &identity_file,
        app.party("wel-wonen")
            .identity
            .to_file_text("2026-11-23T00:00:00Z")
            .as_bytes(),
    )
    .unwrap();

    let slice = app
        .client("wel-wonen")
        .await
        .slice(&case, "matching")
        .await
        .unwrap();
    let name = slice
        .fields
        .iter()
        .find(|f| f.field == "full_name")
        .unwrap();
    let sealed = dir.path().join("full_name.age");
    std::fs::write(&sealed, client::ciphertext(name).unwrap()).unwrap();
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&identity_file)
        .arg(&sealed)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "Sanne de Vries");
    // Fields it may not see are not in its slice at all.
    for absent in [
        "bsn",
        "facility_type",
        "perspective_plan",
        "preferred_municipalities",
        "eviction_reason",
    ] {
        assert!(
            slice.fields.iter().all(|f| f.field != absent),
            "{backend}: {absent} in corporation slice"
        );
    }
    // And the care organisation's BSN file does not open with the corporation's identity.
    let care = app
        .client("parlan")
        .await
        .slice(&case, "matching")
        .await
        .unwrap();
    let bsn = dir.path().join("bsn.age");
    std::fs::write(
        &bsn,
        client::ciphertext(care.fields.iter().find(|f| f.field == "bsn").unwrap()).unwrap(),
    )
    .unwrap();
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&identity_file)
        .arg(&bsn)
        .output()
        .unwrap();
    assert!(!out.status.success());
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn a_corporation_opens_its_field_with_the_reference_age_cli);

#[tokio::test]
async fn identities_made_by_age_keygen_work_and_age_files_open_both_ways() {
    if !age_cli_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.txt");
    let keygen = Command::new("age-keygen")
        .arg("-o")
        .arg(&key)
        .output()
        .unwrap();
    assert!(keygen.status.success());
    let public = Command::new("age-keygen")
        .arg("-y")
        .arg(&key)
        .output()
        .unwrap();
    let recipient = String::from_utf8(public.stdout).unwrap().trim().to_owned();
    let identity = Identity::from_file_text(&std::fs::read_to_string(&key).unwrap()).unwrap();
    assert_eq!(identity.recipient().to_string(), recipient);

    // Sluis seals, the CLI opens.
    let sealed = sealing::seal(
        &Plaintext::new(b"Kerkstraat 1, Hoorn".to_vec()),
        &[recipient.parse().unwrap()],
    )
    .unwrap();
    let file = dir.path().join("a.age");
    std::fs::write(&file, &sealed).unwrap();
    let out = Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&key)
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.stdout, b"Kerkstraat 1, Hoorn");

    // The CLI seals, Sluis opens.
    let plain = dir.path().join("plain.txt");
    std::fs::write(&plain, b"06-12345678").unwrap();
    let out_file = dir.path().join("b.age");
    let status = Command::new("age")
        .arg("-r")
        .arg(&recipient)
        .arg("-o")
        .arg(&out_file)
        .arg(&plain)
        .status()
        .unwrap();
    assert!(status.success());
    let opened = sealing::open(&std::fs::read(&out_file).unwrap(), &identity).unwrap();
    assert_eq!(opened.expose(), b"06-12345678");
}
