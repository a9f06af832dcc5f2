//! The lifecycle of a case (`domain.md`): its states, the actions parties take, which role
//! takes each from which states, and why a transition is refused; and the rules of each step
//! (who may take it, what it records, whom it notifies). Pure; no I/O.

use crate::clock::months_later;
use crate::consent::ConsentRecord;
use crate::form::FieldValues;
use crate::policy::Policy;
use crate::sealing::Plaintext;

use super::{Case, CaseError, CaseFacts, CaseParty, NewSealedField, Notice, Step};

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
    /// Care organisation or coordinator records a new consent declaration for an open case
    /// (a renewal, or a wider scope); the case continues under it.
    RenewConsent,
    /// Corporation or municipality signals a problem after the match (art. 9.9, 12).
    Signal,
    /// Care organisation applies to the municipality of the home (art. 9.7).
    Apply,
    /// The municipality of the home decides on an application (art. 8.6, 9.7, 12).
    Decide,
    /// Coordinator or the matching corporation: the client needs replacement housing (art.
    /// 9.11); the case returns to the coordinator for a new referral.
    Rehouse,
    /// A party writes a message to parties it picks.
    Message,
    /// The coordinator records the report of a consultation (art. 9, 15).
    Consult,
    /// The municipality of the home records the report of the hand-over (art. 16).
    HandOver,
    /// A participant acknowledges a report (art. 15, 16: approval and signature).
    Acknowledge,
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
            Action::RenewConsent => "renew_consent",
            Action::Signal => "signal",
            Action::Apply => "apply",
            Action::Decide => "decide",
            Action::Rehouse => "rehouse",
            Action::Message => "message",
            Action::Consult => "consult",
            Action::HandOver => "hand_over",
            Action::Acknowledge => "acknowledge",
        }
    }

    /// The roles that may take this action, and the states it is taken from.
    fn rule(self) -> (&'static [&'static str], &'static [State]) {
        use State::*;
        const PARTIES: &[&str] = &["care", "coordinator", "corporation", "municipality"];
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
            Action::Withdraw | Action::RenewConsent => (&["care", "coordinator"], OPEN),
            Action::Signal => (
                &["corporation", "municipality"],
                &[Matched, Housed, LeaseConverted],
            ),
            Action::Apply => (&["care"], &[Matched, Housed, LeaseConverted]),
            Action::Decide => (&["municipality"], &[Matched, Housed, LeaseConverted]),
            Action::Rehouse => (&["coordinator", "corporation"], &[Housed, LeaseConverted]),
            Action::Message | Action::Acknowledge => (PARTIES, OPEN),
            Action::Consult => (&["coordinator"], OPEN),
            Action::HandOver => (&["municipality"], &[Housed, LeaseConverted]),
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
            Action::Rehouse => State::Assessed,
            Action::Evaluate
            | Action::ReportChange
            | Action::RenewConsent
            | Action::Signal
            | Action::Apply
            | Action::Decide
            | Action::Message
            | Action::Consult
            | Action::HandOver
            | Action::Acknowledge => from,
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

#[cfg(test)]
mod tests {
    use super::*;

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
        for from in [Matched, Housed, LeaseConverted] {
            allowed.push((Action::Signal, "corporation", from, from));
            allowed.push((Action::Signal, "municipality", from, from));
            allowed.push((Action::Apply, "care", from, from));
            allowed.push((Action::Decide, "municipality", from, from));
        }
        for from in [Housed, LeaseConverted] {
            allowed.push((Action::Rehouse, "coordinator", from, Assessed));
            allowed.push((Action::Rehouse, "corporation", from, Assessed));
            allowed.push((Action::HandOver, "municipality", from, from));
        }
        for from in OPEN {
            allowed.push((Action::ReportChange, "care", from, from));
            allowed.push((Action::Withdraw, "care", from, Withdrawn));
            allowed.push((Action::Withdraw, "coordinator", from, Withdrawn));
            allowed.push((Action::RenewConsent, "care", from, from));
            allowed.push((Action::RenewConsent, "coordinator", from, from));
            allowed.push((Action::Consult, "coordinator", from, from));
            for role in ["care", "coordinator", "corporation", "municipality"] {
                allowed.push((Action::Message, role, from, from));
                allowed.push((Action::Acknowledge, role, from, from));
            }
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
            Action::RenewConsent,
            Action::Signal,
            Action::Apply,
            Action::Decide,
            Action::Rehouse,
            Action::Message,
            Action::Consult,
            Action::HandOver,
            Action::Acknowledge,
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
        assert_eq!(checked, 21 * 6 * 10);
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
}

// ---- the steps' rules ---------------------------------------------------------------------

/// A step about to be taken on a case the caller's organisation is a party to, allowed for
/// its role from the case's state.
#[derive(Debug)]
pub struct StepContext {
    /// The case.
    pub case: Case,
    /// Its parties.
    pub parties: Vec<CaseParty>,
    /// Its consent record.
    pub consent: Option<ConsentRecord>,
    /// The state it is in.
    pub from: State,
    /// The state after the step.
    pub to: State,
}

/// The step `action` picks from the case's state (a change report is an answer when the
/// coordinator asked for more information), if `role` may take it from there: the action and
/// the states before and after. A wrong role is 403, a wrong state 409; both are recorded.
pub fn decide(
    case: &Case,
    role: &str,
    action: impl Fn(State) -> Action,
) -> Result<(Action, State, State), CaseError> {
    let from = State::parse(&case.state)
        .ok_or_else(|| CaseError::Corrupt(format!("case state `{}`", case.state)))?;
    let action = action(from);
    match transition(from, action, role) {
        Ok(to) => Ok((action, from, to)),
        Err(refusal @ Refusal::Role { .. }) => Err(CaseError::Forbidden(refusal.to_string())),
        Err(refusal @ Refusal::State { .. }) => Err(CaseError::Conflict(refusal.to_string())),
    }
}

impl StepContext {
    /// The step to store, taken by `by_org`.
    pub fn step(&self, by_org: &str) -> Step {
        Step {
            case_id: self.case.id.clone(),
            from: self.from.as_str().to_owned(),
            to: self.to.as_str().to_owned(),
            by_org: by_org.to_owned(),
            ..Step::default()
        }
    }

