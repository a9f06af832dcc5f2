//! The case lifecycle and consent through the API, on every configured backend.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use std::collections::BTreeSet;

use common::TestApp;
use serde_json::{Value, json};
use sluis::client::{self, ClientError};
use sluis::demo::{fictional_consent, fictional_registration};

const CARE: &str = "leviaan";
const COORDINATOR: &str = "bct-westfriesland";

/// Art. 9.5 and 9.6, 9.9: what a referred corporation opens.
const CORPORATION_CATEGORIES: &[&str] = &[
    "care_contact",
    "debts",
    "dwelling_requirements",
    "household",
    "income",
    "personalia",
];
/// What a referred municipality opens at referral (policy `[until_application]`).
const MUNICIPALITY_AT_REFERRAL: &[&str] = &["care_contact", "household", "personalia"];

fn status(e: &ClientError) -> u16 {
    e.status().unwrap_or(0)
}

async fn categories(app: &TestApp, org: &str, case: &str) -> Result<BTreeSet<String>, u16> {
    let slice = app
        .client(org)
        .await
        .slice(case, "matching")
        .await
        .map_err(|e| status(&e))?;
    Ok(slice.fields.iter().map(|f| f.category.clone()).collect())
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn each_step_is_allowed_to_its_role_from_its_state_only(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let case = app.submit(CARE, &fictional_registration()).await;
    let care = app.client(CARE).await;
    let coordinator = app.client(COORDINATOR).await;
    let corporation = app.client("intermaris").await;
    let expect = |r: Result<Value, ClientError>, code: u16, what: &str| match r {
        Ok(v) if code == 200 => v,
        Ok(v) => panic!("{backend} {what}: expected {code}, got {v}"),
        Err(e) => {
            assert_eq!(status(&e), code, "{backend} {what}: {e}");
            Value::Null
        }
    };
    // Registered: the corporation is no party (404); the care organisation cannot assess (403).
    expect(
        corporation
            .step(
                &case,
                "match",
                &json!({"home_municipality": "hoorn", "home_kind": "regular", "offer": sluis::demo::fictional_offer("2026-03-20")}),
            )
            .await,
        404,
        "match by outsider",
    );
    expect(
        care.step(&case, "assessment", &json!({"decision": "accept"}))
            .await,
        403,
        "assess by care",
    );
    expect(
        coordinator
            .step(&case, "housed", &json!({"key_handover": "2026-11-01"}))
            .await,
        403,
        "housed by coordinator",
    );
    // A rejection needs its reason; then the coordinator asks for more information.
    expect(
        coordinator
            .step(&case, "assessment", &json!({"decision": "reject"}))
            .await,
        422,
        "reject without reason",
    );
    let question = json!({"decision": "request_info", "fields": {
        "coordinator_notes": "Graag de actuele stand van de schuldhulp."
    }});
    let v = expect(
        coordinator.step(&case, "assessment", &question).await,
        200,
        "request info",
    );
    assert_eq!(v["state"], "info_requested");
    // The care organisation reads the question (sealed to it as well as to the coordinator).
    assert_eq!(
        v["sealed"]["coordinator_notes"],
        json!([COORDINATOR, CARE]),
        "the guide reads the coordinator's question"
    );
    let slice = care.slice(&case, "guidance").await.unwrap();
    let opened = sluis::client::open_slice(&slice, &app.party(CARE).identity, &app.policy).unwrap();
    assert_eq!(
        opened.fields["coordinator_notes"],
        json!("Graag de actuele stand van de schuldhulp.")
    );
    expect(
        coordinator
            .step(&case, "assessment", &json!({"decision": "accept"}))
            .await,
        409,
        "accept while waiting",
    );
    let v = expect(
        care.step(
            &case,
            "changes",
            &json!({"fields": {"net_monthly_income": 1400}}),
        )
        .await,
        200,
        "answer",
    );
    assert_eq!(v["state"], "registered");
    let v = expect(
        coordinator
            .step(
                &case,
                "assessment",
                &json!({"decision": "accept", "fields": sluis::demo::checklist_all_met(&app.policy)}),
            )
            .await,
        200,
        "accept",
    );
    assert_eq!(v["state"], "assessed");
    assert_eq!(
        v["sealed"]["criteria_checklist"],
        json!([COORDINATOR, CARE]),
        "the care organisation reads the checklist of its client's assessment"
    );
    expect(
        coordinator
            .step(&case, "assessment", &json!({"decision": "accept"}))
            .await,
        409,
        "accept twice",
    );
    coordinator
        .refer(
            &case,
            &app.party(COORDINATOR).identity,
            &app.policy,
            &["hoorn".into()],
        )
        .await
        .unwrap();
    // Referred: a corporation of Hoorn matches; one of another municipality is no party.
    expect(
        app.client("gwb-opmeer")
            .await
            .step(
                &case,
                "match",
                &json!({"home_municipality": "opmeer", "home_kind": "regular", "offer": sluis::demo::fictional_offer("2026-03-20")}),
            )
            .await,
        404,
        "match by a corporation not referred",
    );
    expect(
        corporation
            .step(
                &case,
                "match",
                &json!({"home_municipality": "opmeer", "home_kind": "regular", "offer": sluis::demo::fictional_offer("2026-03-20")}),
            )
            .await,
        422,
        "a home where it has none",
    );
    expect(
        corporation
            .step(&case, "housed", &json!({"key_handover": "2026-11-01"}))
            .await,
        409,
        "housed before match",
    );
    let v = expect(
        corporation
            .step(
                &case,
                "match",
                &json!({"home_municipality": "hoorn", "home_kind": "youth_studio", "offer": sluis::demo::fictional_offer("2026-03-20")}),
            )
            .await,
        200,
        "match",
    );
    assert_eq!(v["state"], "matched");
    expect(
        app.client("het-grootslag")
            .await
            .step(&case, "housed", &json!({"key_handover": "2026-11-01"}))
            .await,
        404,
        "housed by another corporation (taken off the case at the match)",
    );
    expect(
        corporation
            .step(&case, "housed", &json!({"key_handover": "2025-01-15"}))
            .await,
        200,
        "housed",
    );
    expect(
        corporation
            .step(
                &case,
                "match",
                &json!({"home_municipality": "hoorn", "home_kind": "regular", "offer": sluis::demo::fictional_offer("2026-03-20")}),
            )
            .await,
        409,
        "match again",
    );
    // Both evaluations (six and twelve months after 2025-01-15) are overdue now.
    let overdue: Vec<Value> = serde_json::from_value(
        coordinator
            .get_json("/v1/evaluations/overdue")
            .await
            .unwrap(),
    )
    .unwrap();
    let mine: Vec<(i64, &str)> = overdue
        .iter()
        .filter(|o| o["case"] == json!(case))
        .map(|o| (o["period"].as_i64().unwrap(), o["due_on"].as_str().unwrap()))
        .collect();
    assert_eq!(mine, [(1, "2025-07-15"), (2, "2026-01-15")], "{backend}");
    let mut fields = sluis::demo::fictional_evaluation(1);
    fields["evaluation_report"] = json!("RXZhbHVhdGll");
    let report = json!({"period": 1, "fields": fields});
    expect(
        care.step(&case, "evaluations", &report).await,
        200,
        "evaluation 1",
    );
    expect(
        care.step(&case, "evaluations", &report).await,
        409,
        "evaluation 1 twice",
    );
    let overdue: Vec<Value> = serde_json::from_value(
        coordinator
            .get_json("/v1/evaluations/overdue")
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        overdue.iter().filter(|o| o["case"] == json!(case)).count(),
        1
    );
    // The second half year's report does not hide the first: each is an item of its own.
    let second = json!({"period": 2, "fields": sluis::demo::fictional_evaluation(2)});
    expect(
        care.step(&case, "evaluations", &second).await,
        200,
        "evaluation 2",
    );
    let slice = care.slice(&case, "evaluation").await.unwrap();
    let opened = client::open_slice(&slice, &app.party(CARE).identity, &app.policy).unwrap();
    let periods: BTreeSet<&str> = (opened.items.values())
        .filter_map(|item| item.get("evaluation_period")?.as_str())
        .collect();
    assert_eq!(
        periods,
        BTreeSet::from(["half jaar 1", "half jaar 2"]),
        "{backend}"
    );
    // The triangle lease converts with its three conditions (art. 4), each with its day.
    let mut two = sluis::demo::fictional_conversion("2026-01-20");
    two["conditions"]
        .as_object_mut()
        .unwrap()
        .remove("living_behaviour");
    expect(
        corporation.step(&case, "lease-conversion", &two).await,
        422,
        "a conversion without one of its conditions",
    );
    expect(
        corporation
            .step(&case, "lease-conversion", &json!({}))
            .await,
        422,
        "a conversion without its day",
    );
    let early = sluis::demo::fictional_conversion("2025-01-14");
    expect(
        corporation.step(&case, "lease-conversion", &early).await,
        422,
        "a conversion before the key handover",
    );
    let conversion = json!({"converted_on": "2026-01-20", "conditions": {
        "rent_paid_on_time": "2026-01-05", "living_behaviour": "2026-01-10",
        "plan_housing_goals": "2026-01-15"}});
    let v = expect(
        corporation
            .step(&case, "lease-conversion", &conversion)
            .await,
        200,
        "convert",
    );
    assert_eq!(v["state"], "lease_converted");
    let meta = care.get_json(&format!("/v1/cases/{case}")).await.unwrap();
    assert_eq!(meta["lease_kind"], "triangle", "{backend}");
    assert_eq!(meta["lease_converted_on"], "2026-01-20", "{backend}");
    // The conversion is on record; the refused ones (a missing condition) are not steps.
    let events = (app.store)
        .events(&sluis::store::EventFilter {
            case: Some(case.clone()),
            limit: Some(1000),
            ..sluis::store::EventFilter::default()
        })
        .await
        .unwrap();
    let conversions: Vec<&str> = (events.iter())
        .filter(|e| e.reason.as_deref() == Some("convert_lease"))
        .map(|e| e.outcome.as_str())
        .collect();
    assert_eq!(conversions, ["allowed"], "{backend}");
    assert_eq!(
        meta["lease_conditions"],
        json!({"living_behaviour": "2026-01-10", "plan_housing_goals": "2026-01-15",
               "rent_paid_on_time": "2026-01-05"}),
        "{backend}"
    );
    let v = expect(
        coordinator
            .step(&case, "end", &json!({"reason": "lease_ended"}))
            .await,
        200,
        "end",
    );
    assert_eq!(v["state"], "ended");
    expect(
        care.step(&case, "consent/withdraw", &json!({})).await,
        409,
        "withdraw after the end",
    );
    expect(
        care.step(
            &case,
            "changes",
            &json!({"fields": {"net_monthly_income": 1}}),
        )
        .await,
        409,
        "change after the end",
    );

    let meta = care.get_json(&format!("/v1/cases/{case}")).await.unwrap();
    assert_eq!(
        meta["states"],
        json!([
            "registered",
            "info_requested",
            "registered",
            "assessed",
            "referred",
            "matched",
            "housed",
            "lease_converted",
            "ended"
        ])
    );
    assert_eq!(
        (
            meta["home_municipality"].as_str(),
            meta["home_kind"].as_str()
        ),
        (Some("hoorn"), Some("youth_studio"))
    );
    assert_eq!(meta["key_handover"], "2025-01-15");
    assert!(meta["referred_at"].is_string() && meta["matched_at"].is_string());
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn each_step_is_allowed_to_its_role_from_its_state_only);

async fn a_referral_to_hoorn_reaches_exactly_its_corporations_and_the_municipality(
    backend: &'static str,
) {
    let app = TestApp::start(backend).await;
    let case = app
        .submit_and_refer(CARE, &fictional_registration(), &["hoorn"])
        .await;
    for corporation in ["intermaris", "het-grootslag", "wooncompagnie"] {
        assert_eq!(
            categories(&app, corporation, &case).await,
            Ok(set(CORPORATION_CATEGORIES)),
            "{backend} {corporation}"
        );
    }
    for corporation in [
        "de-woonschakel",
        "wel-wonen",
        "gwb-opmeer",
        "gwb-koggenland",
    ] {
        assert_eq!(
            categories(&app, corporation, &case).await,
            Err(404),
            "{backend} {corporation}"
        );
    }
    assert_eq!(
        categories(&app, "hoorn", &case).await,
        Ok(set(MUNICIPALITY_AT_REFERRAL))
    );
    for municipality in [
        "enkhuizen",
        "medemblik",
        "drechterland",
        "koggenland",
        "opmeer",
        "stede-broec",
    ] {
        assert_eq!(
            categories(&app, municipality, &case).await,
            Err(404),
            "{backend} {municipality}"
        );
    }
    // Not a single ciphertext of the case is sealed to a corporation that was not referred.
    for corporation in [
        "de-woonschakel",
        "wel-wonen",
        "gwb-opmeer",
        "gwb-koggenland",
    ] {
        assert!(
            app.store
                .slice(&case, corporation)
                .await
                .unwrap()
                .is_empty()
        );
    }
    // The referred learn it from their inbox.
    let inbox: Vec<Value> = serde_json::from_value(
        app.client("wooncompagnie")
            .await
            .get_json("/v1/inbox")
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        inbox
            .iter()
            .any(|n| n["case"] == json!(case) && n["kind"] == "referred")
    );
    // The coordinator sets the queue order; a case that is not referred cannot be queued.
    let second = app
        .submit_and_refer("parlan", &fictional_registration(), &["medemblik"])
        .await;
    let http = reqwest::Client::new();
    let token = app.token(COORDINATOR).await;
    let put = |body: Value| {
        http.put(format!("{}/v1/referrals/queue", app.broker.base_url))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    assert_eq!(
        put(json!({"order": [second, case]}))
            .await
            .unwrap()
            .status(),
        200
    );
    let meta = app
        .client(CARE)
        .await
        .get_json(&format!("/v1/cases/{case}"))
        .await
        .unwrap();
    assert_eq!(meta["queue_position"], 2);
    let fresh = app.submit(CARE, &fictional_registration()).await;
    assert_eq!(put(json!({"order": [fresh]})).await.unwrap().status(), 409);
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn a_referral_to_hoorn_reaches_exactly_its_corporations_and_the_municipality);

async fn an_income_change_reaches_the_corporations_and_a_health_change_does_not(
    backend: &'static str,
) {
    let app = TestApp::start(backend).await;
    let case = app
        .submit_and_refer(CARE, &fictional_registration(), &["hoorn"])
        .await;
    let changed = app
        .client(CARE)
        .await
        .step(&case, "changes", &json!({"fields": {"net_monthly_income": 1750, "problems": "Nieuwe diagnose (fictief)."}}))
        .await
        .unwrap();
    assert_eq!(
        changed["sealed"]["net_monthly_income"],
        json!([
            COORDINATOR,
            "het-grootslag",
            "intermaris",
            CARE,
            "wooncompagnie"
        ]),
        "{backend}: a referred municipality gets income only with an application to it"
    );
    assert_eq!(changed["sealed"]["problems"], json!([COORDINATOR, CARE]));
    let open = |org: &'static str| {
        let app = &app;
        let case = case.clone();
        async move {
            let slice = app
                .client(org)
                .await
                .slice(&case, "matching")
                .await
                .unwrap();
            client::open_slice(&slice, &app.party(org).identity, &app.policy)
                .unwrap()
                .fields
        }
    };
    let corporation = open("intermaris").await;
    assert_eq!(
        corporation["net_monthly_income"],
        json!(1750),
        "{backend}: the new income"
    );
    assert!(!corporation.contains_key("problems"));
    let municipality = open("hoorn").await;
    assert!(
        !municipality.contains_key("problems") && !municipality.contains_key("net_monthly_income")
    );
    // Inboxes say which fields changed, never the values.
    let inbox: Vec<Value> = serde_json::from_value(
        app.client("intermaris")
            .await
            .get_json("/v1/inbox")
            .await
            .unwrap(),
    )
    .unwrap();
    let change = inbox.iter().find(|n| n["kind"] == "slice_changed").unwrap();
    assert_eq!(change["detail"], "changed: net_monthly_income");
    // Only categories of the agreement's change reports; nothing after the end.
    let err = app
        .client(CARE)
        .await
        .step(
            &case,
            "changes",
            &json!({"fields": {"eviction_reason": "x y"}}),
        )
        .await
        .unwrap_err();
    assert_eq!(status(&err), 422);
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn an_income_change_reaches_the_corporations_and_a_health_change_does_not);

async fn a_perspective_plan_uploaded_later_is_streamed_sealed_and_size_limited(
    backend: &'static str,
) {
    let app = TestApp::start(backend).await;
    let mut form = fictional_registration();
    form.as_object_mut().unwrap().remove("perspective_plan");
    let case = app.submit_and_refer(CARE, &form, &["hoorn"]).await;
    let care = app.client(CARE).await;
    assert_eq!(app.store.chunk_count().await.unwrap(), 0);
    // 2.53 MB (an age file of 2.53 MB to three recipients): stored in ten pieces of at
    // most 256 KiB while it streams in.
    let plan = b"Perspectiefplan (fictief), later aangeleverd.\n".repeat(55_000);
    assert_eq!(plan.len(), 2_530_000);
    let done = care
        .upload(&case, "perspective_plan", plan.clone())
        .await
        .unwrap();
    // Not to Hoorn before an application to it (policy [until_application]).
    assert_eq!(
        done["sealed"]["perspective_plan"],
        json!([COORDINATOR, CARE])
    );
    let slice = app
        .client(COORDINATOR)
        .await
        .slice(&case, "assessment")
        .await
        .unwrap();
    let field = slice
        .fields
        .iter()
        .find(|f| f.field == "perspective_plan")
        .unwrap();
    let opened = sluis::sealing::open(
        &client::ciphertext(field).unwrap(),
        &app.party(COORDINATOR).identity,
    )
    .unwrap();
    assert_eq!(opened.expose(), plan.as_slice(), "{backend}");
    assert_eq!(app.store.chunk_count().await.unwrap(), 10, "{backend}");
    assert!(
        !categories(&app, "intermaris", &case)
            .await
            .unwrap()
            .contains("perspective_plan")
    );
    // Over 20 MiB: refused while streaming, nothing stored.
    let before = app.store.sealed_count(&case).await.unwrap();
    let err = care
        .upload(&case, "perspective_plan", vec![b'x'; 20 * 1024 * 1024 + 1])
        .await
        .unwrap_err();
    assert_eq!(status(&err), 413, "{err}");
    assert_eq!(app.store.sealed_count(&case).await.unwrap(), before);
    assert_eq!(
        app.store.chunk_count().await.unwrap(),
        10,
        "{backend}: the refused upload's pieces are gone"
    );
    // Only document fields of the change categories can be uploaded.
    assert_eq!(
        status(&care.upload(&case, "bsn", b"1".to_vec()).await.unwrap_err()),
        404
    );
    assert_eq!(
        status(
            &app.client("intermaris")
                .await
                .upload(&case, "perspective_plan", b"x".to_vec())
                .await
                .unwrap_err()
        ),
        403
    );
    // Withdrawal deletes the document's pieces with its other ciphertexts.
    care.step(&case, "consent/withdraw", &json!({}))
        .await
        .unwrap();
    assert_eq!(app.store.chunk_count().await.unwrap(), 0, "{backend}");
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn a_perspective_plan_uploaded_later_is_streamed_sealed_and_size_limited);

async fn nothing_is_shared_without_consent_and_withdrawal_deletes_what_was_shared(
    backend: &'static str,
) {
    let app = TestApp::start(backend).await;
    let care = app.client(CARE).await;
    // No consent: refused.
    let token = app.token(CARE).await;
    let body = json!({"form": "registration", "fields": fictional_registration()}).to_string();
    let (status_code, _, text) = app
        .raw(
            "POST",
            "/v1/cases",
            Some(&token),
            Some(("application/json", body.into_bytes())),
        )
        .await;
    assert_eq!(status_code, 422, "{text}");
    assert!(text.contains("missing field `consent`"));
    // Consent that leaves out the coordinator's sight of health data: refused, naming it.
    let mut narrow = fictional_consent();
    narrow["categories"] = json!([
        "personalia",
        "household",
        "identifiers",
        "income",
        "debts",
        "care_contact",
        "placement",
        "housing_history",
        "dwelling_requirements",
        "perspective_plan",
        "consent"
    ]);
    let err = care
        .submit("registration", &fictional_registration(), &narrow)
        .await
        .unwrap_err();
    assert_eq!(status(&err), 403);
    assert!(
        err.to_string()
            .contains("the client's consent does not cover category `health_care`"),
        "{err}"
    );
    // Consent without municipalities: the referral to Hoorn is refused whole.
    let mut no_municipality = fictional_consent();
    no_municipality["roles"] = json!(["care", "coordinator", "corporation"]);
    let answer = care
        .submit("registration", &fictional_registration(), &no_municipality)
        .await
        .unwrap();
    let case = answer["id"].as_str().unwrap().to_owned();
    let coordinator = app.client(COORDINATOR).await;
    coordinator
        .step(
            &case,
            "assessment",
            &json!({"decision": "accept", "fields": sluis::demo::checklist_all_met(&app.policy)}),
        )
        .await
        .unwrap();
    let err = coordinator
        .refer(
            &case,
            &app.party(COORDINATOR).identity,
            &app.policy,
            &["hoorn".into()],
        )
        .await
        .unwrap_err();
    assert_eq!(status(&err), 403);
    assert!(
        err.to_string()
            .contains("does not cover recipient role `municipality`"),
        "{err}"
    );
    // The consent record, also as FHIR.
    let fhir = care
        .get_json(&format!("/v1/cases/{case}/consent?format=fhir"))
        .await
        .unwrap();
    assert_eq!(fhir["resourceType"], "Consent");
    assert_eq!(fhir["status"], "active");
    assert_eq!(fhir["provision"][0]["actor"].as_array().unwrap().len(), 3);
    let record = care
        .get_json(&format!("/v1/cases/{case}/consent"))
        .await
        .unwrap();
    assert_eq!(record["document_sha256"].as_str().unwrap().len(), 64);

    // Full consent, referred, then withdrawn by the care organisation on the client's word.
    let case = app
        .submit_and_refer(CARE, &fictional_registration(), &["hoorn"])
        .await;
    let (files, copies) = app.store.sealed_count(&case).await.unwrap();
    assert!(files > 60 && copies > 100, "{files} files, {copies} copies");
    let withdrawn = care
        .step(&case, "consent/withdraw", &json!({}))
        .await
        .unwrap();
    assert_eq!(withdrawn["state"], "withdrawn");
    // A withdrawn case is closed: no longer served to the referred parties at all (410).
    for org in ["intermaris", "het-grootslag", "wooncompagnie", "hoorn"] {
        assert_eq!(
            categories(&app, org, &case).await,
            Err(410),
            "{backend} {org}"
        );
        assert!(
            app.store.slice(&case, org).await.unwrap().is_empty(),
            "{backend}: {org}'s ciphertexts are gone"
        );
    }
    // Only the declaration itself is left, sealed to its two holders.
    assert_eq!(
        app.store.sealed_count(&case).await.unwrap(),
        (1, 2),
        "{backend}"
    );
    assert_eq!(categories(&app, CARE, &case).await, Ok(set(&["consent"])));
    // In the database itself: no row of the case sealed to anyone but those two.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT org_id FROM sealed_field_recipients WHERE case_id = $1 ORDER BY org_id",
    )
    .bind(&case)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows, [(COORDINATOR.to_string(),), (CARE.to_string(),)]);
    pool.close().await;
    // No further share or step; the record says who withdrew it.
    let err = coordinator
        .post_json(&format!("/v1/cases/{case}/shares"), &json!({"shares": [{"recipients": ["hoorn"], "fields": {"full_name": "Sanne de Vries"}}]}))
        .await
        .unwrap_err();
    assert_eq!(status(&err), 409, "{err}");
    let record = care
        .get_json(&format!("/v1/cases/{case}/consent"))
        .await
        .unwrap();
    assert_eq!(record["status"], "withdrawn");
    assert_eq!(record["withdrawn_by_org"], CARE);
    let inbox: Vec<Value> = serde_json::from_value(
        app.client("hoorn")
            .await
            .get_json("/v1/inbox")
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        inbox
            .iter()
            .any(|n| n["case"] == json!(case) && n["kind"] == "withdrawn")
    );
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn nothing_is_shared_without_consent_and_withdrawal_deletes_what_was_shared);

