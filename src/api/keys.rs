//! Key rotation: an organisation that registered a new age recipient has its own client open
//! its copies with the old identity and send them back; the broker seals each to the new
//! recipient alone and takes the organisation off the old files, in one transaction with the
//! access event. Nothing is disclosed to anyone new, so no consent is asked.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};

use super::cases::{case_for, categories_of};
use super::{ApiError, ApiJson, AppState, Caller};
use crate::form::{self, FieldProblem, FieldValue};
use crate::sealing::{self, Recipient, SealJob};
use crate::store::Rekeyed;

/// At most this many files per request (a registration has 43 fields).
const MAX_FILES: usize = 500;

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
    let (case, _parties) = case_for(&state, &caller, &id, attempt.clone()).await?;
    attempt.client.clone_from(&case.client_pseudonym);
    attempt.case = Some(case.id.clone());
    if !caller.acts_for_org() {
        let reason = format!("role `{}` does not hold case content", caller.role);
        return Err(caller
            .deny(
                &state,
                attempt,
                &reason,
                ApiError::forbidden(reason.clone()),
            )
            .await);
    }
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    let mut jobs = Vec::with_capacity(req.fields.len());
    let mut meta = Vec::with_capacity(req.fields.len());
    if req.fields.is_empty() {
        problems.push(problem("fields", "no fields given"));
    }
    if req.fields.len() > MAX_FILES {
        problems.push(problem(
            "fields",
            &format!("at most {MAX_FILES} files per request"),
        ));
    }
    let recipient = match state.store.organisation(&caller.org_id).await? {
        Some(org) => org.recipient.and_then(|r| r.parse::<Recipient>().ok()),
        None => None,
    };
    let Some(recipient) = recipient else {
        return Err(ApiError::conflict(
            "your organisation has no usable recipient key registered",
        ));
    };
    for item in &req.fields {
        if uuid::Uuid::parse_str(&item.id).is_err() {
            problems.push(problem(
                &form::describe_id(&item.field),
                "id must be the UUID of a file in your slice",
            ));
            continue;
        }
        if !seen.insert(item.id.clone()) {
            problems.push(problem(
                &form::describe_id(&item.field),
                "the same file is given twice",
            ));
            continue;
        }
        let Some(spec) = policy.field(&item.field) else {
            problems.push(problem(
                &form::describe_id(&item.field),
                "is not a field of any form",
            ));
            continue;
        };
        match form::to_plaintext(spec, &item.value) {
            Ok(plaintext) => {
                jobs.push(SealJob {
                    plaintext,
                    recipients: vec![recipient.clone()],
                });
                meta.push((item.id.clone(), item.field.clone()));
            }
            Err(e) => problems.push(e),
        }
    }
    drop(req);
    if !problems.is_empty() {
        return Err(ApiError::invalid_fields(problems));
    }
    let count = jobs.len();
    let ciphertexts = tokio::task::spawn_blocking(move || sealing::seal_all(jobs))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))?;
    crate::telemetry::record_sealed(count);
    let replacements: Vec<Rekeyed> = meta
        .into_iter()
        .zip(ciphertexts)
        .map(|((replaces, field_id), ciphertext)| Rekeyed {
            id: uuid::Uuid::new_v4().to_string(),
            replaces,
            field_id,
            ciphertext,
        })
        .collect();
    attempt.fields = replacements.iter().map(|r| r.field_id.clone()).collect();
    attempt.fields.sort();
    attempt.fields.dedup();
    attempt.categories = categories_of(policy, &attempt.fields);
    attempt.policy_rule = Some(format!(
        "re-sealing of the organisation's own copies to its current recipient ({})",
        policy.version
    ));
    match state
        .store
        .rekey(&case.id, &caller.org_id, &replacements, attempt.clone())
        .await
    {
        Ok(_) => {}
        Err(crate::store::StoreError::NotFound) => {
            let reason = "a file is not in your slice of this case (or not of that field)";
            return Err(caller
                .deny(&state, attempt, reason, ApiError::not_found(reason))
                .await);
        }
        Err(e) => return Err(e.into()),
    }
    tracing::info!(case = %case.id, org = %caller.org_id, files = replacements.len(), "copies re-sealed to the current recipient");
    Ok(Json(RekeyDone {
        case: case.id,
        organisation: caller.org_id,
        rekeyed: replacements
            .into_iter()
            .map(|r| RekeyedFile {
                field: r.field_id,
                id: r.id,
                replaces: r.replaces,
            })
            .collect(),
    }))
}

fn problem(field: &str, text: &str) -> FieldProblem {
    FieldProblem {
        field: field.to_owned(),
        problem: text.to_owned(),
    }
}
