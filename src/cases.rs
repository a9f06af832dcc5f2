//! Cases (dossiers): who becomes a party, and who may submit, re-share and pull. Pure
//! decisions over the policy and the case's parties; no I/O.

use std::collections::{BTreeMap, BTreeSet};

use crate::policy::{Joins, Policy};
use crate::store::{CaseParty, Organisation};

/// The state of a newly submitted case (aangemeld).
pub const REGISTERED: &str = "registered";

/// The lifecycle states of a case (`domain.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum State {
    /// Submitted by the care organisation (aangemeld).
    Registered,
    /// The coordinator asked the care organisation for more information.
    InfoRequested,
    /// Assessed and accepted by the coordinator (beoordeeld).
    Assessed,
    /// Assessed and rejected (afgewezen); final.
    Rejected,
    /// Referred to corporations and the destination municipality (voorgedragen).
    Referred,
    /// A corporation found a home (match).
    Matched,
    /// Lease signed, keys handed over (gehuisvest).
    Housed,
    /// The triangle lease became a regular one (art. 4).
    LeaseConverted,
    /// Ended; final.
    Ended,
    /// Withdrawn (client or consent withdrawn); final.
    Withdrawn,
}

impl State {
    /// All states.
    pub const ALL: [State; 10] = [
        State::Registered,
        State::InfoRequested,
        State::Assessed,
        State::Rejected,
        State::Referred,
        State::Matched,
        State::Housed,
        State::LeaseConverted,
        State::Ended,
        State::Withdrawn,
    ];

    /// The name used in the API and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Registered => "registered",
            State::InfoRequested => "info_requested",
            State::Assessed => "assessed",
            State::Rejected => "rejected",
            State::Referred => "referred",
            State::Matched => "matched",
            State::Housed => "housed",
            State::LeaseConverted => "lease_converted",
            State::Ended => "ended",
            State::Withdrawn => "withdrawn",
        }
    }

    /// Parses a state name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Final states: nothing more happens to the case.
    pub fn is_final(self) -> bool {
        matches!(self, State::Rejected | State::Ended | State::Withdrawn)
    }
}

/// What a party can do to a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Coordinator accepts the registration.
    Accept,
    /// Coordinator rejects it (reason sealed as an assessment field).
    Reject,
    /// Coordinator asks the care organisation for more information.
    RequestInfo,
    /// Care organisation answers with an update.
    Answer,
    /// Coordinator refers the case to municipalities and their corporations.
    Refer,
    /// A referred corporation reports a home.
    Match,
    /// The matching corporation reports the lease signed and the keys handed over.
    Housed,
    /// Care organisation uploads a half-yearly evaluation.
    Evaluate,
    /// Care organisation reports a change (art. 6, 12).
    ReportChange,
    /// The corporation converts the triangle lease.
    ConvertLease,
    /// Coordinator or corporation ends the case.
    End,
    /// Care organisation or coordinator withdraws the case (consent withdrawn).
    Withdraw,
}