    /// The case's consent record (403 if it has none).
    pub fn consent(&self) -> Result<&ConsentRecord, CaseError> {
        self.consent
            .as_ref()
            .ok_or_else(|| CaseError::Forbidden("the case has no consent record".into()))
    }

    /// Refuses (403, recorded) unless `org` is the corporation that reported the match.
    pub fn by_matching_corporation(&self, org: &str, reason: &str) -> Result<(), CaseError> {
        if self.case.facts.matched_by.as_deref() == Some(org) {
            Ok(())
        } else {
            Err(CaseError::Forbidden(reason.to_owned()))
        }
    }

    /// Every party but `org`, with a notification of `kind`.
    pub fn notify_others(&self, org: &str, kind: &str, detail: &str) -> Vec<Notice> {
        super::notify_others(&self.parties, org, kind, detail)
    }
}

/// The assessment field holding the coordinator's checklist of the art. 7 criteria.
pub const CHECKLIST_FIELD: &str = "criteria_checklist";

/// The coordinator's decision on a registration (art. 8.3, 9.2); a rejection needs its reason.
pub fn assessment_action(decision: &str, fields: &FieldValues) -> Result<Action, CaseError> {
    let action = match decision {
        "accept" => Action::Accept,
        "reject" => Action::Reject,
        "request_info" => Action::RequestInfo,
        _ => {
            return Err(CaseError::Invalid(
                "`decision` is one of: accept, reject, request_info".into(),
            ));
        }
    };
    if action == Action::Reject && !fields.0.iter().any(|(k, _)| k == "decision_reason") {
        return Err(CaseError::Invalid(
            "a rejection needs the `decision_reason` field".into(),
        ));
    }
    Ok(action)
}

/// What an assessment must carry (art. 8.3): an `accept` the checklist, and a reason if a
/// criterion is not met; a rejection a checklist naming at least one criterion not met.
/// Checked once the coordinator may take the step.
pub fn assessment_fields(action: Action, fields: &FieldValues) -> Result<(), CaseError> {
    let checklist = fields.0.iter().find(|(k, _)| k == CHECKLIST_FIELD);
    let reason = fields.0.iter().any(|(k, _)| k == "decision_reason");
    let needs = |field: &str, problem: &str| {
        Err(CaseError::Fields(vec![crate::form::FieldProblem {
            field: field.into(),
            problem: problem.into(),
        }]))
    };
    let not_met = checklist.map(|(_, v)| crate::form::criteria_not_met(v));
    match (action, not_met) {
        (Action::Accept | Action::Reject, None) => needs(
            CHECKLIST_FIELD,
            "is required: the coordinator checks every criterion of art. 7 (art. 8.3)",
        ),
        (Action::Accept, Some(not_met)) if !not_met.is_empty() && !reason => needs(
            "decision_reason",
            "is required to accept with a criterion not met (art. 8.3)",
        ),
        (Action::Reject, Some(not_met)) if not_met.is_empty() => needs(
            CHECKLIST_FIELD,
            "a rejection names the criteria that failed: at least one `not_met` (art. 8.3)",
        ),
        _ => Ok(()),
    }
}

/// The papers a case needs before it is accepted (art. 7.1, 8.2, 9.1: the perspective plan in
/// the uniform format, signed, and the form co-signed): every field of the case's form marked
/// `before_assessment` has been sealed (`sealed` holds the field ids the case has).
pub fn papers_before_assessment(
    policy: &Policy,
    form: &str,
    sealed: &std::collections::BTreeSet<String>,
) -> Result<(), CaseError> {
    let missing: Vec<crate::form::FieldProblem> = (policy.forms.get(form).into_iter())
        .flat_map(|f| &f.fields)
        .filter_map(|id| policy.field(id))
        .filter(|spec| spec.before_assessment && !sealed.contains(&spec.id))
        .map(|spec| crate::form::FieldProblem {
            field: spec.id.clone(),
            problem: "is needed before the case is accepted: send it with a change report \
                      (art. 7.1, 8.2)"
                .into(),
        })
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(CaseError::Fields(missing))
    }
}

