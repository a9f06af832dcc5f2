//! The municipality's part and the home (art. 8.6, 9.6, 9.7, 9.11, 12): data minimisation at
//! referral, the offer at the match, applications and decisions on the broker's clock, and an
//! ending with replacement housing that re-opens the case, on every configured backend.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use std::collections::BTreeSet;

use common::TestApp;
use serde_json::{Value, json};
use sluis::clock::Clock;
use sluis::demo::{fictional_offer, fictional_registration};
use sluis::store::EventFilter;
use time::macros::date;

const CARE: &str = "leviaan";
const COORDINATOR: &str = "bct-westfriesland";

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The categories of the age files sealed to `org` (read from the store, so a 404 at the API
/// cannot hide a copy).
async fn stored_categories(app: &TestApp, case: &str, org: &str) -> BTreeSet<String> {
    (app.store.slice(case, org).await.unwrap().into_iter())
        .map(|f| f.category)
        .collect()
}

fn status(r: &Result<Value, sluis::client::ClientError>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => e.status().unwrap_or(0),
    }
}

async fn opened(app: &TestApp, org: &str, case: &str, purpose: &str) -> sluis::client::OpenedSlice {
    let slice = app.client(org).await.slice(case, purpose).await.unwrap();
    sluis::client::open_slice(&slice, &app.party(org).identity, &app.policy).unwrap()
}