impl Action {
    /// The name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Accept => "accept",
            Action::Reject => "reject",
            Action::RequestInfo => "request_info",
            Action::Answer => "answer",
            Action::Refer => "refer",
            Action::Match => "match",
            Action::Housed => "housed",
            Action::Evaluate => "evaluate",
            Action::ReportChange => "report_change",
            Action::ConvertLease => "convert_lease",
            Action::End => "end",
            Action::Withdraw => "withdraw",
        }
    }

    /// The roles that may take this action, and the states it is taken from.
    fn rule(self) -> (&'static [&'static str], &'static [State]) {
        use State::*;
        const OPEN: &[State] = &[
            Registered,
            InfoRequested,
            Assessed,
            Referred,
            Matched,
            Housed,
            LeaseConverted,
        ];
        match self {
            Action::Accept => (&["coordinator"], &[Registered]),
            Action::Reject => (&["coordinator"], &[Registered, InfoRequested]),
            Action::RequestInfo => (&["coordinator"], &[Registered]),
            Action::Answer => (&["care"], &[InfoRequested]),
            Action::Refer => (&["coordinator"], &[Assessed, Referred]),
            Action::Match => (&["corporation"], &[Referred]),
            Action::Housed => (&["corporation"], &[Matched]),
            Action::Evaluate => (&["care"], &[Housed, LeaseConverted]),
            Action::ReportChange => (&["care"], OPEN),
            Action::ConvertLease => (&["corporation"], &[Housed]),
            Action::End => (
                &["coordinator", "corporation"],
                &[Referred, Matched, Housed, LeaseConverted],
            ),
            Action::Withdraw => (&["care", "coordinator"], OPEN),
        }
    }

    /// The state after the action.
    fn target(self, from: State) -> State {
        match self {
            Action::Accept => State::Assessed,
            Action::Reject => State::Rejected,
            Action::RequestInfo => State::InfoRequested,
            Action::Answer => State::Registered,
            Action::Refer => State::Referred,
            Action::Match => State::Matched,
            Action::Housed => State::Housed,
            Action::ConvertLease => State::LeaseConverted,
            Action::End => State::Ended,
            Action::Withdraw => State::Withdrawn,
            Action::Evaluate | Action::ReportChange => from,
        }
    }
}

/// Why a transition is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The role never takes this action (403).
    #[error("role `{role}` may not {action} a case")]
    Role {
        /// The caller's role.
        role: String,
        /// The action.
        action: &'static str,
    },
    /// Not from this state (409).
    #[error("`{action}` is not possible for a case in state `{state}`; it is from: {allowed}")]
    State {
        /// The case's state.
        state: &'static str,
        /// The action.
        action: &'static str,
        /// The states it is allowed from.
        allowed: String,
    },
}

