//! The operator's guide (`deploy/README.md`) works as written: `deploy/procedure.sh` runs
//! every one of its `sh` blocks in order on a throwaway PostgreSQL cluster with a test CA —
//! set-up, migrate as the owner, grants, `migrate = false`, enrolment, each organisation's key,
//! the broker under TLS, a case submitted, referred and pulled with `--ca-file`, the privacy
//! officer's report, `audit verify` from the configuration file alone (also of a restored
//! dump), and a key rotation. Runs whenever PostgreSQL's server binaries are on the machine;
//! `SLUIS_REQUIRE_POSTGRES=1` makes their absence a failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

use std::process::Command;

const MANIFEST: &str = env!("CARGO_MANIFEST_DIR");

fn postgres_server_binaries() -> bool {
    std::fs::read_dir("/usr/lib/postgresql")
        .map(|versions| {
            versions
                .flatten()
                .any(|v| v.path().join("bin/initdb").is_file())
        })
        .unwrap_or(false)
}

#[test]
fn the_operator_guide_runs_as_written_on_postgresql_under_tls() {
    if !postgres_server_binaries() {
        assert!(
            std::env::var("SLUIS_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "SLUIS_REQUIRE_POSTGRES=1 but no PostgreSQL server binaries under /usr/lib/postgresql"
        );
        eprintln!("skipped: no PostgreSQL server binaries (initdb) to run the operator's guide on");
        return;
    }
    let out = Command::new("bash")
        .arg(format!("{MANIFEST}/deploy/procedure.sh"))
        .env("SLUIS_BIN", env!("CARGO_BIN_EXE_sluis"))
        .env_remove("SLUIS_CONFIG")
        .env_remove("DATABASE_URL")
        .env_remove("SLUIS_CA_FILE")
        .current_dir(MANIFEST)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    let step = |heading: &str| {
        lines
            .iter()
            .position(|l| *l == format!("== {heading}"))
            .unwrap_or_else(|| panic!("step {heading:?} did not run:\n{stdout}"))
    };
    // Every step of the guide ran, in the order it is written.
    let order = [
        step("3. The broker's directory, its policy and its keys"),
        step("4. Two PostgreSQL roles and the database"),
        step("5. The configuration file"),
        step("7. The schema, as the owner; then the broker's grants"),
        step("8. Check the whole configuration"),
        step("9. Enrol the parties"),
        step("10. Each organisation's key and its users (per-organisation)"),
        step("10. Each organisation's key and its users"),
        step("11. Start the broker (serve)"),
        step("12. A first case, from the organisations' clients"),
        step("13. The privacy officer"),
        step("14. Verify the access log"),
        step("15. Backups, and a restore test"),
        step("16. Rotating an organisation's key"),
        step("18. Purging what is past its retention"),
        step("the broker stopped"),
        step("the guide ran to its end"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{stdout}");
    for expected in [
        "database postgres://sluis_owner:***@",
        "# the broker connects to postgres://sluis_broker:***@",
        "ok: connecting to the database",
        "ok: TLS certificate and key",
        "configuration ok",
        "enrolled wooncompagnie (corporation)",
        "added user m.devries to fg-westfriesland as privacy_officer",
        // Intermaris, a corporation with homes in Hoorn, opened what its role may see ...
        "    \"full_name\": \"Sanne de Vries\",",
        "    \"net_monthly_income\": 1380,",
        "7 events, each proven included in the signed checkpoint of size 54",
        // The report names each event's user by login name.
        "  fg-westfriesland   m.devries                privacy_officer  supervision ",
        "  intermaris         intermaris-app           corporation      matching ",
        "1 cases: 27 files sealed to the new key, 0 already were",
        // Nothing in a fresh log is five years old: the owner's expiry finds nothing.
        "0 access events before ",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(expected)),
            "missing {expected:?} in\n{stdout}"
        );
    }
    // ... and nothing of the health category.
    assert!(!stdout.contains("\"health_"), "{stdout}");
    // The live log and the restored dump both verify from the configuration file alone.
    let verified = lines
        .iter()
        .filter(|l| l.starts_with("access log verified: 56 events, "))
        .count();
    assert_eq!(verified, 2, "{stdout}");
}