async fn the_municipality_of_the_home_decides_on_applications_on_the_clock(backend: &'static str) {
    let clock = Clock::manual(date!(2026 - 03 - 02).midnight().assume_utc());
    let app = TestApp::on(backend).clock(clock.clone()).start().await;
    let consent = sluis::demo::fictional_consent_on(date!(2026 - 03 - 02));
    let registration = fictional_registration();
    let case = app
        .submit_and_refer_with(CARE, &registration, &consent, &["hoorn", "medemblik"])
        .await;
    let coordinator = app.client(COORDINATOR).await;
    let at_referral = set(&["care_contact", "household", "personalia"]);
    // Referred municipalities hold only who the client is, the household and the guide: not
    // a single file of health, the plan, the BSN, income or debts.
    for m in ["hoorn", "medemblik"] {
        assert_eq!(
            stored_categories(&app, &case, m).await,
            at_referral,
            "{backend} {m}"
        );
    }
    // A change of health before any application is not sealed to them either.
    let care = app.client(CARE).await;
    let change = json!({"fields": {"guidance_needs": "Begeleiding twee keer per week."}});
    let done = care.step(&case, "changes", &change).await.unwrap();
    assert_eq!(
        done["sealed"]["guidance_needs"],
        json!([COORDINATOR, CARE]),
        "{backend}"
    );
    assert_eq!(stored_categories(&app, &case, "hoorn").await, at_referral);
    let (app_ref, case_ref) = (&app, &case);
    let apply = |kind: &'static str| async move {
        let (app, case) = (app_ref, case_ref);
        let fields = json!({"application_request": format!("Aanvraag {kind} voor de cliënt.")});
        app.client(CARE)
            .await
            .apply(case, &app.party(CARE).identity, &app.policy, kind, &fields)
            .await
    };
    let early = care
        .post_json(
            &format!("/v1/cases/{case}/applications"),
            &json!({"kind": "guidance", "fields": {"application_request": "Te vroeg."}}),
        )
        .await;
    assert_eq!(status(&early), 409, "{backend}: before the match");

    // The match carries the offer, sealed to the care organisation and the coordinator (and
    // kept by the corporation); the home's municipality hears of the match, without the offer.
    let corporation = app.client("intermaris").await;
    let mut offer = fictional_offer("2026-03-09");
    offer["offer_rent"] = json!("zeshonderd");
    let bad = json!({"home_municipality": "hoorn", "home_kind": "regular", "offer": offer});
    assert_eq!(status(&corporation.step(&case, "match", &bad).await), 422);
    let no_offer = json!({"home_municipality": "hoorn", "home_kind": "regular"});
    assert_eq!(
        status(&corporation.step(&case, "match", &no_offer).await),
        422
    );
    assert_eq!(
        app.store.case(&case).await.unwrap().unwrap().state,
        "referred"
    );
    let matched = json!({"home_municipality": "hoorn", "home_kind": "regular",
                         "offer": fictional_offer("2026-03-09")});
    let done = corporation.step(&case, "match", &matched).await.unwrap();
    assert_eq!(
        done["sealed"]["offer_address"],
        json!([COORDINATOR, "intermaris", CARE]),
        "{backend}"
    );
    for org in [CARE, COORDINATOR] {
        let offer = opened(&app, org, &case, "matching").await;
        assert_eq!(
            offer.fields["offer_address"],
            json!("Fictieve Dijk 12, 1621 AA Hoorn")
        );
        assert_eq!(offer.fields["offer_rent"], json!(642));
        assert_eq!(offer.fields["offer_viewing_on"], json!("2026-03-09"));
    }
    assert!(
        !stored_categories(&app, &case, "hoorn")
            .await
            .contains("housing_offer")
    );
    for gone in ["het-grootslag", "wooncompagnie", "medemblik"] {
        assert!(
            app.store.slice(&case, gone).await.unwrap().is_empty(),
            "{backend} {gone}"
        );
    }
    let inbox = app
        .client("hoorn")
        .await
        .get_json("/v1/inbox")
        .await
        .unwrap();
    let kinds: Vec<&str> = (inbox.as_array().unwrap().iter())
        .filter(|n| n["case"] == json!(case))
        .map(|n| n["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"matched"), "{backend}: {kinds:?}");

    // Only the care organisation applies; the application re-shares what the decision needs.
    let by_corporation = corporation
        .post_json(
            &format!("/v1/cases/{case}/applications"),
            &json!({"kind": "guidance", "fields": {"application_request": "x"}}),
        )
        .await;
    assert_eq!(status(&by_corporation), 403, "{backend}");
    let wrong_kind = care
        .post_json(
            &format!("/v1/cases/{case}/applications"),
            &json!({"kind": "housing", "fields": {"application_request": "x"}}),
        )
        .await;
    assert_eq!(status(&wrong_kind), 422, "{backend}");
    let to_other = care
        .post_json(
            &format!("/v1/cases/{case}/applications"),
            &json!({"kind": "guidance", "fields": {"application_request": "x"},
                    "shares": [{"recipients": ["intermaris"], "fields": {"guidance_needs": "x"}}]}),
        )
        .await;
    assert_eq!(
        status(&to_other),
        422,
        "{backend}: a share to another party"
    );
    assert!(app.store.applications(&case).await.unwrap().is_empty());
    let done = apply("guidance").await.unwrap();
    let guidance = done["application"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        done["application"]["due_on"], "2026-03-16",
        "{backend}: two weeks"
    );
    assert_eq!(done["application"]["municipality"], "hoorn");
    assert_eq!(
        done["sealed"]["application_request"],
        json!([COORDINATOR, "hoorn", CARE]),
        "{backend}"
    );
    assert_eq!(
        done["sealed"]["guidance_needs"],
        json!(["hoorn"]),
        "{backend}"
    );
    clock.set(date!(2026 - 03 - 04).midnight().assume_utc());
    let assistance = apply("special_assistance").await.unwrap();
    assert_eq!(
        assistance["application"]["due_on"], "2026-03-11",
        "{backend}: one week"
    );
    let assistance = assistance["application"]["id"].as_str().unwrap().to_owned();
    let hoorn = opened(&app, "hoorn", &case, "guidance_decision").await;
    let categories: BTreeSet<String> = (app.store.slice(&case, "hoorn").await.unwrap())
        .into_iter()
        .map(|f| f.category)
        .collect();
    assert_eq!(
        categories,
        set(&[
            "application",
            "care_contact",
            "debts",
            "health_care",
            "household",
            "identifiers",
            "income",
            "personalia",
            "perspective_plan"
        ]),
        "{backend}"
    );
    assert_eq!(
        hoorn.fields["guidance_needs"],
        json!("Begeleiding twee keer per week.")
    );
    let requests: BTreeSet<&str> = [&guidance, &assistance]
        .iter()
        .map(|id| hoorn.items[*id]["application_request"].as_str().unwrap())
        .collect();
    assert_eq!(
        requests,
        BTreeSet::from([
            "Aanvraag guidance voor de cliënt.",
            "Aanvraag special_assistance voor de cliënt."
        ])
    );

    // The clock: special assistance is overdue after 11 March, guidance after 16 March.
    let hoorn_client = app.client("hoorn").await;
    let overdue = |list: Value| -> Vec<String> {
        (list.as_array().unwrap().iter())
            .filter(|a| a["case"] == json!(case))
            .map(|a| a["kind"].as_str().unwrap().to_owned())
            .collect()
    };
    let list = |c: &sluis::client::Client| {
        let c = c.clone();
        async move { c.get_json("/v1/applications/overdue").await }
    };
    assert!(
        overdue(list(&coordinator).await.unwrap()).is_empty(),
        "{backend}"
    );
    clock.set(date!(2026 - 03 - 12).midnight().assume_utc());
    assert_eq!(
        overdue(list(&hoorn_client).await.unwrap()),
        ["special_assistance"]
    );
    clock.set(date!(2026 - 03 - 17).midnight().assume_utc());
    assert_eq!(
        overdue(list(&coordinator).await.unwrap()),
        ["special_assistance", "guidance"],
        "{backend}: soonest due first"
    );
    assert!(overdue(list(&app.client("enkhuizen").await).await.unwrap()).is_empty());
    assert_eq!(status(&list(&care).await), 403);
    assert_eq!(
        status(
            &corporation
                .get_json(&format!("/v1/cases/{case}/applications"))
                .await
        ),
        403,
        "{backend}: a corporation does not see the applications"
    );

    // Only the municipality applied to decides, on a day in the period, once.
    let decide = |org: &'static str, id: &str, outcome: &str, on: &str| {
        let (case, id) = (case.clone(), id.to_owned());
        let body = json!({"outcome": outcome, "decided_on": on,
                          "fields": {"decision_motivation": "Begeleiding toegekend voor een jaar."}});
        let app = &app;
        async move {
            (app.client(org).await)
                .post_json(
                    &format!("/v1/cases/{case}/applications/{id}/decision"),
                    &body,
                )
                .await
        }
    };
    assert_eq!(
        status(&decide("medemblik", &guidance, "granted", "2026-03-16").await),
        404
    );
    assert_eq!(
        status(&decide(CARE, &guidance, "granted", "2026-03-16").await),
        403
    );
    assert_eq!(
        status(&decide("hoorn", &guidance, "perhaps", "2026-03-16").await),
        422
    );
    assert_eq!(
        status(&decide("hoorn", &guidance, "granted", "2026-03-18").await),
        422
    );
    assert_eq!(
        status(&decide("hoorn", "no-such", "granted", "2026-03-16").await),
        404
    );
    let done = decide("hoorn", &guidance, "granted", "2026-03-16")
        .await
        .unwrap();
    assert_eq!(done["application"]["decision_days"], 14, "{backend}");
    assert_eq!(
        done["sealed"]["decision_motivation"],
        json!([COORDINATOR, "hoorn", CARE])
    );
    assert_eq!(
        status(&decide("hoorn", &guidance, "refused", "2026-03-16").await),
        409
    );
    assert_eq!(
        overdue(list(&coordinator).await.unwrap()),
        ["special_assistance"]
    );
    let read = opened(&app, CARE, &case, "guidance").await;
    assert_eq!(
        read.items[&guidance]["decision_motivation"],
        json!("Begeleiding toegekend voor een jaar.")
    );
    let listed = care
        .get_json(&format!("/v1/cases/{case}/applications"))
        .await
        .unwrap();
    let outcomes: Vec<(&str, Option<&str>, bool)> = (listed.as_array().unwrap().iter())
        .map(|a| {
            (
                a["kind"].as_str().unwrap(),
                a["outcome"].as_str(),
                a["overdue"] == json!(true),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            ("guidance", Some("granted"), false),
            ("special_assistance", None, true)
        ],
        "{backend}"
    );
    // Each step is on record: the application and the decision, with what was sealed.
    let events = (app.store)
        .events(&EventFilter {
            case: Some(case.clone()),
            action: Some("update".into()),
            outcome: Some("allowed".into()),
            limit: Some(1000),
            ..EventFilter::default()
        })
        .await
        .unwrap();
    let reasons: Vec<&str> = events.iter().filter_map(|e| e.reason.as_deref()).collect();
    assert_eq!(
        reasons.iter().filter(|r| **r == "apply").count(),
        2,
        "{backend}: {reasons:?}"
    );
    assert_eq!(
        reasons.iter().filter(|r| **r == "decide").count(),
        1,
        "{backend}"
    );
    let denied = (app.store)
        .events(&EventFilter {
            case: Some(case.clone()),
            outcome: Some("denied".into()),
            limit: Some(1000),
            ..EventFilter::default()
        })
        .await
        .unwrap();
    assert!(
        denied.iter().any(|e| e.org.as_deref() == Some(CARE)
            && e.reason.as_deref() == Some("role `care` may not decide a case")),
        "{backend}: the refused decision is on record"
    );
    // The monitor counts the decision from the record (one: a small count), not from a
    // municipality's report.
    let monitor = coordinator
        .get_json("/v1/monitor?period=2026")
        .await
        .unwrap();
    assert_eq!(
        monitor["recorded"]["decisions"]["rows"]["hoorn"], "small",
        "{backend}"
    );
    assert_eq!(monitor["recorded"]["decisions"]["rows"]["medemblik"], 0);
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn the_municipality_of_the_home_decides_on_applications_on_the_clock);

async fn replacement_housing_reopens_the_case_for_a_new_referral(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let case = app
        .submit_and_refer(CARE, &fictional_registration(), &["hoorn"])
        .await;
    let corporation = app.client("intermaris").await;
    let coordinator = app.client(COORDINATOR).await;
    let matched = json!({"home_municipality": "hoorn", "home_kind": "regular",
                         "offer": fictional_offer("2026-03-09")});
    corporation.step(&case, "match", &matched).await.unwrap();
    let end = |reason: &str| json!({"reason": reason});
    assert_eq!(
        status(
            &coordinator
                .step(&case, "end", &end("replacement_housing"))
                .await
        ),
        409,
        "{backend}: not before the client lives there"
    );
    corporation
        .step(&case, "housed", &json!({"key_handover": "2026-04-01"}))
        .await
        .unwrap();
    assert_eq!(
        status(&coordinator.step(&case, "end", &end("tired")).await),
        422
    );
    assert_eq!(
        status(
            &app.client(CARE)
                .await
                .step(&case, "end", &end("moved_on"))
                .await
        ),
        403
    );
    assert_eq!(
        status(
            &app.client("het-grootslag")
                .await
                .step(&case, "end", &end("moved_on"))
                .await
        ),
        404,
        "{backend}: a corporation taken off at the match"
    );
    let done = corporation
        .step(&case, "end", &end("replacement_housing"))
        .await
        .unwrap();
    assert_eq!(
        done["state"], "assessed",
        "{backend}: back with the coordinator"
    );
    let meta = coordinator
        .get_json(&format!("/v1/cases/{case}"))
        .await
        .unwrap();
    assert_eq!(meta["end_reason"], Value::Null);
    // The coordinator refers it again, now to Enkhuizen, and a corporation there houses.
    coordinator
        .refer(
            &case,
            &app.party(COORDINATOR).identity,
            &app.policy,
            &["enkhuizen".into()],
        )
        .await
        .unwrap();
    let other = app.client("de-woonschakel").await;
    let again = json!({"home_municipality": "enkhuizen", "home_kind": "regular",
                       "offer": fictional_offer("2026-06-01")});
    other.step(&case, "match", &again).await.unwrap();
    other
        .step(&case, "housed", &json!({"key_handover": "2026-06-15"}))
        .await
        .unwrap();
    // The first home's corporation and municipality hold nothing of the case any more.
    for gone in ["intermaris", "hoorn"] {
        assert!(
            app.store.slice(&case, gone).await.unwrap().is_empty(),
            "{backend} {gone}"
        );
    }
    let due = (app
        .store
        .overdue_evaluations("2027-07-01")
        .await
        .unwrap()
        .into_iter())
    .filter(|(c, _, _)| *c == case)
    .map(|(_, period, due)| (period, due))
    .collect::<Vec<_>>();
    assert_eq!(
        due,
        [(1, "2026-12-15".to_owned()), (2, "2027-06-15".to_owned())],
        "{backend}"
    );
    let done = other.step(&case, "end", &end("home_swap")).await.unwrap();
    assert_eq!(done["state"], "ended");
    let meta = coordinator
        .get_json(&format!("/v1/cases/{case}"))
        .await
        .unwrap();
    assert_eq!(meta["end_reason"], "home_swap", "{backend}");
    assert_eq!(
        meta["states"],
        json!([
            "registered",
            "assessed",
            "referred",
            "matched",
            "housed",
            "assessed",
            "referred",
            "matched",
            "housed",
            "ended"
        ]),
        "{backend}"
    );
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn replacement_housing_reopens_the_case_for_a_new_referral);
