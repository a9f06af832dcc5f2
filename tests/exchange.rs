//! Submit, re-share and pull end to end over real HTTP, on every configured backend.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use std::collections::BTreeSet;

use common::{CORPORATION_FIELDS, TestApp};
use serde_json::{Value, json};
use sluis::client::{self, ClientError};
use sluis::demo::fictional_registration;

const CARE: &str = "leviaan";
const COORDINATOR: &str = "bct-westfriesland";
const CORPORATION: &str = "intermaris";
const MUNICIPALITY: &str = "hoorn";

/// Every field of the registration form the fictional client fills (54 of 56: she has no
/// partner), written out.
const ALL_REGISTRATION: &[&str] = &[
    "accepts_suitable_offer",
    "affordability",
    "benefits",
    "bsn",
    "children_ages",
    "children_count",
    "client_kind",
    "contra_indications",
    "current_address",
    "date_of_birth",
    "debt_restructuring_status",
    "debts_total",
    "dwelling_constraints",
    "email",
    "eviction_reason",
    "facility_type",
    "financial_administrator",
    "financial_administrator_contact",
    "form_cosigned_by",
    "form_cosigned_on",
    "full_name",
    "guidance_needs",
    "guide_name",
    "guide_phone",
    "has_partner",
    "housing_preferences",
    "income_source",
    "municipality_of_origin",
    "net_monthly_income",
    "no_other_route",
    "nuisance_history",
    "perspective_plan",
    "phone",
    "plan_goals",
    "plan_means",
    "plan_motivation",
    "plan_problems",
    "plan_results",
    "plan_signed_on",
    "preferred_municipalities",
    "previous_evictions",
    "problems",
    "ready_for_outflow",
    "rent_affordable",
    "rent_arrears_amount",
    "rent_arrears_last_home",
    "residence_status",
    "routes_tried",
    "searched_first",
    "social_network_location",
    "transport_means",
    "wgs_admission_date",
    "woonmatch_number",
    "work_education_location",
];

/// The destination municipality: as the corporation minus dwelling requirements, plus BSN,
/// health and care, and the perspective plan (art. 8.6, 9.7).
/// What a referred municipality opens at referral: who the client is, the household and the
/// guide (policy `[until_application]`); the rest follows an application to it.
const MUNICIPALITY_FIELDS: &[&str] = &[
    "children_ages",
    "children_count",
    "current_address",
    "date_of_birth",
    "email",
    "full_name",
    "guide_name",
    "guide_phone",
    "has_partner",
    "phone",
    "residence_status",
    "woonmatch_number",
];

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn opened(app: &TestApp, org: &str, case: &str) -> serde_json::Map<String, Value> {
    let slice = app.client(org).await.slice(case, "matching").await.unwrap();
    let opened = client::open_slice(&slice, &app.party(org).identity, &app.policy).unwrap();
    opened.fields.into_iter().collect()
}

async fn every_party_opens_exactly_what_the_agreement_allows(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let form = fictional_registration();
    let case = app.submit_and_refer(CARE, &form, &[MUNICIPALITY]).await;

    let consent = sluis::demo::fictional_consent();
    for (org, expected, with_consent) in [
        (CARE, ALL_REGISTRATION, true),
        (COORDINATOR, ALL_REGISTRATION, true),
        (CORPORATION, CORPORATION_FIELDS, false),
        (MUNICIPALITY, MUNICIPALITY_FIELDS, false),
    ] {
        let mut fields = opened(&app, org, &case).await;
        // The signed consent declaration goes to the care organisation and the coordinator only.
        let declaration = fields.remove("consent_document");
        assert_eq!(
            declaration.as_ref(),
            with_consent.then_some(&consent["document"]),
            "{backend}: {org}"
        );
        let mut expected = set(expected);
        if org == COORDINATOR || org == CARE {
            // The coordinator's checklist of the accept, sealed to it and the care organisation.
            expected.insert("criteria_checklist".to_owned());
        }
        assert_eq!(
            fields.keys().cloned().collect::<BTreeSet<_>>(),
            expected,
            "{backend}: {org}"
        );
        let checklist = sluis::demo::checklist_all_met(&app.policy);
        for (id, value) in &fields {
            let sent = form.get(id).unwrap_or(&checklist[id]);
            assert_eq!(value, sent, "{backend}: {org} opened {id}");
        }
    }
    // The slice itself holds nothing else: fields the corporation may not see are absent.
    let slice = app
        .client(CORPORATION)
        .await
        .slice(&case, "matching")
        .await
        .unwrap();
    assert_eq!(slice.fields.len(), 27);
    assert!(
        slice
            .fields
            .iter()
            .all(|f| f.field != "bsn" && f.category != "health_care")
    );
    assert!(
        slice
            .fields
            .iter()
            .all(|f| f.policy_version == app.policy.version)
    );
    // A corporation's copy cannot open another party's ciphertext either.
    let care_slice = app
        .client(CARE)
        .await
        .slice(&case, "matching")
        .await
        .unwrap();
    let bsn = care_slice.fields.iter().find(|f| f.field == "bsn").unwrap();
    assert!(
        sluis::sealing::open(
            &client::ciphertext(bsn).unwrap(),
            &app.party(CORPORATION).identity
        )
        .is_err()
    );
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn every_party_opens_exactly_what_the_agreement_allows);

