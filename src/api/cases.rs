//! Case endpoints: the policy and the organisations, the cases of the caller's organisation,
//! and submission. Every one authorises per case and writes its access event — in the same
//! transaction as what it records.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::access::{own_case, seal_plan};
use super::{ApiError, ApiJson, AppState, Caller};
use crate::audit::Event;
use crate::cases::submission::{self, MonitorCodes, Submission, SubmissionPlan, Submitter};
use crate::cases::{Case, CaseParty, NewSealedField, Organisation};
use crate::consent::Declaration;
use crate::form::{FieldValue, FieldValues};
use crate::policy::Policy;

/// The routes of this module.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/policy", get(get_policy))
        .route("/v1/organisations", get(get_organisations))
        .route("/v1/cases", get(get_cases).post(post_case))
        .route("/v1/cases/{id}", get(get_case))
}

#[utoipa::path(get, path = "/v1/policy", tag = "policy", responses((status = 200, description = "The policy the broker enforces (as `sluis policy show --json`)", body = Object)))]
pub(super) async fn get_policy(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.policy.to_json())
}

#[utoipa::path(get, path = "/v1/organisations", tag = "organisations", security(("bearer" = [])), responses((status = 200, description = "Enrolled organisations with role and recipient", body = Vec<Organisation>)))]
pub(super) async fn get_organisations(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<Organisation>>, ApiError> {
    Ok(Json(state.store.organisations().await?))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct CaseView {
    #[serde(flatten)]
    case: Case,
    parties: Vec<CaseParty>,
    /// The states the case passed, in order.
    states: Vec<String>,
    /// Once the lease was converted: the day each of its three conditions was met (art. 4).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    lease_conditions: std::collections::BTreeMap<String, String>,
}

#[utoipa::path(get, path = "/v1/cases", tag = "cases", security(("bearer" = [])), responses((status = 200, description = "Cases the caller's organisation is a party to", body = Vec<Case>)))]
pub(super) async fn get_cases(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Case>>, ApiError> {
    let mut cases = state.store.cases_of(&caller.org_id).await?;
    cases.iter_mut().for_each(|c| hide_pseudonym(c, &caller));
    let mut event = caller.event("search", "allowed");
    event.reason = Some(format!("listed {} cases", cases.len()));
    state.store.record(event).await?;
    Ok(Json(cases))
}

#[utoipa::path(get, path = "/v1/cases/{id}", tag = "cases", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), responses((status = 200, description = "Case metadata, parties and states", body = CaseView)))]
pub(super) async fn get_case(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CaseView>, ApiError> {
    let (mut case, parties, mut event) =
        own_case(&state, &caller, &id, caller.event("read", "allowed")).await?;
    hide_pseudonym(&mut case, &caller);
    event.reason = Some("case metadata".into());
    state.store.record(event).await?;
    let states = state.store.states(&case.id).await?;
    let lease_conditions = state.store.lease_conditions(&case.id).await?;
    Ok(Json(CaseView {
        case,
        parties,
        states,
        lease_conditions: lease_conditions.into_iter().collect(),
    }))
}

/// The client pseudonym links one client's cases: shown to the coordinator only (the privacy
/// officer finds it in the access log), so no other party can follow a client across cases.
fn hide_pseudonym(case: &mut Case, caller: &Caller) {
    if caller.org_role != "coordinator" {
        case.client_pseudonym = None;
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SubmitRequest {
    form: String,
    /// Field id → value (string, whole number, boolean or list of strings; documents base64).
    #[schema(value_type = Object)]
    fields: FieldValues,
    consent: ConsentInput,
    /// The coded facts for the annual monitor (art. 17); kept unsealed, shown only in
    /// suppressed aggregates.
    #[serde(default)]
    monitor: Option<MonitorInput>,
}

/// The coded facts a care organisation declares for the monitor.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MonitorInput {
    /// One of the policy's `[monitor] client_groups` (e.g. `mo`, `bw`, `jeugd_18plus`, `oud_amv`).
    client_group: Option<String>,
    /// A municipality of the region (organisation id) or the policy's `origin_elsewhere`.
    origin_municipality: Option<String>,
}

impl SubmitRequest {
    fn into_submission(self) -> Submission {
        let (declaration, consent_document) = self.consent.into_parts();
        Submission {
            form: self.form,
            fields: self.fields,
            declaration,
            consent_document,
            monitor: self.monitor.map(|m| MonitorCodes {
                client_group: m.client_group,
                origin_municipality: m.origin_municipality,
            }),
        }
    }
}

/// The consent declaration sent with a submission or a renewal: what the client signed, and
/// the scan.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsentInput {
    #[schema(format = Date)]
    signed_on: String,
    #[schema(format = Date)]
    valid_until: String,
    roles: Vec<String>,
    categories: Vec<String>,
    /// The signed declaration (PDF or image), base64.
    #[schema(value_type = String)]
    document: FieldValue,
}

impl ConsentInput {
    /// What the client declared, and the signed document.
    pub(super) fn into_parts(self) -> (Declaration, FieldValue) {
        (
            Declaration {
                signed_on: self.signed_on,
                valid_until: self.valid_until,
                roles: self.roles,
                categories: self.categories,
            },
            self.document,
        )
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Submitted {
    id: String,
    state: String,
    parties: Vec<CaseParty>,
    /// Field id → the organisations it was sealed to.
    sealed: BTreeMap<String, Vec<String>>,
}

#[utoipa::path(post, path = "/v1/cases", tag = "cases", security(("bearer" = [])), request_body = SubmitRequest, responses((status = 201, description = "Registered: sealed per entitled party", body = Submitted)))]
pub(super) async fn post_case(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<SubmitRequest>,
) -> Result<(StatusCode, Json<Submitted>), ApiError> {
    let policy = &state.policy;
    let attempt = submission_attempt(caller.event("create", "allowed"), policy, &req.fields);
    caller
        .require_org(&state, &attempt, "does not submit cases")
        .await?;
    let enrolled = state.store.organisations().await?;
    let submitter = enrolled
        .iter()
        .find(|o| o.id == caller.org_id)
        .ok_or_else(ApiError::invalid_token)?;
    let clock = state.store.clock();
    let by = Submitter {
        org: submitter,
        user_id: &caller.user_id,
        now: &clock.now_text(),
        today: &clock.today(),
    };
    let plan = submission::plan_submission(
        policy,
        req.into_submission(),
        by,
        &enrolled,
        &state.pseudonyms,
    );
    let mut plan = caller.decided(&state, &attempt, plan).await?;
    let (sealed, _) = seal_plan(std::mem::take(&mut plan.sealing), policy).await?;
    let event = submission_event(attempt, &plan, &sealed, &caller, policy);
    let SubmissionPlan {
        case,
        parties,
        consent,
        monitor,
        ..
    } = plan;
    state
        .store
        .create_case(&case, &parties, &sealed, &consent, &monitor, event)
        .await?;
    tracing::info!(case = %case.id, org = %caller.org_id, fields = sealed.len(), "case submitted");
    let sealed = sealed
        .into_iter()
        .map(|f| (f.field_id, f.recipients))
        .collect();
    Ok((
        StatusCode::CREATED,
        Json(Submitted {
            id: case.id,
            state: case.state,
            parties,
            sealed,
        }),
    ))
}

/// The submission attempt's event: the known fields sent and their categories, in order.
fn submission_attempt(mut event: Event, policy: &Policy, fields: &FieldValues) -> Event {
    event.purpose = Some("registration".into());
    event.fields = (fields.0.iter())
        .map(|(k, _)| k.clone())
        .filter(|k| policy.field(k).is_some())
        .collect();
    event.categories = policy.categories_of(&event.fields);
    event
}

/// The submission's access event: what was sealed for whom, under which rule and consent.
fn submission_event(
    mut event: Event,
    plan: &SubmissionPlan,
    sealed: &[NewSealedField],
    caller: &Caller,
    policy: &Policy,
) -> Event {
    event.case = Some(plan.case.id.clone());
    event.client.clone_from(&plan.case.client_pseudonym);
    event.fields = sealed.iter().map(|f| f.field_id.clone()).collect();
    event.categories = policy.categories_of(&event.fields);
    event.recipients = plan.parties.iter().map(|p| p.org_id.clone()).collect();
    event.policy_rule = Some(format!(
        "submission of `{}` by role `{}` ({})",
        plan.case.form, caller.org_role, policy.version
    ));
    event.consent = Some(plan.consent.id.clone());
    event
}
