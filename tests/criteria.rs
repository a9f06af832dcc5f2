//! The agreement's conditions, enforced (art. 7, 8.2, 8.3, 9.2): each criterion of the
//! registration form refused when missing or wrong, with a problem naming the field and the
//! article and never a value; the EUR 500 rule at submission and on a change report, both ways;
//! the papers an accept needs; the coordinator's checklist. On both backends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use common::TestApp;
use serde_json::{Value, json};
use sluis::client::ClientError;
use sluis::demo::{checklist, checklist_all_met, fictional_consent, fictional_registration};

const CARE: &str = "leviaan";
const COORDINATOR: &str = "bct-westfriesland";

/// The registration `change` makes of the fictional one (`null` leaves a field out), and
/// the field problems the broker answers (field id → problem), or `None` if it registers.
async fn register(app: &TestApp, change: &Value) -> Option<Vec<(String, String)>> {
    let mut form = fictional_registration();
    for (id, value) in change.as_object().unwrap() {
        if value.is_null() {
            form.as_object_mut().unwrap().remove(id);
        } else {
            form[id] = value.clone();
        }
    }
    let care = app.client(CARE).await;
    match care
        .submit("registration", &form, &fictional_consent())
        .await
    {
        Ok(_) => None,
        Err(ClientError::Problem { status, errors, .. }) => {
            assert_eq!(status, 422);
            Some(errors.into_iter().map(|e| (e.field, e.problem)).collect())
        }
        Err(e) => panic!("{e}"),
    }
}

/// The years-ago date of birth of someone `age` years old today (a birthday in January).
fn born_years_ago(age: i32) -> String {
    let year = time::OffsetDateTime::now_utc().year() - age;
    format!("{year}-01-01")
}

async fn each_criterion_is_refused_naming_its_field(backend: &'static str) {
    let app = TestApp::start(backend).await;
    assert_eq!(
        register(&app, &json!({})).await,
        None,
        "{backend}: the full form"
    );
    // Each required criterion, left out.
    for field in [
        "ready_for_outflow",
        "client_kind",
        "searched_first",
        "no_other_route",
        "woonmatch_number",
        "accepts_suitable_offer",
        "rent_affordable",
        "has_partner",
        "phone",
    ] {
        let problems = register(&app, &json!({ field: null })).await.unwrap();
        assert_eq!(
            problems,
            vec![(field.to_owned(), "is required".to_owned())],
            "{backend}: {field}"
        );
    }
    // Each criterion answered the wrong way, named with its article.
    for (change, field, problem) in [
        (
            json!({"ready_for_outflow": false}),
            "ready_for_outflow",
            "must be true (art. 7.1: De kandidaat is naar oordeel van de zorgorganisatie geschikt voor uitstroom.)",
        ),
        (
            json!({"searched_first": false}),
            "searched_first",
            "must be true (art. 7.2: De kandidaat heeft zelf alles geprobeerd om uit te stromen.)",
        ),
        (
            json!({"no_other_route": false}),
            "no_other_route",
            "must be true (art. 7.2: Er is geen passende huisvesting en geen alternatief om uit te stromen.)",
        ),
        (
            json!({"rent_affordable": false}),
            "rent_affordable",
            "must be true (art. 7.5: De kandidaat kan de maandelijkse huur uit het beschikbare inkomen betalen.)",
        ),
        (
            json!({"contra_indications": null, "accepts_suitable_offer": false}),
            "accepts_suitable_offer",
            "must be true when `contra_indications` is left out (art. 7.4: Zonder zwaarwegende contra-indicaties is de kandidaat bereid een passende woning te accepteren.)",
        ),
        (
            json!({"has_partner": true, "partner_consent": true}),
            "partner_name",
            "is required when `has_partner` is true (art. 7.1: Samenwonende partners melden zich samen aan.)",
        ),
        (
            json!({"has_partner": true, "partner_name": "Jan de Vries"}),
            "partner_consent",
            "must be true when `has_partner` is true (art. 7.1: De partner tekent een toestemmingsverklaring.)",
        ),
        (
            json!({"rent_arrears_amount": null, "wgs_admission_date": null}),
            "rent_arrears_amount",
            "is required when `rent_arrears_last_home` is true (art. 7.3: Is de laatste woning met een huurachterstand verlaten, dan wordt het bedrag vermeld.)",
        ),
        (
            json!({"client_kind": "oud_amv", "date_of_birth": born_years_ago(24)}),
            "date_of_birth",
            "must give an age from 18 to 23 years when `client_kind` is `oud_amv` (art. 7.1: Een oud-AMV'er is tussen de 18 en 23 jaar.)",
        ),
    ] {
        let problems = register(&app, &change).await;
        assert_eq!(
            problems,
            Some(vec![(field.to_owned(), problem.to_owned())]),
            "{backend}: {change}"
        );
    }
    // ... and each the right way.
    for change in [
        json!({"has_partner": true, "partner_name": "Jan de Vries", "partner_consent": true}),
        json!({"client_kind": "oud_amv", "date_of_birth": born_years_ago(20)}),
        json!({"contra_indications": "Alleen gelijkvloers.", "accepts_suitable_offer": false}),
        json!({"preferred_municipalities": null}),
    ] {
        assert_eq!(register(&app, &change).await, None, "{backend}: {change}");
    }
    // The problem never holds a value the caller sent.
    let problems = register(
        &app,
        &json!({"wgs_admission_date": null, "rent_arrears_amount": 4321}),
    )
    .await
    .unwrap();
    assert!(!format!("{problems:?}").contains("4321"));
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn each_criterion_is_refused_naming_its_field);