async fn outsiders_get_the_same_404_as_for_a_missing_case(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let case = app
        .submit_and_refer(CARE, &fictional_registration(), &["medemblik"])
        .await;
    let missing = uuid::Uuid::new_v4().to_string();
    // Not referred: another corporation, another care organisation, a municipality, the
    // privacy officer and the admin organisation.
    for org in [
        "de-woonschakel",
        "parlan",
        MUNICIPALITY,
        "fg-westfriesland",
        "sluis-beheer",
    ] {
        let token = app.token(org).await;
        for path in [
            format!("/v1/cases/{case}"),
            format!("/v1/cases/{case}/slice?purpose=matching"),
        ] {
            let (status, ct, body) = app.raw("GET", &path, Some(&token), None).await;
            assert_eq!(
                (status, ct.as_str()),
                (404, "application/problem+json"),
                "{backend} {org} {path}"
            );
            let missing_path = path.replace(&case, &missing);
            let (status2, _, body2) = app.raw("GET", &missing_path, Some(&token), None).await;
            assert_eq!(status2, 404);
            assert_eq!(
                body.replace(&case, "X"),
                body2.replace(&missing, "X"),
                "a party's case must look missing"
            );
        }
        let share =
            json!({"shares": [{"recipients": [org], "fields": {"full_name": "x"}}]}).to_string();
        let (status, _, _) = app
            .raw(
                "POST",
                &format!("/v1/cases/{case}/shares"),
                Some(&token),
                Some(("application/json", share.into_bytes())),
            )
            .await;
        assert_eq!(status, 404, "{backend} {org} share");
    }
    let token = app.token(CORPORATION).await;
    let (status, _, _) = app
        .raw(
            "GET",
            &format!("/v1/cases/{case}/slice?purpose=matching"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (status, _, _) = app
        .raw(
            "GET",
            "/v1/cases/not-a-uuid/slice?purpose=matching",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(status, 400);
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn outsiders_get_the_same_404_as_for_a_missing_case);

async fn a_share_with_one_forbidden_field_is_refused_whole(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let answer = app
        .client(CARE)
        .await
        .submit(
            "registration",
            &fictional_registration(),
            &sluis::demo::fictional_consent(),
        )
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
    // A referral to Hoorn with the BSN for the corporations too.
    let body = json!({"municipalities": [MUNICIPALITY], "shares": [
        {"recipients": [MUNICIPALITY], "fields": {"full_name": "Sanne de Vries"}},
        {"recipients": [CORPORATION, "het-grootslag", "wooncompagnie"], "fields": {"full_name": "Sanne de Vries", "bsn": "111222333"}},
    ]});
    let err = coordinator
        .post_json(&format!("/v1/cases/{case}/referral"), &body)
        .await
        .unwrap_err();
    match &err {
        ClientError::Problem { status, detail, .. } => {
            assert_eq!(*status, 403);
            assert_eq!(
                detail,
                "field `bsn` (category `identifiers`) may not be shared with `intermaris`: the policy does not grant category `identifiers` to role `corporation`"
            );
        }
        other => panic!("expected a problem, got {other}"),
    }
    // Nothing was stored: no recipient became a party, the case is still assessed.
    for org in [MUNICIPALITY, CORPORATION] {
        let e = app
            .client(org)
            .await
            .slice(&case, "matching")
            .await
            .unwrap_err();
        assert_eq!(e.status(), Some(404), "{backend} {org}");
    }
    let meta = app
        .client(CARE)
        .await
        .get_json(&format!("/v1/cases/{case}"))
        .await
        .unwrap();
    assert_eq!(meta["state"], "assessed");
    // Outside a referral no new party can be made; a corporation without homes there neither.
    let e = coordinator
        .post_json(
            &format!("/v1/cases/{case}/shares"),
            &json!({"shares": [{"recipients": [CORPORATION], "fields": {"full_name": "x y"}}]}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    let e = coordinator
        .post_json(
            &format!("/v1/cases/{case}/referral"),
            &json!({"municipalities": [MUNICIPALITY], "shares": [{"recipients": ["gwb-opmeer"], "fields": {"full_name": "x y"}}]}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    // Care organisations do not re-share; an admin organisation cannot be referred.
    let e = app
        .client(CARE)
        .await
        .post_json(
            &format!("/v1/cases/{case}/shares"),
            &json!({"shares": [{"recipients": [CORPORATION], "fields": {"full_name": "x y"}}]}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    let e = coordinator
        .post_json(
            &format!("/v1/cases/{case}/shares"),
            &json!({"shares": [{"recipients": ["sluis-beheer"], "fields": {"full_name": "x y"}}]}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(403));
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn a_share_with_one_forbidden_field_is_refused_whole);

async fn bad_submissions_name_the_problem_and_store_nothing(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let token = app.token(CARE).await;
    let mut wrong_type = fictional_registration();
    wrong_type["children_count"] = json!("twee");
    let mut too_long = fictional_registration();
    too_long["full_name"] = json!("x".repeat(201));
    let mut missing = fictional_registration();
    missing.as_object_mut().unwrap().remove("bsn");
    let mut bad_bsn = fictional_registration();
    bad_bsn["bsn"] = json!("123456789");
    let mut unknown = fictional_registration();
    unknown["shoe_size"] = json!("44");
    let mut assessment_field = fictional_registration();
    assessment_field["coordinator_notes"] = json!("niet van de zorgaanbieder");

    let cases: Vec<(String, u16, &str)> = vec![
        (
            json!({"form": "registration", "fields": wrong_type, "consent": sluis::demo::fictional_consent()}).to_string(),
            422,
            "children_count",
        ),
        (
            json!({"form": "registration", "fields": too_long, "consent": sluis::demo::fictional_consent()}).to_string(),
            422,
            "is longer than 200 characters",
        ),
        (
            json!({"form": "registration", "fields": missing, "consent": sluis::demo::fictional_consent()}).to_string(),
            422,
            "field `bsn` is required",
        ),
        (
            json!({"form": "registration", "fields": bad_bsn, "consent": sluis::demo::fictional_consent()}).to_string(),
            422,
            "eleven-test",
        ),
        (
            json!({"form": "registration", "fields": unknown, "consent": sluis::demo::fictional_consent()}).to_string(),
            422,
            "is not a field of form `registration`",
        ),
        (
            json!({"form": "registration", "fields": assessment_field, "consent": sluis::demo::fictional_consent()}).to_string(),
            422,
            "coordinator_notes",
        ),
        (
            json!({"form": "registratie", "fields": {}, "consent": sluis::demo::fictional_consent()}).to_string(),
            422,
            "unknown form",
        ),
        (
            json!({"form": "registration", "fields": {}, "consent": sluis::demo::fictional_consent(), "extra": 1}).to_string(),
            422,
            "has an unknown key; expected",
        ),
        (
            json!({"form": "registration"}).to_string(),
            422,
            "missing field `fields`",
        ),
        (
            "{\"form\": \"registration\", ".to_string(),
            400,
            "ends too early",
        ),
        (
            r#"{"form": "registration", "fields": {"bsn": "111222333", "bsn": "111222333"}, "consent": {}}"#
                .to_string(),
            422,
            "has a key twice",
        ),
    ];
    for (body, status, needle) in cases {
        let (got, ct, text) = app
            .raw(
                "POST",
                "/v1/cases",
                Some(&token),
                Some(("application/json", body.into_bytes())),
            )
            .await;
        assert_eq!(got, status, "{backend}: {text}");
        assert_eq!(ct, "application/problem+json");
        assert!(
            text.contains(needle),
            "{backend}: expected `{needle}` in {text}"
        );
        // Keys the caller made up are named by position, never repeated back.
        for made_up in ["shoe_size", "extra", "registratie"] {
            assert!(
                !text.contains(made_up),
                "{backend}: `{made_up}` echoed in {text}"
            );
        }
    }
    let (got, _, _) = app
        .raw(
            "POST",
            "/v1/cases",
            Some(&token),
            Some(("text/plain", b"{}".to_vec())),
        )
        .await;
    assert_eq!(got, 415);
    let (got, _, _) = app
        .raw(
            "POST",
            "/v1/cases",
            Some(&token),
            Some(("application/json", vec![b'{', 0xff, 0xfe, b'}'])),
        )
        .await;
    assert_eq!(got, 400);
    // A corporation cannot submit a registration.
    let corp = app.token(CORPORATION).await;
    let body = json!({"form": "registration", "fields": fictional_registration(), "consent": sluis::demo::fictional_consent()}).to_string();
    let (got, _, _) = app
        .raw(
            "POST",
            "/v1/cases",
            Some(&corp),
            Some(("application/json", body.into_bytes())),
        )
        .await;
    assert_eq!(got, 403);
    // Nothing of any of it was stored.
    assert!(
        app.store.cases_of(CARE).await.unwrap().is_empty(),
        "{backend}"
    );
    assert!(
        app.store.cases_of(COORDINATOR).await.unwrap().is_empty(),
        "{backend}"
    );
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn bad_submissions_name_the_problem_and_store_nothing);

async fn tokens_are_checked_and_disabled_accounts_are_out(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let token = app.token(CARE).await;
    let (status, _, _) = app.raw("GET", "/v1/cases", Some(&token), None).await;
    assert_eq!(status, 200);
    for bad in ["", "not.a.token", &format!("{token}x")] {
        let (status, ct, _) = app.raw("GET", "/v1/cases", Some(bad), None).await;
        assert_eq!((status, ct.as_str()), (401, "application/problem+json"));
    }
    let (status, _, _) = app.raw("GET", "/v1/cases", None, None).await;
    assert_eq!(status, 401);
    // Tampered payload: same signature, another organisation.
    let parts: Vec<&str> = token.split('.').collect();
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut claims: Value = serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    claims["org"] = json!("intermaris");
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(claims.to_string()),
        parts[2]
    );
    let (status, _, _) = app.raw("GET", "/v1/cases", Some(&forged), None).await;
    assert_eq!(status, 401);
    // Wrong API key, and a disabled organisation's still-valid token.
    let body =
        json!({"api_key": "sluis_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"})
            .to_string();
    let (status, _, text) = app
        .raw(
            "POST",
            "/v1/auth/token",
            None,
            Some(("application/json", body.into_bytes())),
        )
        .await;
    assert_eq!(status, 401, "{text}");
    app.store
        .set_organisation_disabled(
            CARE,
            true,
            sluis::audit::Event::admin("test: disable".into()),
        )
        .await
        .unwrap();
    let (status, _, _) = app.raw("GET", "/v1/cases", Some(&token), None).await;
    assert_eq!(status, 401);
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn tokens_are_checked_and_disabled_accounts_are_out);

async fn people_log_in_with_argon2id_passwords(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let password = sluis::auth::Secret::new("een lang wachtwoord 123".into());
    let user = sluis::store::User {
        id: uuid::Uuid::new_v4().to_string(),
        username: "m.jansen".into(),
        org_id: CARE.into(),
        role: "care".into(),
        password_hash: Some(sluis::auth::hash_password(&password).unwrap()),
        disabled: false,
    };
    app.store
        .add_user(&user, sluis::audit::Event::admin("test: add user".into()))
        .await
        .unwrap();
    let ok = json!({"username": "m.jansen", "password": "een lang wachtwoord 123"}).to_string();
    let (status, _, text) = app
        .raw(
            "POST",
            "/v1/auth/token",
            None,
            Some(("application/json", ok.into_bytes())),
        )
        .await;
    assert_eq!(status, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (
            v["organisation"].as_str(),
            v["role"].as_str(),
            v["expires_in"].as_i64()
        ),
        (Some(CARE), Some("care"), Some(900))
    );
    for wrong in [
        json!({"username": "m.jansen", "password": "fout"}),
        json!({"username": "niemand", "password": "fout"}),
    ] {
        let (status, _, text) = app
            .raw(
                "POST",
                "/v1/auth/token",
                None,
                Some(("application/json", wrong.to_string().into_bytes())),
            )
            .await;
        assert_eq!(status, 401);
        assert!(text.contains("invalid credentials"));
    }
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn people_log_in_with_argon2id_passwords);

#[tokio::test]
async fn metrics_count_requests_by_route_and_never_name_a_case() {
    let app = TestApp::start("sqlite").await;
    let case = app
        .submit_and_refer(CARE, &fictional_registration(), &[MUNICIPALITY])
        .await;
    app.client(CORPORATION)
        .await
        .slice(&case, "matching")
        .await
        .unwrap();
    app.state.checkpoint().await.unwrap();
    let text = reqwest::get(format!("{}/metrics", app.broker.base_url))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        r#"sluis_http_requests_total{route="/v1/cases",method="POST",status="201"}"#,
        r#"sluis_http_requests_total{route="/v1/cases/{id}/slice",method="GET",status="200"}"#,
        "sluis_http_request_duration_seconds_bucket",
        "sluis_fields_sealed_total",
        "sluis_slices_served_total",
        "sluis_audit_events",
        "sluis_audit_last_checkpoint_age_seconds",
    ] {
        assert!(text.contains(needle), "{needle} missing from\n{text}");
    }
    assert!(!text.contains(&case), "no case id in the metrics");
    app.broker.stop().await.unwrap();
}

/// At a match the other referred corporations, and the referred municipalities that are not
/// the home's, lose their copies (AVG art. 5(1)(c)): the case is 404 to them, and not one age
/// file left in the database opens with their identities; the corporation that found the home
/// and the home's municipality keep theirs; each revocation is an event.
async fn a_match_takes_the_other_referred_parties_off_the_case(backend: &'static str) {
    let app = TestApp::start(backend).await;
    // Hoorn: Intermaris, Het Grootslag, Wooncompagnie; Medemblik: WEL-Wonen, Intermaris.
    let case = app
        .submit_and_refer(CARE, &fictional_registration(), &["hoorn", "medemblik"])
        .await;
    // A change report after the referral is sealed to every entitled party.
    app.client(CARE)
        .await
        .step(
            &case,
            "changes",
            &json!({"fields": {"net_monthly_income": 1500}}),
        )
        .await
        .unwrap();
    let revoked = ["het-grootslag", "wooncompagnie", "wel-wonen", "medemblik"];
    for org in revoked {
        let slice = app
            .client(org)
            .await
            .slice(&case, "matching")
            .await
            .unwrap();
        assert!(!slice.fields.is_empty(), "{backend}: {org} had copies");
    }
    let done = app
        .client(CORPORATION)
        .await
        .step(
            &case,
            "match",
            &json!({"home_municipality": "hoorn", "home_kind": "regular", "offer": sluis::demo::fictional_offer("2026-03-20")}),
        )
        .await
        .unwrap();
    assert_eq!(done["state"], "matched");
    let ciphertexts = app.store.case_ciphertexts(&case).await.unwrap();
    assert!(!ciphertexts.is_empty());
    for org in revoked {
        let err = app
            .client(org)
            .await
            .slice(&case, "matching")
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(404), "{backend}: {org}");
        let identity = &app.party(org).identity;
        let opened = ciphertexts
            .iter()
            .filter(|c| sluis::sealing::open(c, identity).is_ok())
            .count();
        assert_eq!(
            opened, 0,
            "{backend}: {org} still opens an age file of the case"
        );
    }
    // The corporation that found the home and the home's municipality keep theirs.
    // The corporation holds its offer besides; the municipality got no income change before
    // an application to it.
    for (org, fields, income) in [
        (
            CORPORATION,
            CORPORATION_FIELDS.len() + 4,
            Some(&json!(1500)),
        ),
        (MUNICIPALITY, MUNICIPALITY_FIELDS.len(), None),
    ] {
        let opened = opened(&app, org, &case).await;
        assert_eq!(opened.len(), fields, "{backend}: {org}");
        assert_eq!(opened.get("net_monthly_income"), income, "{backend}: {org}");
    }
    // One event per organisation taken off, naming it.
    let log = app.store.audit_log().await.unwrap();
    let mut named: Vec<String> = log
        .iter()
        .filter(|s| s.event.action == "delete" && s.event.case.as_deref() == Some(case.as_str()))
        .flat_map(|s| s.event.recipients.clone())
        .collect();
    named.sort();
    assert_eq!(
        named,
        ["het-grootslag", "medemblik", "wel-wonen", "wooncompagnie"],
        "{backend}"
    );
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn a_match_takes_the_other_referred_parties_off_the_case);
