//! The client's consent: the record (or its FHIR R5 form) and its withdrawal.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;

use super::access::{own_case, seal_plan};
use super::cases::ConsentInput;
use super::steps::{StepDone, begin};
use super::{ApiError, ApiJson, AppState, Caller};
use crate::cases::submission::{self, Renewal, Submitter};
use crate::cases::{Action, RecipientKeys};
use crate::consent::ConsentRecord;

/// The routes of this module.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/cases/{id}/consent",
            get(get_consent).post(post_renewal),
        )
        .route("/v1/cases/{id}/consents", get(get_consents))
        .route("/v1/cases/{id}/erasure", post(post_erasure))
        .route("/v1/cases/{id}/receipts", get(get_receipts))
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
) -> Result<Response, ApiError> {
    let (case, mut event, fhir) = consent_read(&state, &caller, &id, q, "consent record").await?;
    let consent = state
        .store
        .consent(&case.id)
        .await?
        .ok_or_else(|| ApiError::not_found("the case has no consent record"))?;
    event.consent = Some(consent.id.clone());
    let body = render(fhir, &consent)?;
    state.store.record(event).await?;
    Ok(answer(fhir, body))
}

/// A party's read of a case's consent: the case, the read's event (recorded by the caller
/// once it answers), and whether FHIR was asked for (`format=fhir`; another format is
/// refused and recorded).
async fn consent_read(
    state: &AppState,
    caller: &Caller,
    id: &str,
    q: super::problem::QueryResult<ConsentQuery>,
    what: &str,
) -> Result<(crate::cases::Case, crate::audit::Event, bool), ApiError> {
    let q = super::problem::query(q, "only format=fhir")?;
    let mut event = caller.event("read", "allowed");
    event.purpose = Some("registration".into());
    event.reason = Some(what.into());
    let (case, _, event) = own_case(state, caller, id, event).await?;
    let fhir = match q.format.as_deref() {
        Some("fhir") => true,
        None | Some("json") => false,
        Some(_) => {
            let reason = "format is one of: json, fhir";
            return Err(caller
                .deny(state, event, reason, ApiError::bad_request(reason))
                .await);
        }
    };
    Ok((case, event, fhir))
}

/// A consent record as FHIR R5 or as the record itself.
fn render(fhir: bool, consent: &ConsentRecord) -> Result<Value, ApiError> {
    if fhir {
        Ok(consent.to_fhir())
    } else {
        serde_json::to_value(consent).map_err(|e| ApiError::internal(&e))
    }
}

/// A consent answer: FHIR as `application/fhir+json`, the record as JSON.
fn answer(fhir: bool, body: Value) -> Response {
    if fhir {
        (
            [(header::CONTENT_TYPE, "application/fhir+json")],
            Json(body),
        )
            .into_response()
    } else {
        Json(body).into_response()
    }
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

#[utoipa::path(post, path = "/v1/cases/{id}/consent", tag = "consent", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), request_body = ConsentInput, responses((status = 200, description = "The new declaration is in force; the case continues under it", body = StepDone)))]
/// A new consent declaration for an open case (a renewal before or after `valid_until`, or a
/// wider scope), recorded by the care organisation or the coordinator: it supersedes the one
/// in force, its document is sealed to its holders, and the case and its shares continue.
/// A withdrawn, rejected or ended case cannot be renewed (409).
pub(super) async fn post_renewal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ConsentInput>,
) -> Result<Json<StepDone>, ApiError> {
    let allowed = begin(
        &state,
        &caller,
        &id,
        |_| Action::RenewConsent,
        "registration",
    )
    .await?;
    let previous = allowed.ctx.consent()?;
    let enrolled = state.store.organisations().await?;
    let org = (enrolled.iter())
        .find(|o| o.id == caller.org_id)
        .ok_or_else(ApiError::invalid_token)?;
    let clock = state.store.clock();
    let (declaration, document) = req.into_parts();
    let keys = RecipientKeys::of(&enrolled);
    let renewal = Renewal {
        previous,
        declaration,
        document: &document,
        parties: &allowed.ctx.parties,
        keys: &keys,
    };
    let by = Submitter {
        org,
        user_id: &caller.user_id,
        now: &clock.now_text(),
        today: &clock.today(),
    };
    let plan = submission::plan_renewal(&state.policy, renewal, by);
    let (record, sealing) = caller.decided(&state, &allowed.event, plan).await?;
    let mut step = allowed.step(&caller);
    (step.sealed, _) = seal_plan(sealing, &state.policy).await?;
    step.notify = allowed.ctx.notify_others(
        &caller.org_id,
        "consent_renewed",
        &format!(
            "a new consent declaration holds until {}",
            record.valid_until
        ),
    );
    let mut event = allowed.event.clone();
    event.reason = Some(format!("consent renewed (follows {})", previous.id));
    event.consent = Some(record.id.clone());
    step.renew_consent = Some(record);
    allowed.finish(&state, step, event).await
}