/// After the match the corporation (and the municipality of the home) signal a problem to the
/// care organisation and the coordinator (art. 9.9, 12): sealed to those two alone, the case
/// staying where it is; not before the match (409), not by the care organisation (403), not by
/// a corporation taken off the case (404), not with an unknown kind (422).
async fn a_signal_after_the_match_reaches_care_and_coordinator_only(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let case = app
        .submit_and_refer(CARE, &fictional_registration(), &["hoorn"])
        .await;
    let signal = |kind: &str, note: &str| json!({"fields": {"signal_kind": kind, "signal_on": "2026-11-30", "signal_note": note}});
    let corporation = app.client("intermaris").await;
    let early = corporation
        .step(&case, "signals", &signal("rent_arrears", "Te vroeg."))
        .await;
    assert_eq!(
        early.unwrap_err().status(),
        Some(409),
        "{backend}: before the match"
    );
    corporation
        .step(
            &case,
            "match",
            &json!({"home_municipality": "hoorn", "home_kind": "regular", "offer": sluis::demo::fictional_offer("2026-03-20")}),
        )
        .await
        .unwrap();
    let done = corporation
        .step(
            &case,
            "signals",
            &signal("rent_arrears", "Twee maanden huur achter."),
        )
        .await
        .unwrap();
    assert_eq!(done["state"], "matched", "{backend}");
    assert_eq!(
        done["sealed"]["signal_note"],
        json!([COORDINATOR, CARE]),
        "{backend}: sealed to care and coordinator alone"
    );
    app.client("hoorn")
        .await
        .step(
            &case,
            "signals",
            &signal("nuisance", "Melding van de buren."),
        )
        .await
        .unwrap();
    for org in [CARE, COORDINATOR] {
        let purpose = if org == CARE {
            "guidance"
        } else {
            "assessment"
        };
        let slice = app.client(org).await.slice(&case, purpose).await.unwrap();
        let opened = client::open_slice(&slice, &app.party(org).identity, &app.policy).unwrap();
        // Each signal is an item of its own: both are there, whole.
        let signals: BTreeSet<(String, String)> = (opened.items.values())
            .map(|item| {
                (
                    item["signal_kind"].to_string(),
                    item["signal_note"].to_string(),
                )
            })
            .collect();
        let expected: BTreeSet<(String, String)> = [
            (
                r#""nuisance""#.to_owned(),
                r#""Melding van de buren.""#.to_owned(),
            ),
            (
                r#""rent_arrears""#.to_owned(),
                r#""Twee maanden huur achter.""#.to_owned(),
            ),
        ]
        .into();
        assert_eq!(signals, expected, "{backend}: {org}");
        assert!(!opened.fields.contains_key("signal_kind"));
    }
    for (org, purpose) in [("intermaris", "matching"), ("hoorn", "guidance_decision")] {
        let slice = app.client(org).await.slice(&case, purpose).await.unwrap();
        assert!(
            slice.fields.iter().all(|f| !f.field.starts_with("signal_")),
            "{backend}: {org} holds no signal"
        );
    }
    let by_care = app
        .client(CARE)
        .await
        .step(&case, "signals", &signal("other", "Zelf."))
        .await;
    assert_eq!(by_care.unwrap_err().status(), Some(403), "{backend}");
    let revoked = app
        .client("het-grootslag")
        .await
        .step(&case, "signals", &signal("other", "Weg."))
        .await;
    assert_eq!(revoked.unwrap_err().status(), Some(404), "{backend}");
    let unknown = corporation
        .step(&case, "signals", &signal("brand", "Onbekend."))
        .await;
    assert_eq!(unknown.unwrap_err().status(), Some(422), "{backend}");
    // The monitor counts the two signals given, by whom (their kind stays sealed); the
    // refused ones are not among them.
    let facts = app.store.monitor_facts().await.unwrap();
    let mut by: Vec<String> = (facts.iter().flat_map(|c| &c.signals))
        .map(|s| s.org.clone())
        .collect();
    by.sort();
    assert_eq!(by, ["hoorn", "intermaris"], "{backend}");
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn a_signal_after_the_match_reaches_care_and_coordinator_only);
