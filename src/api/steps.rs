//! How a lifecycle step is taken over HTTP: load the case the caller's organisation is a party
//! to, let the domain decide whether the step is allowed, and store it in one transaction with
//! its access event and the parties' notifications. Refusals are recorded as denied events.

use std::collections::BTreeMap;

use axum::Json;
use serde::{Deserialize, Serialize};

use super::access::{name_sealed, own_case, seal_plan};
use super::{ApiError, AppState, Caller};
use crate::audit::Event;
use crate::cases::lifecycle::{self, StepContext};
use crate::cases::{
    Action, Case, CaseError, CaseParty, NewSealedField, RecipientKeys, State as CaseState, Step,
};
use crate::form::{self, FieldValues};

/// What a step answers: the case's state afterwards, and what was sealed for whom.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepDone {
    /// Case id.
    pub id: String,
    /// State after the step.
    pub state: String,
    /// Field id → organisations it was sealed to in this step.
    #[serde(default)]
    pub sealed: BTreeMap<String, Vec<String>>,
    /// Fields left out for parties that consent does not cover (`field for org`).
    #[serde(default)]
    pub withheld: Vec<String>,
}

/// A case the caller's organisation is a party to, established before any input is looked
/// at, so an outsider always gets the same 404 (and a denied event).
pub(super) struct CaseAccess {
    case: Case,
    parties: Vec<CaseParty>,
    event: Event,
}

/// A step the domain allowed, with the attempt's event.
pub(super) struct Allowed {
    /// The case, its parties and consent, and the states before and after.
    pub(super) ctx: StepContext,
    /// The step's access event so far.
    pub(super) event: Event,
}

/// The case `id` if the caller's organisation is a party to it, for a step of `purpose`.
pub(super) async fn access(
    state: &AppState,
    caller: &Caller,
    id: &str,
    purpose: &str,
) -> Result<CaseAccess, ApiError> {
    let mut event = caller.event("update", "allowed");
    event.purpose = Some(purpose.to_owned());
    let (case, parties, event) = own_case(state, caller, id, event).await?;
    Ok(CaseAccess {
        case,
        parties,
        event,
    })
}

impl CaseAccess {
    /// The step `action` picks from the case's state, if the caller's role may take it.
    pub(super) async fn allow(
        self,
        state: &AppState,
        caller: &Caller,
        action: impl Fn(CaseState) -> Action,
    ) -> Result<Allowed, ApiError> {
        let CaseAccess {
            case,
            parties,
            mut event,
        } = self;
        let decision = lifecycle::decide(&case, caller.step_role(), action);
        let (action, from, to) = caller.decided(state, &event, decision).await?;
        event.reason = Some(action.as_str().to_owned());
        let consent = state.store.consent(&case.id).await?;
        event.consent = consent.as_ref().map(|c| c.id.clone());
        Ok(Allowed {
            ctx: StepContext {
                case,
                parties,
                consent,
                from,
                to,
            },
            event,
        })
    }
}

/// Party check and step check at once, for steps without input to validate in between.
pub(super) async fn begin(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: impl Fn(CaseState) -> Action,
    purpose: &str,
) -> Result<Allowed, ApiError> {
    access(state, caller, id, purpose)
        .await?
        .allow(state, caller, action)
        .await
}

impl Allowed {
    /// The step to store, taken by the caller's organisation.
    pub(super) fn step(&self, caller: &Caller) -> Step {
        self.ctx.step(&caller.org_id)
    }

    /// A domain rule of this step, its refusal recorded with the step's event.
    pub(super) async fn check<T>(
        &self,
        state: &AppState,
        caller: &Caller,
        rule: Result<T, crate::cases::CaseError>,
    ) -> Result<T, ApiError> {
        caller.decided(state, &self.event, rule).await
    }

    /// Stores the step with its event (naming what was sealed for whom) in one transaction.
    pub(super) async fn finish(
        self,
        state: &AppState,
        step: Step,
        mut event: Event,
    ) -> Result<Json<StepDone>, ApiError> {
        let mut sealed: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in &step.sealed {
            let to = sealed.entry(f.field_id.clone()).or_default();
            to.extend(f.recipients.iter().cloned());
            to.sort();
        }
        name_sealed(&mut event, &state.policy, &step.sealed);
        state.store.apply(&step, event).await?;
        Ok(Json(StepDone {
            id: step.case_id,
            state: step.to,
            sealed,
            withheld: Vec::new(),
        }))
    }

    /// Stores the step with the event as it stands, answering what consent held back.
    pub(super) async fn finish_withheld(
        self,
        state: &AppState,
        step: Step,
        withheld: Vec<String>,
    ) -> Result<Json<StepDone>, ApiError> {
        let event = self.event.clone();
        let mut done = self.finish(state, step, event).await?;
        done.withheld = withheld;
        Ok(done)
    }

    /// Seals `values` anew to every entitled party that consent covers (change reports,
    /// evaluations, assessment notes), only of the `only` categories if given; the step's
    /// sealed fields and what was withheld.
    pub(super) async fn seal_to_parties(
        &self,
        state: &AppState,
        caller: &Caller,
        values: &FieldValues,
        only: Sendable<'_>,
    ) -> Result<(Vec<NewSealedField>, Vec<String>), ApiError> {
        self.seal_to(state, caller, values, only, &self.ctx.parties)
            .await
    }

    /// Seals `values` anew to the entitled parties among `audience` that consent covers; a
    /// refusal (a category the step may not send, consent that no longer holds) is recorded
    /// with the step's event.
    pub(super) async fn seal_to(
        &self,
        state: &AppState,
        caller: &Caller,
        values: &FieldValues,
        only: Sendable<'_>,
        audience: &[CaseParty],
    ) -> Result<(Vec<NewSealedField>, Vec<String>), ApiError> {
        let policy = &state.policy;
        let plaintexts = form::validate_fields(policy, values).map_err(ApiError::invalid_fields)?;
        let sendable = match only {
            Sendable::Any => Ok(()),
            Sendable::Categories(allowed) => {
                let ids: Vec<&str> = plaintexts.iter().map(|(id, _)| id.as_str()).collect();
                lifecycle::only_categories(policy, &ids, allowed)
            }
            Sendable::ChangeReport => lifecycle::change_report_fields(policy, &plaintexts),
        };
        self.check(state, caller, sendable).await?;
        let today = state.store.clock().today();
        let form = &self.ctx.case.form;
        let broken = form::check_rules(policy, form, values, &today, form::RuleScope::Change);
        if !broken.is_empty() {
            return Err(ApiError::invalid_fields(broken));
        }
        let consent = self.check(state, caller, self.ctx.consent()).await?;
        // Expired consent seals nothing anew (to no one), and says how to renew.
        let holds = consent
            .expired(&today)
            .map_or(Ok(()), |e| Err(CaseError::Forbidden(e)));
        self.check(state, caller, holds).await?;
        let keys = RecipientKeys::of(&state.store.organisations().await?);
        let plan =
            crate::cases::plan_sealing(policy, audience, consent, plaintexts, &keys, false, &today);
        let plan = self.check(state, caller, plan).await?;
        seal_plan(plan, policy).await
    }
}

/// Which fields a step may seal anew.
#[derive(Debug, Clone, Copy)]
pub(super) enum Sendable<'a> {
    /// Any field of the policy (an evaluation's own form).
    Any,
    /// Only fields of these categories (the assessment's).
    Categories(&'a [String]),
    /// A change report: the policy's change categories, and the papers the case needs before
    /// assessment (art. 7.1, 8.2), which may follow the registration.
    ChangeReport,
}