/// The lifecycle: whether `role` may take `action` on a case in `from`, and the state after.
pub fn transition(from: State, action: Action, role: &str) -> Result<State, Refusal> {
    let (roles, states) = action.rule();
    if !roles.contains(&role) {
        return Err(Refusal::Role {
            role: role.to_owned(),
            action: action.as_str(),
        });
    }
    if !states.contains(&from) {
        return Err(Refusal::State {
            state: from.as_str(),
            action: action.as_str(),
            allowed: states
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    Ok(action.target(from))
}

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
/// Only organisations in `may_join` (those a referral names) can become parties; every other
/// recipient must already be one.
pub fn plan_share(
    policy: &Policy,
    caller_role: &str,
    parties: &[CaseParty],
    items: &[ShareItem],
    orgs: &BTreeMap<String, Organisation>,
    may_join: &BTreeSet<String>,
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
            if party.is_none() && !may_join.contains(org_id) {
                return Err(CaseError::Forbidden(format!(
                    "organisation `{org_id}` is not a party of this case; refer the case to its municipality first"
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

/// The organisations a referral to `municipalities` makes parties: the municipalities and the
/// corporations with homes there (policy `allocation.toml`).
pub fn referral_recipients(
    policy: &Policy,
    municipalities: &[String],
) -> Result<BTreeSet<String>, CaseError> {
    if municipalities.is_empty() {
        return Err(CaseError::Invalid(
            "a referral names at least one municipality".into(),
        ));
    }
    let mut out = BTreeSet::new();
    for m in municipalities {
        let alloc = policy.allocation.municipalities.get(m).ok_or_else(|| {
            CaseError::Invalid(format!(
                "{} is not a municipality of the allocation",
                crate::form::describe_org(m)
            ))
        })?;
        out.insert(m.clone());
        out.extend(alloc.corporations.iter().cloned());
    }
    Ok(out)
}

/// The party entry of `org_id`, if it is a party of the case. Anything else is "not found".
pub fn party_of<'a>(parties: &'a [CaseParty], org_id: &str) -> Option<&'a CaseParty> {
    parties.iter().find(|p| p.org_id == org_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_lifecycle_allows_each_step_only_to_its_role_from_its_state() {
        use State::*;
        const OPEN: [State; 7] = [
            Registered,
            InfoRequested,
            Assessed,
            Referred,
            Matched,
            Housed,
            LeaseConverted,
        ];
        let mut allowed: Vec<(Action, &str, State, State)> = vec![
            (Action::Accept, "coordinator", Registered, Assessed),
            (Action::Reject, "coordinator", Registered, Rejected),
            (Action::Reject, "coordinator", InfoRequested, Rejected),
            (
                Action::RequestInfo,
                "coordinator",
                Registered,
                InfoRequested,
            ),
            (Action::Answer, "care", InfoRequested, Registered),
            (Action::Refer, "coordinator", Assessed, Referred),
            (Action::Refer, "coordinator", Referred, Referred),
            (Action::Match, "corporation", Referred, Matched),
            (Action::Housed, "corporation", Matched, Housed),
            (Action::Evaluate, "care", Housed, Housed),
            (Action::Evaluate, "care", LeaseConverted, LeaseConverted),
            (Action::ConvertLease, "corporation", Housed, LeaseConverted),
        ];
        for from in [Referred, Matched, Housed, LeaseConverted] {
            allowed.push((Action::End, "coordinator", from, Ended));
            allowed.push((Action::End, "corporation", from, Ended));
        }
        for from in OPEN {
            allowed.push((Action::ReportChange, "care", from, from));
            allowed.push((Action::Withdraw, "care", from, Withdrawn));
            allowed.push((Action::Withdraw, "coordinator", from, Withdrawn));
        }
        let roles = [
            "care",
            "coordinator",
            "corporation",
            "municipality",
            "privacy_officer",
            "admin",
        ];
        let actions = [
            Action::Accept,
            Action::Reject,
            Action::RequestInfo,
            Action::Answer,
            Action::Refer,
            Action::Match,
            Action::Housed,
            Action::Evaluate,
            Action::ReportChange,
            Action::ConvertLease,
            Action::End,
            Action::Withdraw,
        ];
        let mut checked = 0;
        for action in actions {
            for role in roles {
                for from in State::ALL {
                    let expected = allowed
                        .iter()
                        .find(|(a, r, f, _)| *a == action && *r == role && *f == from);
                    let got = transition(from, action, role);
                    match expected {
                        Some((_, _, _, to)) => {
                            assert_eq!(got, Ok(*to), "{action:?} by {role} from {from:?}");
                        }
                        None => assert!(
                            got.is_err(),
                            "{action:?} by {role} from {from:?} must be refused"
                        ),
                    }
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 12 * 6 * 10);
        assert!(matches!(
            transition(State::Registered, Action::Match, "corporation"),
            Err(Refusal::State { .. })
        ));
        assert!(matches!(
            transition(State::Referred, Action::Match, "municipality"),
            Err(Refusal::Role { .. })
        ));
        assert_eq!(
            transition(State::Ended, Action::Withdraw, "care")
                .unwrap_err()
                .to_string(),
            "`withdraw` is not possible for a case in state `ended`; it is from: registered, info_requested, assessed, referred, matched, housed, lease_converted"
        );
    }

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
        let referred = referral_recipients(&p, &["hoorn".to_string()]).unwrap();
        assert_eq!(
            referred.iter().map(String::as_str).collect::<Vec<_>>(),
            ["het-grootslag", "hoorn", "intermaris", "wooncompagnie"]
        );
        let ok = plan_share(
            &p,
            "coordinator",
            &parties,
            &[ShareItem {
                recipients: vec!["intermaris".into()],
                fields: vec!["full_name".into(), "debts_total".into()],
            }],
            &orgs,
            &referred,
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
            &referred,
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
                &orgs,
                &referred
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
                &orgs,
                &referred
            ),
            Err(CaseError::Forbidden(_))
        ));
        // A corporation with no homes in the referred municipality cannot be made a party.
        let mut orgs = orgs;
        orgs.insert("gwb-opmeer".into(), org("gwb-opmeer", "corporation"));
        let err = plan_share(
            &p,
            "coordinator",
            &parties,
            &[ShareItem {
                recipients: vec!["gwb-opmeer".into()],
                fields: vec!["full_name".into()],
            }],
            &orgs,
            &referred,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "organisation `gwb-opmeer` is not a party of this case; refer the case to its municipality first"
        );
    }
}
