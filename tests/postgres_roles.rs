//! The deployment's PostgreSQL roles (deploy/postgres-*.sql): the broker's role cannot change
//! or delete access events even with the triggers out of the way, yet the broker works.
//! Runs when `SLUIS_TEST_POSTGRES_URL` names a server (a superuser role).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use std::process::Command;

use sluis::audit::Event;
use sluis::store::Store;

fn psql(url: &str, args: &[&str]) {
    let out = Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-q"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psql {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn the_broker_role_may_only_append_to_the_access_log() {
    if !common::backends().contains(&"postgres") {
        eprintln!(
            "SLUIS_TEST_POSTGRES_URL not set: the PostgreSQL role set-up is not checked here (CI sets it)"
        );
        return;
    }
    let admin = std::env::var("SLUIS_TEST_POSTGRES_URL").unwrap();
    let base = admin.rsplit_once('/').unwrap().0.to_owned();
    let suffix = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let (owner, broker, db) = (
        format!("owner_{suffix}"),
        format!("broker_{suffix}"),
        format!("sluis_roles_{suffix}"),
    );
    let deploy = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy");
    // The set-up script, with this test's names instead of the fixed ones.
    let setup = std::fs::read_to_string(format!("{deploy}/postgres-setup.sql"))
        .unwrap()
        .replace("sluis_owner", &owner)
        .replace("sluis_broker", &broker)
        .replace("DATABASE sluis ", &format!("DATABASE {db} "));
    let dir = tempfile::tempdir().unwrap();
    let setup_file = dir.path().join("setup.sql");
    std::fs::write(&setup_file, setup).unwrap();
    psql(
        &admin,
        &[
            "-v",
            "owner_password=o-secret",
            "-v",
            "broker_password=b-secret",
            "-f",
            setup_file.to_str().unwrap(),
        ],
    );

    let host = base.split('@').nth(1).unwrap();
    let owner_url = format!("postgres://{owner}:o-secret@{host}/{db}");
    let broker_url = format!("postgres://{broker}:b-secret@{host}/{db}");
    Store::open(&owner_url, true).await.unwrap().close().await;
    psql(
        &format!("{base}/{db}"),
        &[
            "-v",
            &format!("broker={broker}"),
            "-f",
            &format!("{deploy}/postgres-grants.sql"),
        ],
    );

    // The broker, without schema rights, works: it appends and reads.
    let store = Store::open(&broker_url, false).await.unwrap();
    store
        .add_organisation("testzorg", "Testzorg", "care", Event::admin("test".into()))
        .await
        .unwrap();
    let event = store.record(Event::new("read", "allowed")).await.unwrap();
    assert_eq!(event.seq, 2);
    assert!(
        Store::open(&broker_url, true).await.is_err(),
        "the broker role cannot migrate"
    );

    // The whole exchange runs under the broker role: enrolment, a case through referral to a
    // key handover, a consent read, monitor counts and the monitor.
    {
        let policy = std::sync::Arc::new(common::policy());
        let parties = sluis::demo::enrol_parties(&store, &policy).await.unwrap();
        let state = sluis::api::AppState::ephemeral(store.clone(), policy.clone());
        let broker = sluis::api::RunningBroker::start(state, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let login = |org: &str| {
            let key = parties
                .iter()
                .find(|p| p.org == org)
                .unwrap()
                .api_key
                .expose()
                .to_owned();
            let base = broker.base_url.clone();
            async move {
                sluis::client::Client::new(&base)
                    .login(&sluis::client::Credentials::ApiKey(
                        sluis::auth::Secret::new(key),
                    ))
                    .await
                    .unwrap()
            }
        };
        let answer = login("leviaan")
            .await
            .post_json(
                "/v1/cases",
                &serde_json::json!({
                    "form": "registration",
                    "fields": sluis::demo::fictional_registration(),
                    "consent": sluis::demo::fictional_consent(),
                    "monitor": {"client_group": "mo", "origin_municipality": "hoorn"},
                }),
            )
            .await
            .unwrap();
        let case = answer["id"].as_str().unwrap().to_owned();
        let coordinator = login("bct-westfriesland").await;
        coordinator
            .step(
                &case,
                "assessment",
                &serde_json::json!({"decision": "accept", "fields": sluis::demo::checklist_all_met(&policy)}),
            )
            .await
            .unwrap();
        let identity = &parties
            .iter()
            .find(|p| p.org == "bct-westfriesland")
            .unwrap()
            .identity;
        coordinator
            .refer(&case, identity, &policy, &["hoorn".to_owned()])
            .await
            .unwrap();
        let corporation = login("intermaris").await;
        corporation
            .step(
                &case,
                "match",
                &serde_json::json!({"home_municipality": "hoorn", "home_kind": "regular", "offer": sluis::demo::fictional_offer("2026-03-20")}),
            )
            .await
            .unwrap();
        corporation
            .step(
                &case,
                "housed",
                &serde_json::json!({"key_handover": "2026-11-01"}),
            )
            .await
            .unwrap();
        login("leviaan")
            .await
            .get_json(&format!("/v1/cases/{case}/consent"))
            .await
            .unwrap();
        corporation
            .post_json(
                "/v1/monitor/reports",
                &serde_json::json!({"period": "2026", "counts": {"nuisance": 2}}),
            )
            .await
            .unwrap();
        let monitor = coordinator
            .get_json("/v1/monitor?period=2026")
            .await
            .unwrap();
        assert_eq!(monitor["reported"]["nuisance"]["total"], "small");
        broker.stop().await.unwrap();
    }

    // Even with the triggers disabled (by the owner), the broker role cannot rewrite events.
    psql(
        &format!("{base}/{db}"),
        &["-c", "ALTER TABLE audit_events DISABLE TRIGGER USER"],
    );
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&broker_url).await.unwrap();
    for sql in [
        "UPDATE audit_events SET org_id = 'x'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
    ] {
        let err = sqlx::query(sql)
            .execute(&pool)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("permission denied"), "{sql}: {err}");
    }
    pool.close().await;
    store.close().await;
}
