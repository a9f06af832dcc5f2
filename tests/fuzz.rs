//! Property-based fuzzing with a fixed budget (runs in every `cargo test`): the form parser and
//! validator and the policy loader never panic on any input, and form errors never echo it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Map, Value};
use sluis::form::{FieldValues, validate_fields, validate_form};
use sluis::policy::{Policy, PolicySources};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,40}".prop_map(Value::String),
        "CANARY[a-z]{8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,12}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Field ids of the form and some that are not, with arbitrary values.
fn fields() -> impl Strategy<Value = Map<String, Value>> {
    let ids = prop_oneof![
        Just("full_name".to_owned()),
        Just("bsn".to_owned()),
        Just("children_count".to_owned()),
        Just("children_ages".to_owned()),
        Just("date_of_birth".to_owned()),
        Just("perspective_plan".to_owned()),
        Just("rent_arrears_last_home".to_owned()),
        Just("email".to_owned()),
        "[a-zA-Z0-9_ -]{1,20}",
    ];
    prop::collection::btree_map(ids, json_value(), 0..12).prop_map(|m| m.into_iter().collect())
}

#[test]
fn form_parsing_and_validation_never_panic_and_never_echo() {
    let policy = common::policy();
    let mut runner = TestRunner::new(Config {
        cases: 512,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&fields(), |map| {
            let text = Value::Object(map).to_string();
            match serde_json::from_str::<FieldValues>(&text) {
                Ok(values) => {
                    for result in [
                        validate_form(&policy, "registration", &values, true).err(),
                        validate_fields(&policy, &values).err(),
                    ]
                    .into_iter()
                    .flatten()
                    {
                        let problems = serde_json::to_string(&result).unwrap();
                        prop_assert!(
                            !problems.contains("CANARY"),
                            "a value was echoed: {}",
                            problems
                        );
                    }
                }
                Err(e) => prop_assert!(
                    !e.to_string().contains("CANARY"),
                    "a value was echoed: {}",
                    e
                ),
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn arbitrary_bytes_as_a_request_body_never_panic() {
    let mut runner = TestRunner::new(Config {
        cases: 512,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&prop::collection::vec(any::<u8>(), 0..200), |bytes| {
            let _ = serde_json::from_slice::<FieldValues>(&bytes);
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_policy_loader_never_panics_on_mangled_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("policy");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    let original = PolicySources {
        policy: read("policy.toml"),
        forms: ["assessment", "consent", "evaluation", "registration"]
            .iter()
            .map(|f| (format!("forms/{f}.toml"), read(&format!("forms/{f}.toml"))))
            .collect(),
        parties: read("parties.toml"),
        allocation: Some(read("allocation.toml")),
    };
    assert!(Policy::from_sources(&original).is_ok());
    let mangle = (
        0usize..6,
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        "\\PC{0,12}",
    );
    let mut runner = TestRunner::new(Config {
        cases: 256,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&mangle, |(file, line, other, junk)| {
            let mut src = original.clone();
            let text = match file {
                0 => &mut src.policy,
                1 => &mut src.parties,
                2 => src.allocation.as_mut().unwrap(),
                n => &mut src.forms[n - 3].1,
            };
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            let at = line.index(lines.len());
            match other.index(3) {
                0 => {
                    lines.remove(at);
                }
                1 => lines.insert(at, junk),
                _ => {
                    let copy = lines[other.index(lines.len())].clone();
                    lines.insert(at, copy);
                }
            }
            *text = lines.join("\n");
            // Any outcome but a panic is fine; an error names a file or the problem.
            if let Err(e) = Policy::from_sources(&src) {
                prop_assert!(e.to_string().starts_with("policy: "));
            }
            Ok(())
        })
        .unwrap();
}
