//! Cases (dossiers): who becomes a party, and who may submit, re-share and pull. Pure
//! decisions over the policy and the case's parties; no I/O.

use std::collections::{BTreeMap, BTreeSet};

use crate::policy::{Joins, Policy};
use crate::store::{CaseParty, Organisation};

/// The state of a newly submitted case (aangemeld).
pub const REGISTERED: &str = "registered";

/// A refused action. Messages name organisations, roles and field ids — never values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseError {
    /// The caller's role may not do this at all.
    #[error("{0}")]
    Forbidden(String),
    /// The request names something that does not fit (unknown organisation, wrong role).
    #[error("{0}")]
    Invalid(String),
}

/// The parties of a new case: the submitting organisation and every enabled organisation of
/// the other roles that join at submission (the coordinator).
pub fn submission_parties(
    policy: &Policy,
    form: &str,
    submitter: &Organisation,
    enrolled: &[Organisation],
) -> Result<Vec<(String, String)>, CaseError> {
    let form_spec = policy
        .forms
        .get(form)
        .ok_or_else(|| CaseError::Invalid(format!("unknown form `{form}`")))?;
    if form_spec.submitted_by != submitter.role
        || policy.joins(&submitter.role) != Some(Joins::Submission)
    {
        return Err(CaseError::Forbidden(format!(
            "role `{}` may not submit form `{form}` (submitted by `{}`)",
            submitter.role, form_spec.submitted_by
        )));
    }
    let mut parties = vec![(submitter.id.clone(), submitter.role.clone())];
    for org in enrolled {
        if org.role != submitter.role
            && !org.disabled
            && policy.joins(&org.role) == Some(Joins::Submission)
        {
            parties.push((org.id.clone(), org.role.clone()));
        }
    }
    for (org, _) in &parties {
        if enrolled
            .iter()
            .chain([submitter])
            .any(|o| &o.id == org && o.recipient.is_none())
        {
            return Err(CaseError::Invalid(format!(
                "organisation `{org}` has no recipient key registered; an admin must run `sluis org set-recipient`"
            )));
        }
    }
    Ok(parties)
}

/// One item of a re-share: fields for a set of organisations.
#[derive(Debug, Clone)]
pub struct ShareItem {
    /// The organisations the fields are for.
    pub recipients: Vec<String>,
    /// The field ids.
    pub fields: Vec<String>,
}

/// What a valid re-share does: for each item the recipients, and the organisations that
/// become parties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharePlan {
    /// Organisations that join the case with this share, with their role.
    pub new_parties: Vec<(String, String)>,
}

/// Checks a re-share (`design.md` §1): the caller's role may refer and is a party; every
/// recipient is an enabled organisation with a key, of a role that joins by referral; every
/// field is allowed to every recipient's role. One refusal refuses the whole request.
pub fn plan_share(
    policy: &Policy,
    caller_role: &str,
    parties: &[CaseParty],
    items: &[ShareItem],
    orgs: &BTreeMap<String, Organisation>,
) -> Result<SharePlan, CaseError> {
    if !policy.refers(caller_role) {
        return Err(CaseError::Forbidden(format!(
            "role `{caller_role}` may not share fields with other parties"
        )));
    }
    if items.is_empty() {
        return Err(CaseError::Invalid("no shares given".into()));
    }
    let mut new_parties = Vec::new();
    let mut seen_pairs = BTreeSet::new();
    for item in items {
        if item.recipients.is_empty() {
            return Err(CaseError::Invalid("a share names no recipients".into()));
        }
        for org_id in &item.recipients {
            let Some(org) = orgs.get(org_id) else {
                return Err(CaseError::Invalid(format!(
                    "unknown organisation `{org_id}`"
                )));
            };
            if org.disabled {
                return Err(CaseError::Invalid(format!(
                    "organisation `{org_id}` is disabled"
                )));
            }
            if org.recipient.is_none() {
                return Err(CaseError::Invalid(format!(
                    "organisation `{org_id}` has no recipient key registered"
                )));
            }
            let party = parties.iter().find(|p| &p.org_id == org_id);
            if party.is_none() && policy.joins(&org.role) != Some(Joins::Referral) {
                return Err(CaseError::Forbidden(format!(
                    "organisation `{org_id}` (role `{}`) cannot be referred a case",
                    org.role
                )));
            }
            for field in &item.fields {
                let Some(spec) = policy.field(field) else {
                    return Err(CaseError::Invalid(format!("unknown field `{field}`")));
                };
                if !policy.may_open(&org.role, field) {
                    return Err(CaseError::Forbidden(format!(
                        "field `{field}` (category `{}`) may not be shared with `{org_id}`: \
                         the policy does not grant category `{}` to role `{}`",
                        spec.category, spec.category, org.role
                    )));
                }
                if !seen_pairs.insert((org_id.clone(), field.clone())) {
                    return Err(CaseError::Invalid(format!(
                        "field `{field}` is shared with `{org_id}` twice"
                    )));
                }
            }
            if party.is_none() && !new_parties.iter().any(|(o, _)| o == org_id) {
                new_parties.push((org_id.clone(), org.role.clone()));
            }
        }
    }
    Ok(SharePlan { new_parties })
}

