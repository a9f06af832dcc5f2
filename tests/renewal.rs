//! Consent that lives as long as the case (art. 7.1, 8.2, 22; AVG art. 7): a consent ending
//! within 30 days is listed for the care organisation, an expired one stops every download
//! with a 403 that says how to renew, and a new declaration continues the case, keeping the
//! chain of declarations (also as FHIR). A withdrawn case cannot be renewed. And a closed
//! case is served only to the care organisation and the coordinator, for a while. The store's
//! clock is set, so the days pass in the test. On both backends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use common::TestApp;
use serde_json::{Value, json};
use sluis::client::ClientError;
use sluis::clock::Clock;
use sluis::demo::{fictional_consent_on, fictional_registration};
use time::macros::date;

const CARE: &str = "leviaan";
const COORDINATOR: &str = "bct-westfriesland";
const CORPORATION: &str = "intermaris";

fn on(clock: &Clock, day: time::Date) {
    clock.set(day.midnight().assume_utc());
}

fn status(result: Result<Value, ClientError>) -> (u16, String) {
    match result {
        Ok(_) => (200, String::new()),
        Err(e) => (e.status().unwrap_or(0), e.to_string()),
    }
}

/// The case's consent chain as FHIR R5, as the care organisation gets it: `application/fhir+json`
/// without a single null. With `SLUIS_FHIR_EXPORTS` set, each resource is also written there
/// as `<backend>-<name>-<n>.json`, for CI to validate against the HL7 FHIR R5 JSON schema.
async fn fhir_chain(app: &TestApp, case: &str, name: &str, backend: &str) -> Vec<Value> {
    let token = app.token(CARE).await;
    let path = format!("/v1/cases/{case}/consents?format=fhir");
    let (status, content_type, text) = app.raw("GET", &path, Some(&token), None).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(content_type, "application/fhir+json");
    assert!(!text.contains("null"), "{backend} {name}: {text}");
    let chain: Vec<Value> = serde_json::from_str(&text).unwrap();
    if let Ok(dir) = std::env::var("SLUIS_FHIR_EXPORTS") {
        std::fs::create_dir_all(&dir).unwrap();
        for (i, resource) in chain.iter().enumerate() {
            let file = std::path::Path::new(&dir).join(format!("{backend}-{name}-{i}.json"));
            std::fs::write(file, resource.to_string()).unwrap();
        }
    }
    chain
}

/// A case Leviaan registers on 2026-03-01 (the store's clock), with consent signed that day
/// and valid until 2027-03-01, which the coordinator accepts and refers to Hoorn.
async fn referred_on_1_march(app: &TestApp) -> String {
    let answer = app
        .client(CARE)
        .await
        .submit(
            "registration",
            &fictional_registration(),
            &fictional_consent_on(date!(2026 - 03 - 01)),
        )
        .await
        .unwrap();
    let case = answer["id"].as_str().unwrap().to_owned();
    let coordinator = app.client(COORDINATOR).await;
    let accept =
        json!({"decision": "accept", "fields": sluis::demo::checklist_all_met(&app.policy)});
    coordinator
        .step(&case, "assessment", &accept)
        .await
        .unwrap();
    let hoorn = ["hoorn".to_owned()];
    let identity = &app.party(COORDINATOR).identity;
    coordinator
        .refer(&case, identity, &app.policy, &hoorn)
        .await
        .unwrap();
    case
}

