//! The client's consent: the record (or its FHIR R5 form) and its withdrawal.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::access::own_case;
use super::steps::{StepDone, begin};
use super::{ApiError, AppState, Caller};
use crate::cases::Action;

/// The routes of this module.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/cases/{id}/consent", get(get_consent))
        .route("/v1/cases/{id}/consent/withdraw", post(post_withdraw))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsentQuery {
    format: Option<String>,
}

#[utoipa::path(get, path = "/v1/cases/{id}/consent", tag = "consent", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)"), ConsentQuery), responses((status = 200, description = "The consent record, or a FHIR R5 Consent", body = Object)))]
pub(super) async fn get_consent(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: super::problem::QueryResult<ConsentQuery>,
) -> Result<Json<Value>, ApiError> {
    let q = super::problem::query(q, "only format=fhir")?;
    let mut event = caller.event("read", "allowed");
    event.purpose = Some("registration".into());
    event.reason = Some("consent record".into());
    let (case, _, mut event) = own_case(&state, &caller, &id, event).await?;
    let fhir = match q.format.as_deref() {
        Some("fhir") => true,
        None | Some("json") => false,
        Some(_) => {
            let reason = "format is one of: json, fhir";
            return Err(caller
                .deny(&state, event, reason, ApiError::bad_request(reason))
                .await);
        }
    };
    let consent = state
        .store
        .consent(&case.id)
        .await?
        .ok_or_else(|| ApiError::not_found("the case has no consent record"))?;
    event.consent = Some(consent.id.clone());
    let body = match fhir {
        true => consent.to_fhir(),
        false => serde_json::to_value(&consent).map_err(|e| ApiError::internal(&e))?,
    };
    state.store.record(event).await?;
    Ok(Json(body))
}

#[utoipa::path(post, path = "/v1/cases/{id}/consent/withdraw", tag = "consent", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), responses((status = 200, description = "Consent withdrawn; ciphertexts deleted", body = StepDone)))]
/// Withdrawal (AVG art. 7(3)): one call, at once. The consent stops covering anyone, every
/// age file of the case is deleted except the declaration itself (kept to demonstrate the
/// consent that was given), and the case moves to `withdrawn`.
pub(super) async fn post_withdraw(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<StepDone>, ApiError> {
    let allowed = begin(&state, &caller, &id, |_| Action::Withdraw, "registration").await?;
    allowed.ctx.consent()?;
    let mut step = allowed.step(&caller);
    step.withdraw_consent = Some((caller.user_id.clone(), caller.org_id.clone()));
    step.delete_sealed_except = Some(state.policy.consent.retained_after_withdrawal.clone());
    step.notify = allowed.ctx.notify_others(
        &caller.org_id,
        "withdrawn",
        "the client withdrew consent; the case's ciphertexts were deleted",
    );
    let mut event = allowed.event.clone();
    event.reason = Some("consent withdrawn".into());
    allowed.finish(&state, step, event).await
}