/// Why a closed case (`rejected`, `ended`, `withdrawn`) is no longer served to `role` on
/// `today` (410), or `None` while it is: only the policy's `[closed] read_roles`, for
/// `read_days` after the day it closed (`closed_at`, a stored time). An open case is served.
pub fn closed_refusal(policy: &Policy, case: &Case, role: &str, today: &str) -> Option<String> {
    let state = State::parse(&case.state)?;
    if !matches!(state, State::Rejected | State::Ended | State::Withdrawn) {
        return None;
    }
    let closed = &policy.closed;
    if !closed.read_roles.iter().any(|r| r == role) {
        return Some(format!(
            "the case is `{}`: it is no longer served to role `{role}` (policy [closed])",
            case.state
        ));
    }
    let (closed_on, last) = past_period(case, closed.read_days, today)?;
    Some(format!(
        "the case is `{}` since {closed_on}: read access ended on {last} (policy [closed], {} days)",
        case.state, closed.read_days
    ))
}

/// The day a closed case closed (its last change) and the last day of the `days` after it, if
/// `today` (`YYYY-MM-DD`) lies past them.
fn past_period(case: &Case, days: u32, today: &str) -> Option<(time::Date, time::Date)> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = |s: &str| time::Date::parse(s.get(..10).unwrap_or(s), &format).ok();
    let (closed_on, today) = (day(&case.updated_at)?, day(today)?);
    let last = closed_on + time::Duration::days(i64::from(days));
    (today > last).then_some((closed_on, last))
}

/// The retention rule under which a closed case's age files are due for deletion on `today`
/// (policy `[retention]`, counted from the day it closed), with its text for the receipt; or
/// `None` while they are kept (an open case, or a state no rule names).
pub fn retention_due(policy: &Policy, case: &Case, today: &str) -> Option<String> {
    let rule = policy.retention.get(&case.state)?;
    let (closed_on, _) = past_period(case, rule.days, today)?;
    Some(format!(
        "retention.{}: {} days after {closed_on} ({})",
        case.state, rule.days, rule.basis
    ))
}

/// The parties a match takes off the case (AVG art. 5(1)(c)): the referred corporations but
/// the one that found the home, and the referred municipalities but the home's.
pub fn revoked_at_match(parties: &[CaseParty], corporation: &str, home: &str) -> Vec<String> {
    (parties.iter())
        .filter(|p| match p.role.as_str() {
            "corporation" => p.org_id != corporation,
            "municipality" => p.org_id != home,
            _ => false,
        })
        .map(|p| p.org_id.clone())
        .collect()
}

/// Why a case ends, a code from a closed list: the lease ended or the client moved by a home
/// swap (art. 10); replacement housing is sought because living alone proved unsuitable (art.
/// 9.11: the case returns to the coordinator for a new referral); the client moved on; another
/// reason.
pub const END_REASONS: [&str; 5] = [
    "lease_ended",
    "home_swap",
    "replacement_housing",
    "moved_on",
    "other",
];

/// The step an ending with `reason` is: replacement housing re-opens the case for a new
/// referral (art. 9.11); every other reason ends it.
pub fn end_action(reason: &str) -> Result<Action, CaseError> {
    match reason {
        "replacement_housing" => Ok(Action::Rehouse),
        r if END_REASONS.contains(&r) => Ok(Action::End),
        _ => Err(CaseError::Invalid(format!(
            "`reason` is one of: {}",
            END_REASONS.join(", ")
        ))),
    }
}

/// The last place in the referral queue (art. 8.4); 1 is first in line.
pub const MAX_QUEUE_POSITION: i64 = 10_000;

/// A queue position as set at referral: 1 to [`MAX_QUEUE_POSITION`].
pub fn queue_position(position: Option<i64>) -> Result<Option<i64>, CaseError> {
    match position {
        Some(p) if !(1..=MAX_QUEUE_POSITION).contains(&p) => {
            Err(CaseError::Fields(vec![crate::form::FieldProblem {
                field: "queue_position".into(),
                problem: format!("must be a whole number from 1 to {MAX_QUEUE_POSITION}"),
            }]))
        }
        other => Ok(other),
    }
}

