//! An organisation rotates its age recipient: new submissions seal to the new key, its own
//! client seals its existing copies again through the broker, the other parties' copies stay
//! as they are, and every bad rekey request is refused with nothing changed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use common::TestApp;
use serde_json::{Value, json};
use sluis::client::{self, RekeyOutcome};
use sluis::demo::{fictional_registration, second_registration};
use sluis::sealing::Identity;
use sluis::store::EventFilter;

const CARE: &str = "leviaan";
const COORDINATOR: &str = "bct-westfriesland";
const MUNICIPALITY: &str = "hoorn";

async fn register(app: &TestApp, org: &str, recipient: &str) {
    app.store
        .set_recipient(
            org,
            recipient,
            sluis::audit::Event::admin(format!("recipient of {org}: {recipient}")),
        )
        .await
        .unwrap();
}

async fn an_organisation_moves_its_copies_to_a_new_key(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let case = app
        .submit_and_refer(CARE, &fictional_registration(), &[MUNICIPALITY])
        .await;
    let coordinator = app.client(COORDINATOR).await;
    let old = &app.party(COORDINATOR).identity;
    let before = coordinator.slice(&case, "assessment").await.unwrap();
    let opened_before = client::open_slice(&before, old, &app.policy).unwrap();
    let care_before = client::open_slice(
        &app.client(CARE)
            .await
            .slice(&case, "guidance")
            .await
            .unwrap(),
        &app.party(CARE).identity,
        &app.policy,
    )
    .unwrap();

    let new = Identity::generate();
    register(&app, COORDINATOR, &new.recipient().to_string()).await;
    assert!(client::open_slice(&before, &new, &app.policy).is_err());

    // A new case seals to the new key at once.
    let second = app.submit(CARE, &second_registration()).await;
    let fresh = coordinator.slice(&second, "assessment").await.unwrap();
    assert!(client::open_slice(&fresh, &new, &app.policy).is_ok());
    let outcome = coordinator
        .rekey(&second, old, &new, &app.policy)
        .await
        .unwrap();
    assert_eq!(outcome.rekeyed, 0);
    assert_eq!(outcome.already, fresh.fields.len());

    let (files_before, copies_before) = app.store.sealed_count(&case).await.unwrap();
    let outcome = coordinator
        .rekey(&case, old, &new, &app.policy)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        RekeyOutcome {
            case: case.clone(),
            rekeyed: before.fields.len(),
            already: 0,
            withheld: 0,
        }
    );
    assert!(outcome.rekeyed >= 20, "{backend}: {outcome:?}");
    // One new file per copy; the old files stay for the parties that still hold them.
    let (files_after, copies_after) = app.store.sealed_count(&case).await.unwrap();
    assert_eq!(copies_after, copies_before, "{backend}");
    assert!(files_after > files_before, "{backend}");

    let after = coordinator.slice(&case, "assessment").await.unwrap();
    let opened_after = client::open_slice(&after, &new, &app.policy).unwrap();
    assert_eq!(opened_after.fields, opened_before.fields, "{backend}");
    assert!(client::open_slice(&after, old, &app.policy).is_err());
    for (b, a) in before.fields.iter().zip(&after.fields) {
        assert_eq!(
            (&b.field, &b.sealed_at, &b.sealed_by, &b.policy_version),
            (&a.field, &a.sealed_at, &a.sealed_by, &a.policy_version)
        );
        assert_ne!(b.id, a.id);
    }
    // The care organisation's copies are untouched.
    let care_after = client::open_slice(
        &app.client(CARE)
            .await
            .slice(&case, "guidance")
            .await
            .unwrap(),
        &app.party(CARE).identity,
        &app.policy,
    )
    .unwrap();
    assert_eq!(care_after.fields, care_before.fields);

    // Done twice, nothing is left to do.
    let again = coordinator
        .rekey(&case, old, &new, &app.policy)
        .await
        .unwrap();
    assert_eq!((again.rekeyed, again.already), (0, before.fields.len()));

    let events = app
        .store
        .events(&EventFilter {
            action: Some("rekey".into()),
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "{backend}");
    assert_eq!(events[0].org.as_deref(), Some(COORDINATOR));
    assert_eq!(events[0].purpose.as_deref(), Some("key_rotation"));
    assert_eq!(events[0].recipients, vec![COORDINATOR.to_owned()]);
    assert!(events[0].fields.contains(&"bsn".to_owned()));
    let log = app.store.audit_log().await.unwrap();
    let report = sluis::audit::verify(&log, &[], &app.state.verifier_keys());
    assert!(report.ok, "{:?}", report.first_problem);
}
crate::per_backend!(#[tokio::test] async fn an_organisation_moves_its_copies_to_a_new_key);

async fn bad_rekey_requests_are_refused_and_change_nothing(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let case = app
        .submit_and_refer(CARE, &fictional_registration(), &[MUNICIPALITY])
        .await;
    let slice = app
        .client(COORDINATOR)
        .await
        .slice(&case, "guidance")
        .await
        .unwrap();
    let bsn = slice.fields.iter().find(|f| f.field == "bsn").unwrap();
    let care_slice = app
        .client("intermaris")
        .await
        .slice(&case, "guidance")
        .await
        .unwrap();
    // A file the coordinator does not hold: a corporation's own copy of a field.
    let not_ours = care_slice
        .fields
        .iter()
        .find(|f| f.field == "dwelling_constraints")
        .unwrap();
    let token = app.token(COORDINATOR).await;
    let outsider = app.token("parlan").await;
    let path = format!("/v1/cases/{case}/rekey");
    let counted = app.store.sealed_count(&case).await.unwrap();
    let denied_before = app
        .store
        .events(&EventFilter {
            outcome: Some("denied".into()),
            ..EventFilter::default()
        })
        .await
        .unwrap()
        .len();
    let post = |token: String, body: Value| {
        let path = path.clone();
        let app = &app;
        async move {
            app.raw(
                "POST",
                &path,
                Some(&token),
                Some(("application/json", body.to_string().into_bytes())),
            )
            .await
        }
    };
    let cases: Vec<(String, Value, u16, &str)> = vec![
        (
            outsider.clone(),
            json!({"fields": [{"id": bsn.id, "field": "bsn", "value": "111222333"}]}),
            404,
            "no such case",
        ),
        (
            token.clone(),
            json!({"fields": [{"id": uuid(), "field": "bsn", "value": "111222333"}]}),
            404,
            "not in your slice",
        ),
        (
            token.clone(),
            json!({"fields": [{"id": not_ours.id, "field": "dwelling_constraints", "value": "x"}]}),
            404,
            "not in your slice",
        ),
        (
            token.clone(),
            json!({"fields": [{"id": bsn.id, "field": "full_name", "value": "x"}]}),
            404,
            "not in your slice",
        ),
        (
            token.clone(),
            json!({"fields": [{"id": bsn.id, "field": "bsn", "value": "123456789"}]}),
            422,
            "eleven-test",
        ),
        (
            token.clone(),
            json!({"fields": [{"id": "not-a-uuid", "field": "bsn", "value": "111222333"}]}),
            422,
            "UUID",
        ),
        (
            token.clone(),
            json!({"fields": [
                {"id": bsn.id, "field": "bsn", "value": "111222333"},
                {"id": bsn.id, "field": "bsn", "value": "111222333"}
            ]}),
            422,
            "twice",
        ),
        (token.clone(), json!({"fields": []}), 422, "no fields"),
        (
            token.clone(),
            json!({"fields": [{"id": bsn.id, "field": "bsn"}]}),
            422,
            "value",
        ),
        (
            token.clone(),
            json!({"fields": [{"id": bsn.id, "field": "bsn", "value": "111222333", "extra": 1}]}),
            422,
            "`fields[0].?` has an unknown key",
        ),
        // Its own file, rightly named, but its recipient never changed: nothing to rekey.
        (
            token.clone(),
            json!({"fields": [{"id": bsn.id, "field": "bsn", "value": "111222333"}]}),
            409,
            "already sealed to your current recipient",
        ),
    ];
    for (who, body, status, names) in cases {
        let (got, content_type, text) = post(who, body.clone()).await;
        assert_eq!(got, status, "{backend}: {body} → {text}");
        assert_eq!(content_type, "application/problem+json");
        assert!(
            text.contains(names),
            "{backend}: {text} should name {names}"
        );
        assert!(!text.contains("111222333") && !text.contains("123456789"));
    }
    assert_eq!(app.store.sealed_count(&case).await.unwrap(), counted);
    let after = app
        .client(COORDINATOR)
        .await
        .slice(&case, "guidance")
        .await
        .unwrap();
    assert_eq!(
        after.fields.iter().map(|f| &f.id).collect::<Vec<_>>(),
        slice.fields.iter().map(|f| &f.id).collect::<Vec<_>>()
    );
    let denied_after = app
        .store
        .events(&EventFilter {
            outcome: Some("denied".into()),
            ..EventFilter::default()
        })
        .await
        .unwrap()
        .len();
    // The outsider, the three files not in the slice and the rekey without a new recipient.
    assert_eq!(denied_after - denied_before, 5, "{backend}");
}
crate::per_backend!(#[tokio::test] async fn bad_rekey_requests_are_refused_and_change_nothing);

fn uuid() -> String {
    "5b0e1a52-8f0c-4d7e-9a51-3c2d7f1e0b64".to_owned()
}
