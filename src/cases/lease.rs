//! The lease (art. 4): the triangle lease (driehoekscontract) of the client, the corporation and
//! the municipality that grants guidance, and its conversion to a regular lease once the
//! corporation established its three conditions. Codes and dates only; pure, no I/O.

use std::collections::BTreeMap;

use super::{Case, CaseError};
use crate::form::FieldProblem;

/// The kinds of lease at the key handover: the triangle lease, or a regular one.
pub const KINDS: [&str; 2] = ["triangle", "regular"];

/// The conversion's three conditions (art. 4): the rent paid on time, acceptable living
/// behaviour, and the housing goals of the perspective plan reached.
pub const CONDITIONS: [&str; 3] = [
    "rent_paid_on_time",
    "living_behaviour",
    "plan_housing_goals",
];

/// The lease kind given at the key handover; `triangle` when none is given.
pub fn kind(given: Option<&str>) -> Result<String, CaseError> {
    match given.unwrap_or("triangle") {
        k if KINDS.contains(&k) => Ok(k.to_owned()),
        _ => Err(CaseError::Invalid(
            "`lease` is one of: triangle, regular".into(),
        )),
    }
}

fn problem(field: &str, text: &str) -> CaseError {
    CaseError::Fields(vec![FieldProblem {
        field: field.to_owned(),
        problem: text.to_owned(),
    }])
}

/// Checks a conversion of `case`'s lease on `converted_on` with the day each condition was met:
/// only a triangle lease converts (409); every condition, and no other, with a day from the
/// key handover to the conversion, which is not after `today`. The conditions to store.
pub fn conversion(
    case: &Case,
    converted_on: &str,
    conditions: &BTreeMap<String, String>,
    today: &str,
) -> Result<Vec<(String, String)>, CaseError> {
    if case.facts.lease_kind.as_deref() == Some("regular") {
        return Err(CaseError::Conflict(
            "the lease is regular already; only a triangle lease converts (art. 4)".into(),
        ));
    }
    let handover = case.facts.key_handover.as_deref().unwrap_or_default();
    let day = |d: &str| d.len() == 10 && crate::form::is_date(d);
    if !(day(converted_on) && converted_on <= today && converted_on >= handover) {
        return Err(problem(
            "converted_on",
            "must be a date as YYYY-MM-DD, from the key handover to today",
        ));
    }
    if conditions.keys().any(|c| !CONDITIONS.contains(&c.as_str())) {
        return Err(CaseError::Invalid(format!(
            "`conditions` are exactly: {}",
            CONDITIONS.join(", ")
        )));
    }
    let mut met = Vec::with_capacity(CONDITIONS.len());
    for condition in CONDITIONS {
        let Some(on) = conditions.get(condition) else {
            return Err(problem(
                &format!("conditions.{condition}"),
                "the lease converts when all three conditions are met (art. 4): give the day it was",
            ));
        };
        if !(day(on) && on.as_str() >= handover && on.as_str() <= converted_on) {
            return Err(problem(
                &format!("conditions.{condition}"),
                "must be a date as YYYY-MM-DD, from the key handover to the conversion",
            ));
        }
        met.push((condition.to_owned(), on.clone()));
    }
    Ok(met)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::CaseFacts;

    fn housed(lease: &str) -> Case {
        Case {
            id: "c".into(),
            form: "registration".into(),
            state: "housed".into(),
            created_by: String::new(),
            created_at: String::new(),
            updated_at: String::new(),
            client_pseudonym: None,
            facts: CaseFacts {
                key_handover: Some("2025-11-01".into()),
                lease_kind: Some(lease.into()),
                ..CaseFacts::default()
            },
        }
    }

    fn met(days: [&str; 3]) -> BTreeMap<String, String> {
        CONDITIONS
            .iter()
            .zip(days)
            .map(|(c, d)| ((*c).to_owned(), d.to_owned()))
            .collect()
    }

    #[test]
    fn a_triangle_lease_converts_when_its_three_conditions_are_met() {
        let all = met(["2026-10-01", "2026-10-15", "2026-11-01"]);
        let today = "2026-12-01";
        let done = conversion(&housed("triangle"), "2026-11-15", &all, today).unwrap();
        assert_eq!(
            done,
            [
                ("rent_paid_on_time".to_owned(), "2026-10-01".to_owned()),
                ("living_behaviour".to_owned(), "2026-10-15".to_owned()),
                ("plan_housing_goals".to_owned(), "2026-11-01".to_owned()),
            ]
        );
        assert!(matches!(
            conversion(&housed("regular"), "2026-11-15", &all, today),
            Err(CaseError::Conflict(_))
        ));
        for day in ["2026-12-02", "2025-10-31", "15 november"] {
            assert!(matches!(
                conversion(&housed("triangle"), day, &all, today),
                Err(CaseError::Fields(_))
            ));
        }
        let mut two = all.clone();
        two.remove("plan_housing_goals");
        let Err(CaseError::Fields(p)) = conversion(&housed("triangle"), "2026-11-15", &two, today)
        else {
            panic!("two conditions converted the lease");
        };
        assert_eq!(p[0].field, "conditions.plan_housing_goals");
        let late = met(["2026-10-01", "2026-10-15", "2026-11-20"]);
        assert!(matches!(
            conversion(&housed("triangle"), "2026-11-15", &late, today),
            Err(CaseError::Fields(_))
        ));
        let mut extra = all;
        extra.insert("good_neighbour".into(), "2026-10-01".into());
        assert!(matches!(
            conversion(&housed("triangle"), "2026-11-15", &extra, today),
            Err(CaseError::Invalid(_))
        ));
        assert_eq!(kind(None).unwrap(), "triangle");
        assert!(kind(Some("oral")).is_err());
    }
}