/// The half-year of an evaluation: 1 or 2 (art. 9.10).
pub fn evaluation_period(period: i64) -> Result<i64, CaseError> {
    if matches!(period, 1 | 2) {
        Ok(period)
    } else {
        Err(CaseError::Fields(vec![crate::form::FieldProblem {
            field: "period".into(),
            problem: "must be 1 or 2 (the first or second half-year)".into(),
        }]))
    }
}

/// The kinds of home a match reports.
pub const HOME_KINDS: [&str; 3] = ["regular", "youth_room", "youth_studio"];

/// The facts a match records: the home's kind and municipality, which must be one where the
/// matching corporation has homes (allocation).
pub fn match_facts(
    policy: &Policy,
    corporation: &str,
    home_municipality: &str,
    home_kind: &str,
    now: &str,
) -> Result<CaseFacts, CaseError> {
    if !HOME_KINDS.contains(&home_kind) {
        return Err(CaseError::Invalid(
            "`home_kind` is one of: regular, youth_room, youth_studio".into(),
        ));
    }
    let has_homes = policy
        .allocation
        .municipalities
        .get(home_municipality)
        .is_some_and(|m| m.corporations.iter().any(|c| c == corporation));
    if !has_homes {
        return Err(CaseError::Invalid(format!(
            "{} is not a municipality where your corporation has homes (allocation)",
            policy.describe_party(home_municipality, "`home_municipality`")
        )));
    }
    Ok(CaseFacts {
        matched_at: Some(now.to_owned()),
        matched_by: Some(corporation.to_owned()),
        home_municipality: Some(home_municipality.to_owned()),
        home_kind: Some(home_kind.to_owned()),
        ..CaseFacts::default()
    })
}

/// The half-yearly evaluations (art. 9.10) a key handover on `key_handover` (`YYYY-MM-DD`)
/// makes due: (period, due date) six and twelve months on.
pub fn evaluations_due(key_handover: &str) -> Result<Vec<(i64, String)>, CaseError> {
    let handover = time::Date::parse(
        key_handover,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| CaseError::Invalid("`key_handover` must be a date as YYYY-MM-DD".into()))?;
    Ok(vec![
        (1, months_later(handover, 6).to_string()),
        (2, months_later(handover, 12).to_string()),
    ])
}

/// Refuses a change of a field outside `allowed` categories (only those can be reported as
/// a change).
pub fn only_categories(
    policy: &Policy,
    fields: &[&str],
    allowed: &[String],
) -> Result<(), CaseError> {
    for field in fields {
        let category = policy
            .field(field)
            .map(|f| f.category.as_str())
            .unwrap_or_default();
        if !allowed.iter().any(|a| a == category) {
            return Err(CaseError::Invalid(format!(
                "field `{field}` (category `{category}`) cannot be reported as a change; categories: {}",
                allowed.join(", ")
            )));
        }
    }
    Ok(())
}

/// A change report holds fields of the policy's change categories (art. 6, 12), or the
/// papers a case needs before assessment (`before_assessment`: art. 7.1, 8.2), which may follow
/// the registration.
pub fn change_report_fields(
    policy: &Policy,
    fields: &[(String, Plaintext)],
) -> Result<(), CaseError> {
    let changes: Vec<&str> = fields
        .iter()
        .map(|(id, _)| id.as_str())
        .filter(|id| !policy.field(id).is_some_and(|f| f.before_assessment))
        .collect();
    only_categories(policy, &changes, &policy.changes.categories)
}

/// One notification of `kind` per organisation that received a new age file in this step
/// (other than `by_org`).
pub fn notices_to_recipients(
    sealed: &[NewSealedField],
    by_org: &str,
    kind: &str,
    detail: &str,
) -> Vec<Notice> {
    let receiving: std::collections::BTreeSet<&String> = (sealed.iter())
        .flat_map(|f| f.recipients.iter())
        .filter(|o| *o != by_org)
        .collect();
    (receiving.into_iter())
        .map(|o| Notice::new(o, kind, detail))
        .collect()
}

/// One notification per organisation that received a new age file in this step (other than
/// `by_org`), saying which fields changed.
pub fn changed_notices(sealed: &[NewSealedField], by_org: &str) -> Vec<Notice> {
    let mut per_org: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for f in sealed {
        for org in f.recipients.iter().filter(|o| *o != by_org) {
            per_org.entry(org).or_default().push(&f.field_id);
        }
    }
    per_org
        .into_iter()
        .map(|(org, fields)| {
            Notice::new(
                org,
                "slice_changed",
                &format!("changed: {}", fields.join(", ")),
            )
        })
        .collect()
}
