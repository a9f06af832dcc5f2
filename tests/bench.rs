//! The load harness runs end to end (tiny budget): it starts its own broker on 127.0.0.1,
//! stops it, and writes every figure beside its baseline as JSON records.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

use std::process::Command;

#[test]
fn the_load_harness_writes_its_records() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("bench.json");
    let out = Command::new(env!("CARGO_BIN_EXE_sluis"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "bench",
            "--clients",
            "1,4",
            "--seconds",
            "0.3",
            "--max-requests",
            "40",
            "--log-events",
            "300",
            "--json",
        ])
        .arg(&json)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let records: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let names: Vec<&str> = records
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for expected in [
        "raw age encryption of the form (all cores)",
        "raw sqlite insert of the form's ciphertexts in one transaction",
        "raw sqlite single-row commit",
        "trivial JSON endpoint /healthz (sqlite, 1 clients)",
        "slice downloads (sqlite, 4 clients)",
        "slice download latency p99 (sqlite, 4 clients)",
        "submissions (sqlite, 1 clients)",
        "broker peak resident set during the load",
        "peak resident set added by a 20 MiB upload",
        "/healthz latency p99 while 4 clients submit forms (sqlite, 4 clients)",
        "slice downloads while 4 clients submit forms (sqlite, 4 clients)",
        "share of a slice download spent on its access event (sqlite, 4 clients)",
        "broker CPU time per submission (sqlite, 4 clients)",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    // The report is timed over the whole log, filled to at least `--log-events` (the load
    // before it may already have written more): the name says over how many.
    let report_over: Vec<u64> = names
        .iter()
        .filter_map(|n| {
            n.strip_prefix("per-client access report p99 over ")?
                .strip_suffix(" events (sqlite)")?
                .parse()
                .ok()
        })
        .collect();
    assert!(
        matches!(report_over.as_slice(), [n] if *n >= 300),
        "one report over a log of at least 300 events: {names:?}"
    );
    let downloads = records
        .iter()
        .find(|r| r["name"] == "slice downloads (sqlite, 4 clients)")
        .unwrap();
    assert_eq!(downloads["unit"], "requests/s");
    assert_eq!(downloads["baseline_name"], "/healthz (sqlite, 4 clients)");
    let (value, baseline, ratio) = (
        downloads["value"].as_f64().unwrap(),
        downloads["baseline_value"].as_f64().unwrap(),
        downloads["ratio"].as_f64().unwrap(),
    );
    assert!(value > 0.0 && baseline > 0.0);
    assert!((ratio - value / baseline).abs() < 1e-9);
    let share = records
        .iter()
        .find(|r| {
            r["name"] == "share of a slice download spent on its access event (sqlite, 1 clients)"
        })
        .unwrap();
    let share = share["value"].as_f64().unwrap();
    // Every download waits for its event's commit: some share, never all of it.
    assert!(share > 0.0 && share < 100.0, "{share}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("measure"), "{text}");
}
