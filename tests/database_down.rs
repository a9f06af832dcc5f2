//! The database going away under a running broker: requests get 503 problems (no panic, no
//! 500), and the broker recovers by itself when the database returns. Runs when
//! `SLUIS_TEST_POSTGRES_URL` is set (CI): it starts a cluster of its own with `.ci/postgres.sh`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use std::process::Command;
use std::sync::Arc;

fn ci_postgres(script: &str) -> String {
    let out = Command::new("bash")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["-c", &format!("source .ci/postgres.sh && {script}")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{script}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

struct Cluster {
    dir: String,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args([
                "-c",
                &format!(
                    "source .ci/postgres.sh && sluis_pg_ctl {} stop; rm -rf {}",
                    self.dir, self.dir
                ),
            ])
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_database_gives_503_and_the_broker_recovers() {
    if !common::backends().contains(&"postgres") {
        eprintln!(
            "SLUIS_TEST_POSTGRES_URL not set: the database outage is not simulated here (CI sets it)"
        );
        return;
    }
    let started =
        ci_postgres("sluis_pg_start >&2 && echo \"$SLUIS_TEST_POSTGRES_URL $SLUIS_PG_DIR\"");
    let mut parts = started.split_whitespace();
    let (url, dir) = (
        parts.next().unwrap().to_owned(),
        parts.next().unwrap().to_owned(),
    );
    let cluster = Cluster { dir };
    let port = url
        .rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();

    let store = sluis::store::Store::connect(&url).await.unwrap();
    let policy = Arc::new(common::policy());
    let parties = sluis::demo::enrol_parties(&store, &policy).await.unwrap();
    let mut state = sluis::api::AppState::ephemeral(store.clone(), policy.clone());
    state.rate = sluis::api::RateLimit {
        per_second: 100_000,
        burst: 100_000,
    };
    let broker = sluis::api::RunningBroker::start(state, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let key = sluis::auth::Secret::new(
        parties
            .iter()
            .find(|p| p.org == "leviaan")
            .unwrap()
            .api_key
            .expose()
            .to_owned(),
    );
    let care = sluis::client::Client::new(&broker.base_url)
        .login(&sluis::client::Credentials::ApiKey(key))
        .await
        .unwrap();
    care.get_json("/v1/cases").await.unwrap();

    let ready = |base: String| async move {
        reqwest::get(format!("{base}/readyz"))
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(ready(broker.base_url.clone()).await, 200);
    ci_postgres(&format!("sluis_pg_ctl {} stop", cluster.dir));
    assert_eq!(
        ready(broker.base_url.clone()).await,
        503,
        "not ready without its database"
    );
    let err = care.get_json("/v1/cases").await.unwrap_err();
    assert_eq!(err.status(), Some(503), "{err}");
    assert!(
        err.to_string().contains("the database cannot be reached"),
        "{err}"
    );
    let err = care
        .submit(
            "registration",
            &sluis::demo::fictional_registration(),
            &sluis::demo::fictional_consent(),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503));

    ci_postgres(&format!("sluis_pg_ctl {} start {port}", cluster.dir));
    let mut recovered = false;
    for _ in 0..50 {
        if care.get_json("/v1/cases").await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(recovered, "the broker reconnects when the database is back");
    assert_eq!(ready(broker.base_url.clone()).await, 200);
    let answer = care
        .submit(
            "registration",
            &sluis::demo::fictional_registration(),
            &sluis::demo::fictional_consent(),
        )
        .await
        .unwrap();
    assert!(answer["id"].is_string());
    broker.stop().await.unwrap();
    store.close().await;
    drop(cluster);
}