#[utoipa::path(get, path = "/v1/cases/{id}/consents", tag = "consent", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)"), ConsentQuery), responses((status = 200, description = "Every consent declaration of the case, oldest first (or each as a FHIR R5 Consent)", body = Object)))]
/// The chain of consent declarations of a case: the first and every renewal, each with its
/// status (`superseded`, `active`, `withdrawn`); `format=fhir` gives each as FHIR R5.
pub(super) async fn get_consents(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: super::problem::QueryResult<ConsentQuery>,
) -> Result<Response, ApiError> {
    let (case, event, fhir) = consent_read(&state, &caller, &id, q, "consent records").await?;
    let chain = state.store.consents(&case.id).await?;
    let body = (chain.iter())
        .map(|c| render(fhir, c))
        .collect::<Result<Vec<_>, _>>()?;
    state.store.record(event).await?;
    Ok(answer(fhir, Value::Array(body)))
}

/// What an erasure deleted: one signed deletion receipt per case of the client.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct Erased {
    /// Each a C2SP note signed with the broker's key under the log's origin (its verifier key,
    /// `GET /v1/audit/vkey`, checks it), for the care organisation to hand to the client.
    receipts: Vec<String>,
}

#[utoipa::path(post, path = "/v1/cases/{id}/erasure", tag = "consent", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), responses((status = 200, description = "Every copy of the client's cases deleted; a receipt per case", body = Erased)))]
/// The client's erasure request (AVG art. 17), recorded by the care organisation or the
/// coordinator: every party's copies of every case of that client go at once (open cases are
/// withdrawn), each case with a signed deletion receipt.
pub(super) async fn post_erasure(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Erased>, ApiError> {
    let mut event = caller.event("delete", "allowed");
    event.purpose = Some("registration".into());
    event.reason = Some("erasure request (AVG art. 17)".into());
    let (case, _, event) = own_case(&state, &caller, &id, event).await?;
    if !matches!(caller.org_role.as_str(), "care" | "coordinator") || !caller.acts_for_org() {
        let reason = "the care organisation or the coordinator records an erasure request";
        return Err(caller
            .deny(&state, event, reason, ApiError::forbidden(reason))
            .await);
    }
    let erased = (state.store)
        .erase_client(&case.id, &caller.org_id, event, &state.log_signer())
        .await?;
    let receipts = erased.into_iter().map(|c| c.receipt).collect();
    Ok(Json(Erased { receipts }))
}

#[utoipa::path(get, path = "/v1/cases/{id}/receipts", tag = "consent", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), responses((status = 200, description = "The case's deletion receipts, oldest first", body = Erased)))]
/// The deletion receipts kept for a case (of the broker's purges and of erasure requests), for
/// the care organisation or the coordinator to hand to the client; also after the case's
/// closed-case access has ended.
pub(super) async fn get_receipts(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Erased>, ApiError> {
    let mut event = caller.event("view", "allowed");
    event.reason = Some("deletion receipts".into());
    let (case, _, event) = own_case(&state, &caller, &id, event).await?;
    if !matches!(caller.org_role.as_str(), "care" | "coordinator") {
        let reason = "the care organisation or the coordinator holds the deletion receipts";
        return Err(caller
            .deny(&state, event, reason, ApiError::forbidden(reason))
            .await);
    }
    let receipts = state.store.receipts(&case.id).await?;
    state.store.record(event).await?;
    Ok(Json(Erased { receipts }))
}