async fn rent_arrears_above_500_need_a_debt_help_admission(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let rule = "is required when `rent_arrears_amount` is above 500 (art. 7.3: Een huurschuld boven EUR 500 vraagt toelating tot schuldhulpverlening (Wgs) voor de huurovereenkomst.)";
    // Above 500 without the admission: refused; at 500 or with the admission: registered.
    assert_eq!(
        register(
            &app,
            &json!({"rent_arrears_amount": 501, "wgs_admission_date": null})
        )
        .await,
        Some(vec![("wgs_admission_date".to_owned(), rule.to_owned())]),
        "{backend}"
    );
    assert_eq!(
        register(
            &app,
            &json!({"rent_arrears_amount": 500, "wgs_admission_date": null})
        )
        .await,
        None,
        "{backend}"
    );
    assert_eq!(
        register(&app, &json!({"rent_arrears_amount": 501})).await,
        None,
        "{backend}"
    );
    // A change report that raises the arrears above 500 carries the admission.
    let mut form = fictional_registration();
    form["rent_arrears_amount"] = json!(300);
    form.as_object_mut().unwrap().remove("wgs_admission_date");
    let case = app.submit(CARE, &form).await;
    let care = app.client(CARE).await;
    let refused = care
        .step(
            &case,
            "changes",
            &json!({"fields": {"rent_arrears_amount": 900}}),
        )
        .await
        .unwrap_err();
    let ClientError::Problem { status, errors, .. } = refused else {
        panic!("{refused}")
    };
    assert_eq!(status, 422, "{backend}");
    assert_eq!(errors.len(), 1);
    assert_eq!(
        (errors[0].field.as_str(), errors[0].problem.as_str()),
        ("wgs_admission_date", rule)
    );
    let before = app.store.sealed_count(&case).await.unwrap();
    care.step(
        &case,
        "changes",
        &json!({"fields": {"rent_arrears_amount": 900, "wgs_admission_date": "2026-11-02"}}),
    )
    .await
    .unwrap();
    assert!(
        app.store.sealed_count(&case).await.unwrap().0 > before.0,
        "{backend}"
    );
    // Arrears that fall below the threshold need nothing more.
    care.step(
        &case,
        "changes",
        &json!({"fields": {"rent_arrears_amount": 200}}),
    )
    .await
    .unwrap();
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn rent_arrears_above_500_need_a_debt_help_admission);

