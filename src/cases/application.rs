//! Applications to the municipality of the home (aanvragen, art. 9.7, 12): Wmo guidance and
//! special assistance, each with the days the municipality has to decide (policy
//! `[applications]`), and the decisions (beschikkingen) on them. Pure; no I/O.

use crate::policy::Policy;

use super::{CaseError, CaseParty, ShareItem};

/// The outcomes a municipality records.
pub const OUTCOMES: [&str; 3] = ["granted", "refused", "partly"];

/// An application as the broker keeps it: routing metadata only (codes and dates); the request
/// and the decision's reason are sealed fields.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Application {
    /// Application id (a UUID).
    pub id: String,
    /// The case.
    pub case: String,
    /// The municipality applied to (the municipality of the home).
    pub municipality: String,
    /// The kind, from the policy's `[applications]`.
    pub kind: String,
    /// When it was made.
    pub applied_at: String,
    /// The last day of the municipality's decision period, `YYYY-MM-DD`.
    pub due_on: String,
    /// `granted`, `refused` or `partly`, once decided.
    pub outcome: Option<String>,
    /// The date of the decision, `YYYY-MM-DD`.
    pub decided_on: Option<String>,
    /// When the decision was recorded.
    pub decided_at: Option<String>,
}

impl Application {
    /// Undecided past its last day on `today` (`YYYY-MM-DD`).
    pub fn overdue(&self, today: &str) -> bool {
        self.outcome.is_none() && self.due_on.as_str() < today
    }

    /// Days from the day it was made to the decision, once decided.
    pub fn decision_days(&self) -> Option<i64> {
        let (made, decided) = (day(&self.applied_at)?, day(self.decided_on.as_deref()?)?);
        Some((decided - made).whole_days())
    }
}

fn day(text: &str) -> Option<time::Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    time::Date::parse(text.get(..10)?, &format).ok()
}

/// A new application of `kind` to the case's municipality of the home, made `now`: checks the
/// kind against the policy and that the home's municipality is a party; the application to
/// store.
pub fn new_application(
    policy: &Policy,
    case_id: &str,
    home: Option<&str>,
    parties: &[CaseParty],
    kind: &str,
    now: &str,
) -> Result<Application, CaseError> {
    let Some(spec) = policy.applications.get(kind) else {
        let kinds: Vec<&str> = policy.applications.keys().map(String::as_str).collect();
        return Err(CaseError::Invalid(format!(
            "`kind` is one of: {}",
            kinds.join(", ")
        )));
    };
    let municipality = home
        .filter(|m| {
            parties
                .iter()
                .any(|p| p.org_id == *m && p.role == "municipality")
        })
        .ok_or_else(|| {
            CaseError::Conflict(
                "the case has no municipality of the home among its parties to apply to".into(),
            )
        })?;
    let made = day(now).ok_or_else(|| CaseError::Corrupt("the clock's date".into()))?;
    let due = made + time::Duration::days(i64::from(spec.days));
    Ok(Application {
        id: uuid::Uuid::new_v4().to_string(),
        case: case_id.to_owned(),
        municipality: municipality.to_owned(),
        kind: kind.to_owned(),
        applied_at: now.to_owned(),
        due_on: due.to_string(),
        outcome: None,
        decided_on: None,
        decided_at: None,
    })
}

/// The category of an application's content and of the decision's reason; the roles it is
/// granted to are the ones that see the applications of a case.
pub const CATEGORY: &str = "application";

/// Checks the care organisation's re-share with an application: every item goes to the
/// municipality applied to alone, with fields its role is granted, each once.
pub fn check_shares(
    policy: &Policy,
    items: &[ShareItem],
    municipality: &str,
) -> Result<(), CaseError> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        if item.recipients != [municipality] {
            return Err(CaseError::Invalid(format!(
                "share {}: an application's share goes to the municipality applied to \
                 (`{municipality}`) alone",
                i + 1
            )));
        }
        for field in &item.fields {
            let Some(spec) = policy.field(field) else {
                return Err(CaseError::Invalid(format!(
                    "share {}: a field that is not of any form",
                    i + 1
                )));
            };
            if !policy.may_open("municipality", field) {
                return Err(CaseError::Forbidden(format!(
                    "field `{field}` (category `{}`) may not be shared with `{municipality}`: \
                     the policy does not grant it to role `municipality`",
                    spec.category
                )));
            }
            if !seen.insert(field.as_str()) {
                return Err(CaseError::Invalid(format!(
                    "field `{field}` is shared with `{municipality}` twice"
                )));
            }
        }
    }
    Ok(())
}