async fn a_renewal_continues_a_case_whose_consent_expired(backend: &'static str) {
    let clock = Clock::manual(date!(2026 - 03 - 01).midnight().assume_utc());
    let app = TestApp::on(backend).clock(clock.clone()).start().await;
    // Signed on 2026-03-01, valid until 2027-03-01.
    let care = app.client(CARE).await;
    let case = referred_on_1_march(&app).await;
    let corporation = app.client(CORPORATION).await;
    let before = corporation
        .slice(&case, "matching")
        .await
        .unwrap()
        .fields
        .len();
    assert_eq!(before, 27, "{backend}");
    let active = fhir_chain(&app, &case, "active", backend).await;
    assert_eq!(active[0]["status"], "active");

    // 2027-02-10: nineteen days left; listed for the care organisation, in its inbox first.
    on(&clock, date!(2027 - 02 - 10));
    let expiring = care.get_json("/v1/consents/expiring").await.unwrap();
    assert_eq!(
        expiring.as_array().unwrap().len(),
        1,
        "{backend}: {expiring}"
    );
    assert_eq!(expiring[0]["case"], json!(case));
    assert_eq!(expiring[0]["valid_until"], "2027-03-01");
    assert_eq!(expiring[0]["expired"], false);
    let inbox = care.get_json("/v1/inbox").await.unwrap();
    assert_eq!(inbox[0]["kind"], "consent_expiring", "{backend}: {inbox}");
    assert_eq!(
        inbox[0]["detail"],
        "the client's consent holds until 2027-03-01: record the renewed declaration"
    );
    assert_eq!(
        status(corporation.get_json("/v1/consents/expiring").await).0,
        403,
        "{backend}: a corporation does not renew consent"
    );
    // 2027-01-30 would not have listed it: more than 30 days ahead. (The clock only moves
    // forward, so this is checked on another case below.)

    // 2027-03-05: expired. Nothing is served or sealed, and the refusal says how to renew.
    on(&clock, date!(2027 - 03 - 05));
    let (code, text) = match corporation.slice(&case, "matching").await {
        Ok(_) => (200, String::new()),
        Err(e) => (e.status().unwrap_or(0), e.to_string()),
    };
    assert_eq!(code, 403, "{backend}: {text}");
    assert!(text.contains("expired on 2027-03-01"), "{text}");
    assert!(text.contains("sluis consent renew"), "{text}");
    let (code, _) = status(
        care.step(
            &case,
            "changes",
            &json!({"fields": {"net_monthly_income": 1500}}),
        )
        .await,
    );
    assert_eq!(
        code, 403,
        "{backend}: a change report under expired consent"
    );
    // That refusal is on record as the care organisation's denied change report.
    let log = app.store.audit_log().await.unwrap();
    let last = &log.last().unwrap().event;
    assert_eq!(
        (
            last.outcome.as_str(),
            last.org.as_deref(),
            last.action.as_str()
        ),
        ("denied", Some(CARE), "update"),
        "{backend}"
    );
    assert!(
        (last.reason.as_deref()).is_some_and(|r| r.contains("expired on 2027-03-01")),
        "{backend}: {:?}",
        last.reason
    );
    let expiring = care.get_json("/v1/consents/expiring").await.unwrap();
    assert_eq!(expiring[0]["expired"], true);
    let expired = fhir_chain(&app, &case, "expired", backend).await;
    assert_eq!(expired[0]["period"]["end"], "2027-03-01");

    // A renewal may not narrow the consent, must itself be valid, and is not the
    // corporation's to record.
    let mut narrower = fictional_consent_on(date!(2027 - 03 - 05));
    narrower["categories"] = json!(["personalia", "consent"]);
    let (code, text) = status(care.step(&case, "consent", &narrower).await);
    assert_eq!(code, 422, "{backend}: {text}");
    assert!(text.contains("a renewal covers at least what the consent it follows covered"));
    let old = fictional_consent_on(date!(2026 - 03 - 01));
    assert_eq!(
        status(care.step(&case, "consent", &old).await).0,
        422,
        "{backend}: expired"
    );
    let renewed = fictional_consent_on(date!(2027 - 03 - 05));
    assert_eq!(
        status(corporation.step(&case, "consent", &renewed).await).0,
        403,
        "{backend}"
    );

    // The renewal: the case continues in its state, every party's copies serve again.
    let done = care.step(&case, "consent", &renewed).await.unwrap();
    assert_eq!(done["state"], "referred", "{backend}");
    assert_eq!(
        done["sealed"]["consent_document"],
        json!(
            [COORDINATOR, CARE]
                .iter()
                .copied()
                .collect::<std::collections::BTreeSet<_>>()
        )
    );
    let after = corporation
        .slice(&case, "matching")
        .await
        .unwrap()
        .fields
        .len();
    assert_eq!(after, before, "{backend}");
    care.step(
        &case,
        "changes",
        &json!({"fields": {"net_monthly_income": 1500}}),
    )
    .await
    .unwrap();
    assert!(care.get_json("/v1/consents/expiring").await.unwrap()[0].is_null());
    let current = care
        .get_json(&format!("/v1/cases/{case}/consent"))
        .await
        .unwrap();
    assert_eq!(current["valid_until"], "2028-03-05");
    assert_eq!(current["status"], "active");
    // The chain keeps both declarations, also as FHIR.
    let chain = care
        .get_json(&format!("/v1/cases/{case}/consents"))
        .await
        .unwrap();
    let chain = chain.as_array().unwrap();
    assert_eq!(chain.len(), 2, "{backend}");
    assert_eq!(
        (
            chain[0]["status"].as_str(),
            chain[0]["valid_until"].as_str()
        ),
        (Some("superseded"), Some("2027-03-01"))
    );
    assert_eq!(chain[1]["id"], current["id"]);
    let fhir = fhir_chain(&app, &case, "renewed", backend).await;
    assert_eq!(fhir[0]["resourceType"], "Consent");
    assert_eq!(fhir[0]["status"], "inactive");
    assert_eq!(fhir[1]["status"], "active");
    assert_eq!(fhir[1]["period"]["end"], "2028-03-05");
    // The renewal is an event that names both declarations.
    let log = app.store.audit_log().await.unwrap();
    let renewal = log
        .iter()
        .find(|s| {
            s.event
                .reason
                .as_deref()
                .is_some_and(|r| r.starts_with("consent renewed"))
        })
        .unwrap();
    assert_eq!(renewal.event.consent.as_deref(), current["id"].as_str());
    assert_eq!(
        renewal.event.reason.as_deref(),
        Some(
            format!(
                "consent renewed (follows {})",
                chain[0]["id"].as_str().unwrap()
            )
            .as_str()
        )
    );

    // A consent more than 30 days ahead is not listed yet.
    let later = care
        .submit(
            "registration",
            &fictional_registration(),
            &fictional_consent_on(date!(2027 - 03 - 05)),
        )
        .await
        .unwrap();
    let listed = care.get_json("/v1/consents/expiring").await.unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["case"] != later["id"]),
        "{backend}: {listed}"
    );

    // A withdrawn case cannot be renewed.
    care.step(&case, "consent/withdraw", &json!({}))
        .await
        .unwrap();
    let withdrawn = fhir_chain(&app, &case, "withdrawn", backend).await;
    assert_eq!(withdrawn[1]["status"], "inactive");
    assert!(
        withdrawn[1]["extension"]
            .to_string()
            .contains("urn:sluis:withdrawnAt")
    );
    let (code, text) = status(care.step(&case, "consent", &renewed).await);
    assert_eq!(code, 409, "{backend}: {text}");
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn a_renewal_continues_a_case_whose_consent_expired);