async fn an_accept_needs_the_papers_and_the_checklist(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let mut form = fictional_registration();
    let papers = [
        "plan_motivation",
        "plan_problems",
        "plan_goals",
        "plan_results",
        "plan_means",
        "plan_signed_on",
        "form_cosigned_by",
        "form_cosigned_on",
    ];
    let full = form.clone();
    for id in papers {
        form.as_object_mut().unwrap().remove(id);
    }
    // The papers may follow the registration ...
    let case = app.submit(CARE, &form).await;
    let coordinator = app.client(COORDINATOR).await;
    let problems = |e: ClientError| match e {
        ClientError::Problem { status, errors, .. } => (
            status,
            errors.into_iter().map(|e| e.field).collect::<Vec<_>>(),
        ),
        other => panic!("{other}"),
    };
    let accept = json!({"decision": "accept", "fields": checklist_all_met(&app.policy)});
    // ... but the case cannot be accepted without them.
    let refused = coordinator
        .step(&case, "assessment", &accept)
        .await
        .unwrap_err();
    assert_eq!(
        problems(refused),
        (422, papers.iter().map(|p| p.to_string()).collect()),
        "{backend}"
    );
    let care = app.client(CARE).await;
    let mut sent = serde_json::Map::new();
    for id in papers {
        sent.insert(id.to_owned(), full[id].clone());
    }
    care.step(&case, "changes", &json!({ "fields": sent }))
        .await
        .unwrap();
    // Without a checklist, an accept is refused; so is one with a criterion not met and no
    // reason, and a rejection that names no failed criterion.
    let refused = coordinator
        .step(&case, "assessment", &json!({"decision": "accept"}))
        .await
        .unwrap_err();
    assert_eq!(
        problems(refused),
        (422, vec!["criteria_checklist".to_owned()])
    );
    let not_met = checklist(&app.policy, Some("rent_affordable"));
    let refused = coordinator
        .step(
            &case,
            "assessment",
            &json!({"decision": "accept", "fields": not_met}),
        )
        .await
        .unwrap_err();
    assert_eq!(problems(refused), (422, vec!["decision_reason".to_owned()]));
    let mut all_met = checklist_all_met(&app.policy);
    all_met["decision_reason"] = json!("Fictief.");
    let refused = coordinator
        .step(
            &case,
            "assessment",
            &json!({"decision": "reject", "fields": all_met}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        problems(refused),
        (422, vec!["criteria_checklist".to_owned()])
    );
    // A checklist must answer every criterion, each with a known status.
    let mut partial = checklist_all_met(&app.policy);
    partial["criteria_checklist"]
        .as_object_mut()
        .unwrap()
        .remove("woonmatch_registered");
    let refused = coordinator
        .step(
            &case,
            "assessment",
            &json!({"decision": "accept", "fields": partial}),
        )
        .await
        .unwrap_err();
    let ClientError::Problem { errors, .. } = refused else {
        panic!()
    };
    assert_eq!(
        errors[0].problem,
        "criterion `woonmatch_registered` (art. 7.3) is not answered"
    );
    let mut unknown = checklist_all_met(&app.policy);
    unknown["criteria_checklist"]["woonmatch_registered"] = json!({"status": "maybe-canary"});
    let refused = coordinator
        .step(
            &case,
            "assessment",
            &json!({"decision": "accept", "fields": unknown}),
        )
        .await
        .unwrap_err();
    assert!(!refused.to_string().contains("maybe-canary"), "{refused}");
    assert_eq!(
        app.store.case(&case).await.unwrap().unwrap().state,
        "registered"
    );
    // With a criterion not met and the reason why, the coordinator may still accept (art. 8.3).
    let mut fields = checklist(&app.policy, Some("rent_affordable"));
    fields["decision_reason"] = json!("Huurtoeslag is aangevraagd.");
    let done = coordinator
        .step(
            &case,
            "assessment",
            &json!({"decision": "accept", "fields": fields}),
        )
        .await
        .unwrap();
    assert_eq!(done["state"], "assessed", "{backend}");
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn an_accept_needs_the_papers_and_the_checklist);

async fn a_rejection_names_the_criteria_that_failed(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let case = app.submit(CARE, &fictional_registration()).await;
    let coordinator = app.client(COORDINATOR).await;
    let mut fields = checklist(&app.policy, Some("searched_first"));
    fields["decision_reason"] = json!("Eerst zelf zoeken via Woonmatch.");
    let done = coordinator
        .step(
            &case,
            "assessment",
            &json!({"decision": "reject", "fields": fields}),
        )
        .await
        .unwrap();
    assert_eq!(done["state"], "rejected", "{backend}");
    // The coordinator's checklist reaches the care organisation too: it reads why.
    assert_eq!(
        done["sealed"]["criteria_checklist"],
        json!([COORDINATOR, CARE])
    );
    let slice = coordinator.slice(&case, "assessment").await.unwrap();
    let opened =
        sluis::client::open_slice(&slice, &app.party(COORDINATOR).identity, &app.policy).unwrap();
    assert_eq!(
        opened.fields["criteria_checklist"]["searched_first"],
        json!({"status": "not_met"})
    );
    assert_eq!(
        opened.fields["criteria_checklist"]["ready_for_outflow"],
        json!({"status": "met"})
    );
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn a_rejection_names_the_criteria_that_failed);