/// The party entry of `org_id`, if it is a party of the case. Anything else is "not found".
pub fn party_of<'a>(parties: &'a [CaseParty], org_id: &str) -> Option<&'a CaseParty> {
    parties.iter().find(|p| p.org_id == org_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn policy() -> Policy {
        Policy::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policy")).unwrap()
    }

    fn org(id: &str, role: &str) -> Organisation {
        Organisation {
            id: id.into(),
            name: id.into(),
            role: role.into(),
            recipient: Some("age1...".into()),
            disabled: false,
        }
    }

    fn party(id: &str, role: &str) -> CaseParty {
        CaseParty {
            org_id: id.into(),
            role: role.into(),
            added_at: String::new(),
            added_by: String::new(),
        }
    }

    #[test]
    fn submission_makes_submitter_and_coordinator_parties() {
        let p = policy();
        let enrolled = vec![
            org("leviaan", "care"),
            org("parlan", "care"),
            org("bct-westfriesland", "coordinator"),
            org("intermaris", "corporation"),
        ];
        let parties = submission_parties(&p, "registration", &enrolled[0], &enrolled).unwrap();
        assert_eq!(
            parties,
            vec![
                ("leviaan".to_string(), "care".to_string()),
                ("bct-westfriesland".to_string(), "coordinator".to_string())
            ]
        );
        assert!(matches!(
            submission_parties(&p, "registration", &enrolled[3], &enrolled),
            Err(CaseError::Forbidden(_))
        ));
    }

    #[test]
    fn share_refuses_a_field_the_role_may_not_see() {
        let p = policy();
        let orgs: BTreeMap<_, _> = [
            org("intermaris", "corporation"),
            org("hoorn", "municipality"),
            org("parlan", "care"),
        ]
        .into_iter()
        .map(|o| (o.id.clone(), o))
        .collect();
        let parties = vec![
            party("leviaan", "care"),
            party("bct-westfriesland", "coordinator"),
        ];
        let ok = plan_share(
            &p,
            "coordinator",
            &parties,
            &[ShareItem {
                recipients: vec!["intermaris".into()],
                fields: vec!["full_name".into(), "debts_total".into()],
            }],
            &orgs,
        )
        .unwrap();
        assert_eq!(
            ok.new_parties,
            vec![("intermaris".to_string(), "corporation".to_string())]
        );

        let err = plan_share(
            &p,
            "coordinator",
            &parties,
            &[ShareItem {
                recipients: vec!["intermaris".into()],
                fields: vec!["full_name".into(), "bsn".into()],
            }],
            &orgs,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "field `bsn` (category `identifiers`) may not be shared with `intermaris`: the policy does not grant category `identifiers` to role `corporation`"
        );
        assert!(matches!(
            plan_share(
                &p,
                "care",
                &parties,
                &[ShareItem {
                    recipients: vec!["intermaris".into()],
                    fields: vec!["full_name".into()]
                }],
                &orgs
            ),
            Err(CaseError::Forbidden(_))
        ));
        assert!(matches!(
            plan_share(
                &p,
                "coordinator",
                &parties,
                &[ShareItem {
                    recipients: vec!["parlan".into()],
                    fields: vec!["full_name".into()]
                }],
                &orgs
            ),
            Err(CaseError::Forbidden(_))
        ));
    }
}
