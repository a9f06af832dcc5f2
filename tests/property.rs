//! Property: for generated registration forms (any subset of the optional fields, generated
//! text), every party opens exactly the filled fields its role may see, with the values sent.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use std::collections::BTreeSet;

use common::TestApp;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};
use sluis::client;
use sluis::demo::fictional_registration;

/// Category of each optional field, and which roles may open each category — written out
/// here from `domain.md`, not taken from the code under test.
const OPTIONAL: &[(&str, &str)] = &[
    ("email", "personalia"),
    ("children_count", "household"),
    ("children_ages", "household"),
    ("benefits", "income"),
    ("affordability", "income"),
    ("debts_total", "debts"),
    ("debt_restructuring_status", "debts"),
    ("financial_administrator", "debts"),
    ("financial_administrator_contact", "debts"),
    ("dwelling_constraints", "dwelling_requirements"),
    ("housing_preferences", "dwelling_requirements"),
    ("social_network_location", "placement"),
    ("work_education_location", "placement"),
    ("transport_means", "placement"),
    ("preferred_municipalities", "placement"),
    ("routes_tried", "placement"),
    ("eviction_reason", "housing_history"),
    ("nuisance_history", "housing_history"),
    ("problems", "health_care"),
    ("contra_indications", "health_care"),
    ("perspective_plan", "perspective_plan"),
];

/// The fields every generated form keeps: the form's required ones, those the fictional
/// client's rent arrears call for (art. 7.3), and the papers an accept needs (art. 7.1, 8.2).
const REQUIRED: &[(&str, &str)] = &[
    ("full_name", "personalia"),
    ("date_of_birth", "personalia"),
    ("phone", "personalia"),
    ("current_address", "personalia"),
    ("woonmatch_number", "personalia"),
    ("residence_status", "personalia"),
    ("has_partner", "household"),
    ("bsn", "identifiers"),
    ("income_source", "income"),
    ("net_monthly_income", "income"),
    ("rent_affordable", "income"),
    ("rent_arrears_last_home", "debts"),
    ("rent_arrears_amount", "debts"),
    ("wgs_admission_date", "debts"),
    ("accepts_suitable_offer", "dwelling_requirements"),
    ("guide_name", "care_contact"),
    ("guide_phone", "care_contact"),
    ("municipality_of_origin", "placement"),
    ("ready_for_outflow", "placement"),
    ("client_kind", "placement"),
    ("searched_first", "placement"),
    ("no_other_route", "placement"),
    ("previous_evictions", "housing_history"),
    ("facility_type", "health_care"),
    ("guidance_needs", "health_care"),
    ("plan_motivation", "perspective_plan"),
    ("plan_problems", "perspective_plan"),
    ("plan_goals", "perspective_plan"),
    ("plan_results", "perspective_plan"),
    ("plan_means", "perspective_plan"),
    ("plan_signed_on", "perspective_plan"),
    ("form_cosigned_by", "placement"),
    ("form_cosigned_on", "placement"),
];

fn role_sees(role: &str, category: &str) -> bool {
    match role {
        "care" | "coordinator" => true,
        "corporation" => {
            category != "consent"
                && matches!(
                    category,
                    "personalia"
                        | "household"
                        | "income"
                        | "debts"
                        | "dwelling_requirements"
                        | "care_contact"
                )
        }
        // At referral (policy [until_application]); the rest follows an application.
        "municipality" => matches!(category, "personalia" | "household" | "care_contact"),
        _ => false,
    }
}

const TEXT_FIELDS: &[&str] = &[
    "full_name",
    "affordability",
    "guidance_needs",
    "problems",
    "transport_means",
];

fn form_strategy() -> impl Strategy<Value = Value> {
    (
        proptest::collection::vec(any::<bool>(), OPTIONAL.len()),
        proptest::collection::vec("[A-Za-zÀ-ž0-9 .,'-]{1,60}", TEXT_FIELDS.len()),
    )
        .prop_map(|(keep, texts)| {
            let full = fictional_registration();
            let mut form = serde_json::Map::new();
            for (id, _) in REQUIRED {
                form.insert((*id).into(), full[*id].clone());
            }
            for ((id, _), keep) in OPTIONAL.iter().zip(keep) {
                if keep {
                    form.insert((*id).into(), full[*id].clone());
                }
            }
            for (id, text) in TEXT_FIELDS.iter().zip(texts) {
                if form.contains_key(*id) && !text.trim().is_empty() {
                    form.insert((*id).into(), json!(text));
                }
            }
            Value::Object(form)
        })
}

fn generated_forms_open_per_role_exactly_as_the_policy_allows(backend: &'static str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(TestApp::start(backend));
    let mut runner = TestRunner::new(Config {
        cases: 24,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&form_strategy(), |form| {
            rt.block_on(async {
                let case = app.submit_and_refer("dnodoen", &form, &["medemblik"]).await;
                for (org, role) in [
                    ("dnodoen", "care"),
                    ("bct-westfriesland", "coordinator"),
                    ("wel-wonen", "corporation"),
                    ("medemblik", "municipality"),
                ] {
                    let slice = app
                        .client(org)
                        .await
                        .slice(&case, "matching")
                        .await
                        .unwrap();
                    let opened =
                        client::open_slice(&slice, &app.party(org).identity, &app.policy).unwrap();
                    let mut expected: BTreeSet<&str> = REQUIRED
                        .iter()
                        .chain(OPTIONAL)
                        .filter(|(id, cat)| form.get(*id).is_some() && role_sees(role, cat))
                        .map(|(id, _)| *id)
                        .collect();
                    // The consent declaration comes with every submission.
                    if role_sees(role, "consent") {
                        expected.insert("consent_document");
                    }
                    // The coordinator's checklist of the accept (the care organisation reads it).
                    if role == "coordinator" || role == "care" {
                        expected.insert("criteria_checklist");
                    }
                    let got: BTreeSet<&str> = opened.fields.keys().map(String::as_str).collect();
                    prop_assert_eq!(&got, &expected, "{} {}", backend, org);
                    for (id, value) in opened
                        .fields
                        .iter()
                        .filter(|(id, _)| *id != "consent_document" && *id != "criteria_checklist")
                    {
                        prop_assert_eq!(value, &form[id]);
                    }
                }
                Ok(())
            })
        })
        .unwrap();
    rt.block_on(app.broker.stop()).unwrap();
}
crate::per_backend!(#[test] fn generated_forms_open_per_role_exactly_as_the_policy_allows);
