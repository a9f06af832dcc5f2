//! Key rotation: an organisation that registered a new age recipient has its own client open
//! its copies with the old identity and send them back; the broker seals each to the new
//! recipient alone and takes the organisation off the old files, in one transaction with the
//! access event. Nothing is disclosed to anyone new, so no consent is asked.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::access::{name_fields, own_case};
use super::{ApiError, ApiJson, AppState, Caller};
use crate::cases::Rekeyed;
use crate::cases::rekey::{self, RekeyInput};
use crate::form::FieldValue;
use crate::sealing::{self, Recipient};
use crate::store::StoreError;

/// The routes of this module.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/cases/{id}/rekey", post(post_rekey))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RekeyRequest {
    fields: Vec<RekeyItem>,
}

/// One file of the caller's slice, opened with its old identity.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RekeyItem {
    /// The slice file's id.
    id: String,
    /// Its field id.
    field: String,
    /// The value it held.
    #[schema(value_type = serde_json::Value)]
    value: FieldValue,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct RekeyDone {
    case: String,
    organisation: String,
    rekeyed: Vec<RekeyedFile>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct RekeyedFile {
    field: String,
    id: String,
    replaces: String,
}

impl RekeyDone {
    fn of(case: String, organisation: String, rekeyed: Vec<Rekeyed>) -> Self {
        let rekeyed = rekeyed
            .into_iter()
            .map(|r| RekeyedFile {
                field: r.field_id,
                id: r.id,
                replaces: r.replaces,
            })
            .collect();
        Self {
            case,
            organisation,
            rekeyed,
        }
    }
}

/// The caller's organisation's current recipient (409 if it has none that works).
async fn current_recipient(state: &AppState, caller: &Caller) -> Result<Recipient, ApiError> {
    let org = state.store.organisation(&caller.org_id).await?;
    org.and_then(|o| o.recipient)
        .and_then(|r| r.parse::<Recipient>().ok())
        .ok_or_else(|| {
            ApiError::conflict("your organisation has no usable recipient key registered")
        })
}

#[utoipa::path(post, path = "/v1/cases/{id}/rekey", tag = "cases", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), request_body = RekeyRequest, responses((status = 200, description = "The caller's copies sealed to its current recipient", body = RekeyDone)))]
/// `POST /v1/cases/{id}/rekey`: seal the caller's copies again, to its current recipient.
pub(super) async fn post_rekey(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<RekeyRequest>,
) -> Result<Json<RekeyDone>, ApiError> {
    let policy = &state.policy;
    let mut attempt = caller.event("rekey", "allowed");
    attempt.purpose = Some("key_rotation".into());
    attempt.recipients = vec![caller.org_id.clone()];
    let (case, _, mut attempt) = own_case(&state, &caller, &id, attempt).await?;
    caller
        .require_org(&state, &attempt, "does not hold case content")
        .await?;
    let recipient = current_recipient(&state, &caller).await?;
    let inputs: Vec<RekeyInput<'_>> = (req.fields.iter())
        .map(|f| RekeyInput {
            id: &f.id,
            field: &f.field,
            value: &f.value,
        })
        .collect();
    let plan = rekey::plan_rekey(policy, &inputs, &recipient)?;
    drop(inputs);
    drop(req);
    let ciphertexts = sealing::seal_off_thread(plan.jobs)
        .await
        .map_err(|e| ApiError::internal(&e))?;
    let replacements = rekey::rekeyed_rows(plan.replaces, ciphertexts);
    name_fields(
        &mut attempt,
        policy,
        replacements.iter().map(|r| &r.field_id),
    );
    attempt.policy_rule = Some(format!(
        "re-sealing of the organisation's own copies to its current recipient ({})",
        policy.version
    ));
    let stored = (state.store)
        .rekey(&case.id, &caller.org_id, &replacements, attempt.clone())
        .await;
    match stored {
        Err(StoreError::NotFound) => {
            let reason = "a file is not in your slice of this case (or not of that field)";
            return Err(caller
                .deny(&state, attempt, reason, ApiError::not_found(reason))
                .await);
        }
        Err(StoreError::Refused(why)) => {
            return Err(caller
                .deny(&state, attempt, &why, ApiError::conflict(why.clone()))
                .await);
        }
        other => other?,
    };
    tracing::info!(case = %case.id, org = %caller.org_id, files = replacements.len(), "copies re-sealed to the current recipient");
    Ok(Json(RekeyDone::of(case.id, caller.org_id, replacements)))
}