/// A decision on `application` by `org` on `decided_on` (`YYYY-MM-DD`, not after `today`):
/// only the municipality applied to decides (403), once (409); the outcome is one of
/// [`OUTCOMES`].
pub fn check_decision(
    application: &Application,
    org: &str,
    outcome: &str,
    decided_on: &str,
    today: &str,
) -> Result<(), CaseError> {
    if application.municipality != org {
        return Err(CaseError::Forbidden(
            "only the municipality applied to decides on the application".into(),
        ));
    }
    if application.outcome.is_some() {
        return Err(CaseError::Conflict(
            "the application was decided already".into(),
        ));
    }
    if !OUTCOMES.contains(&outcome) {
        return Err(CaseError::Invalid(
            "`outcome` is one of: granted, refused, partly".into(),
        ));
    }
    let made = day(&application.applied_at);
    match (day(decided_on), day(today)) {
        (Some(d), Some(t)) if d <= t && made.is_none_or(|m| d >= m) && decided_on.len() == 10 => {
            Ok(())
        }
        _ => Err(CaseError::Fields(vec![crate::form::FieldProblem {
            field: "decided_on".into(),
            problem: "must be a date as YYYY-MM-DD, from the day of the application to today"
                .into(),
        }])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy::load_dir(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("policy")
                .as_path(),
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn parties() -> Vec<CaseParty> {
        [
            ("leviaan", "care"),
            ("ggd", "coordinator"),
            ("hoorn", "municipality"),
        ]
        .into_iter()
        .map(|(org, role)| CaseParty {
            org_id: org.into(),
            role: role.into(),
            added_at: String::new(),
            added_by: String::new(),
            applied: false,
        })
        .collect()
    }

    #[test]
    fn an_application_is_due_after_the_days_of_its_kind() {
        let p = policy();
        let now = "2026-03-30T10:00:00Z";
        let guidance =
            new_application(&p, "c", Some("hoorn"), &parties(), "guidance", now).unwrap();
        assert_eq!(guidance.due_on, "2026-04-13");
        assert_eq!(guidance.municipality, "hoorn");
        let assistance = new_application(
            &p,
            "c",
            Some("hoorn"),
            &parties(),
            "special_assistance",
            now,
        )
        .unwrap();
        assert_eq!(assistance.due_on, "2026-04-06");
        assert!(!assistance.overdue("2026-04-06"));
        assert!(assistance.overdue("2026-04-07"));
        let err = new_application(&p, "c", Some("hoorn"), &parties(), "housing", now).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`kind` is one of: guidance, special_assistance"
        );
        let err = new_application(&p, "c", Some("enkhuizen"), &parties(), "guidance", now);
        assert!(matches!(err, Err(CaseError::Conflict(_))));
        assert!(matches!(
            new_application(&p, "c", None, &parties(), "guidance", now),
            Err(CaseError::Conflict(_))
        ));
    }

    #[test]
    fn only_the_municipality_applied_to_decides_once_on_a_day_in_the_period() {
        let p = policy();
        let now = "2026-03-30T10:00:00Z";
        let mut app = new_application(&p, "c", Some("hoorn"), &parties(), "guidance", now).unwrap();
        let today = "2026-04-20";
        assert!(check_decision(&app, "hoorn", "granted", "2026-04-09", today).is_ok());
        assert!(matches!(
            check_decision(&app, "enkhuizen", "granted", "2026-04-09", today),
            Err(CaseError::Forbidden(_))
        ));
        assert!(matches!(
            check_decision(&app, "hoorn", "maybe", "2026-04-09", today),
            Err(CaseError::Invalid(_))
        ));
        for bad in [
            "2026-03-29",
            "2026-04-21",
            "9 april",
            "2026-04-09T00:00:00Z",
        ] {
            assert!(
                matches!(
                    check_decision(&app, "hoorn", "granted", bad, today),
                    Err(CaseError::Fields(_))
                ),
                "{bad}"
            );
        }
        app.outcome = Some("granted".into());
        app.decided_on = Some("2026-04-09".into());
        assert_eq!(app.decision_days(), Some(10));
        assert!(!app.overdue("2026-05-01"));
        assert!(matches!(
            check_decision(&app, "hoorn", "refused", "2026-04-10", today),
            Err(CaseError::Conflict(_))
        ));
    }
}