/// A closed case (here `ended`) is no longer served (410, naming the state) to any party but
/// the care organisation and the coordinator (policy `[closed]`), and to them for 90 days.
async fn a_closed_case_is_served_only_to_care_and_coordinator_for_a_while(backend: &'static str) {
    let clock = Clock::manual(date!(2026 - 03 - 01).midnight().assume_utc());
    let app = TestApp::on(backend).clock(clock.clone()).start().await;
    let care = app.client(CARE).await;
    let case = referred_on_1_march(&app).await;
    let coordinator = app.client(COORDINATOR).await;
    coordinator
        .step(&case, "end", &json!({"reason": "lease_ended"}))
        .await
        .unwrap();
    let code = |r: Result<sluis::cases::Slice, ClientError>| match r {
        Ok(_) => (200, String::new()),
        Err(e) => (e.status().unwrap_or(0), e.to_string()),
    };
    for org in [CORPORATION, "hoorn"] {
        let (status, text) = code(app.client(org).await.slice(&case, "matching").await);
        assert_eq!(status, 410, "{backend} {org}: {text}");
        assert!(text.contains("the case is `ended`"), "{text}");
    }
    for org in [CARE, COORDINATOR] {
        let (status, text) = code(app.client(org).await.slice(&case, "guidance").await);
        assert_eq!(status, 200, "{backend} {org}: {text}");
    }
    // Day 90 after closing still reads; day 91 does not.
    on(&clock, date!(2026 - 05 - 30));
    let (status, _) = code(care.slice(&case, "guidance").await);
    assert_eq!(status, 200, "{backend}: day 90");
    on(&clock, date!(2026 - 05 - 31));
    for org in [CARE, COORDINATOR] {
        let (status, text) = code(app.client(org).await.slice(&case, "guidance").await);
        assert_eq!(status, 410, "{backend} {org}: {text}");
        assert!(text.contains("read access ended on 2026-05-30"), "{text}");
    }
    // Each refusal is on record.
    let log = app.store.audit_log().await.unwrap();
    let refused = log
        .iter()
        .filter(|s| s.event.outcome == "denied" && s.event.case.as_deref() == Some(case.as_str()))
        .count();
    assert_eq!(refused, 4, "{backend}");
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn a_closed_case_is_served_only_to_care_and_coordinator_for_a_while);
