//! Per-case authorisation every handler shares: the case the caller's organisation is a party
//! to (anything else is the same 404), the caller's checks, and refusals recorded as denied
//! events of the attempt.

use super::{ApiError, AppState, Caller};
use crate::audit::Event;
use crate::cases::{self, Case, CaseError, CaseParty, NewSealedField, Organisation, SealingPlan};
use crate::policy::Policy;
use crate::sealing;

/// Looks up a case the caller's organisation is a party to. Anything else — a case that does
/// not exist, or one the caller is no party to — is the same 404, and a denied event.
pub(super) async fn case_for(
    state: &AppState,
    caller: &Caller,
    id: &str,
    attempt: Event,
) -> Result<(Case, Vec<CaseParty>), ApiError> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(ApiError::bad_request("a case id is a UUID"));
    }
    let not_found = || ApiError::not_found("no such case that your organisation is a party to");
    let mut attempt = attempt;
    attempt.case = Some(id.to_owned());
    let Some(case) = state.store.case(id).await? else {
        return Err(caller
            .deny(state, attempt, "no such case", not_found())
            .await);
    };
    let parties = state.store.parties(id).await?;
    if cases::party_of(&parties, &caller.org_id).is_none() {
        attempt.client.clone_from(&case.client_pseudonym);
        return Err(caller
            .deny(state, attempt, "not a party to the case", not_found())
            .await);
    }
    Ok((case, parties))
}

/// A case the caller's organisation is a party to, with the attempt's event now naming the
/// case and its client.
pub(super) async fn own_case(
    state: &AppState,
    caller: &Caller,
    id: &str,
    mut attempt: Event,
) -> Result<(Case, Vec<CaseParty>, Event), ApiError> {
    let (case, parties) = case_for(state, caller, id, attempt.clone()).await?;
    attempt.case = Some(case.id.clone());
    attempt.client.clone_from(&case.client_pseudonym);
    Ok((case, parties, attempt))
}

impl Caller {
    /// Refuses (403, recorded) a user whose role is not its organisation's: only those act on
    /// case content. `what` completes "role `…` …".
    pub(super) async fn require_org(
        &self,
        state: &AppState,
        attempt: &Event,
        what: &str,
    ) -> Result<(), ApiError> {
        if self.acts_for_org() {
            return Ok(());
        }
        let reason = format!("role `{}` {what}", self.role);
        Err(self
            .deny(
                state,
                attempt.clone(),
                &reason,
                ApiError::forbidden(reason.clone()),
            )
            .await)
    }

    /// Refuses (403, recorded) unless the caller acts for the coordinator.
    pub(super) async fn require_coordinator(
        &self,
        state: &AppState,
        attempt: &Event,
        reason: &str,
    ) -> Result<(), ApiError> {
        if self.acts_for_org() && self.org_role == "coordinator" {
            return Ok(());
        }
        Err(self
            .deny(
                state,
                attempt.clone(),
                reason,
                ApiError::forbidden(reason.to_owned()),
            )
            .await)
    }

    /// The role a step is taken in: always the organisation's (a user acts only in its
    /// organisation's role; the token and the enrolment both require it).
    pub(super) fn step_role(&self) -> &str {
        &self.org_role
    }

    /// A decision of the domain as the answer: refusals the access log keeps are recorded as
    /// denied events of `attempt`.
    pub(super) async fn decided<T>(
        &self,
        state: &AppState,
        attempt: &Event,
        decision: Result<T, CaseError>,
    ) -> Result<T, ApiError> {
        match decision {
            Ok(value) => Ok(value),
            Err(e) => Err(match e.denial() {
                Some(reason) => self.deny(state, attempt.clone(), &reason, e.into()).await,
                None => e.into(),
            }),
        }
    }
}

/// Names in `event` the known fields among `fields` and their categories.
pub(super) fn name_fields<'a>(
    event: &mut Event,
    policy: &Policy,
    fields: impl IntoIterator<Item = &'a String>,
) {
    let known: std::collections::BTreeSet<String> = fields
        .into_iter()
        .filter(|f| policy.field(f).is_some())
        .cloned()
        .collect();
    event.fields = known.into_iter().collect();
    event.categories = policy.categories_of(&event.fields);
}

/// Names in `event` what was sealed: the fields, the categories they were sealed under (a
/// message's is the one it is about) and every recipient.
pub(super) fn name_sealed(event: &mut Event, policy: &Policy, sealed: &[NewSealedField]) {
    name_fields(event, policy, sealed.iter().map(|f| &f.field_id));
    let categories: std::collections::BTreeSet<&String> =
        sealed.iter().map(|f| &f.category).collect();
    event.categories = categories.into_iter().cloned().collect();
    let recipients: std::collections::BTreeSet<&String> =
        sealed.iter().flat_map(|f| f.recipients.iter()).collect();
    event.recipients = recipients.into_iter().cloned().collect();
}

/// Carries out a sealing plan with the sealing module (off the async workers): the rows to
/// store, and the fields left out for parties consent does not cover.
pub(super) async fn seal_plan(
    plan: SealingPlan,
    policy: &Policy,
) -> Result<(Vec<NewSealedField>, Vec<String>), ApiError> {
    let ciphertexts = sealing::seal_off_thread(plan.jobs)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    Ok((
        cases::sealed_rows(plan.fields, ciphertexts, &policy.version),
        plan.withheld,
    ))
}

/// The enrolled organisations by id.
pub(super) async fn organisations_by_id(
    state: &AppState,
) -> Result<std::collections::BTreeMap<String, Organisation>, ApiError> {
    Ok(state
        .store
        .organisations()
        .await?
        .into_iter()
        .map(|o| (o.id.clone(), o))
        .collect())
}
