//! Documents uploaded later (the perspective plan, art. 7.1), streamed: sealed as they arrive
//! to the entitled parties that consent covers, and stored in pieces.

use axum::extract::{Path, State};
use axum::routing::put;
use axum::{Json, Router};

use super::steps::{StepDone, begin};
use super::{ApiError, AppState, Caller};
use crate::cases::entitlement::entitled;
use crate::cases::{Action, NewSealedField, Notice, RecipientKeys};
use crate::policy::{FieldKind, Policy};

/// The routes of this module.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/cases/{id}/documents/{field}", put(put_document))
}

/// The category and size limit of a document field that can be uploaded later (a document
/// of a category that change reports may carry); else why not.
fn later_document(policy: &Policy, field: &str) -> Result<(String, usize), ApiError> {
    let spec = match policy.field(field) {
        Some(spec) if policy.changes.categories.contains(&spec.category) => spec,
        _ => {
            return Err(ApiError::not_found(
                "no document field of that id that can be uploaded later",
            ));
        }
    };
    match spec.kind {
        FieldKind::Document { max_bytes } => Ok((spec.category.clone(), max_bytes)),
        _ => Err(ApiError::unprocessable(format!(
            "field `{field}` is not a document"
        ))),
    }
}

#[utoipa::path(put, path = "/v1/cases/{id}/documents/{field}", tag = "lifecycle", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)"), ("field" = String, Path, description = "A document field id")), request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The raw document, streamed"), responses((status = 200, description = "Sealed", body = StepDone)))]
/// A document uploaded later (the perspective plan, art. 7.1), streamed: sealed as it arrives
/// to the entitled parties that consent covers, refused (413) the moment it passes the field's
/// `max_bytes`; nothing is stored unless the whole document arrived.
pub(super) async fn put_document(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, field)): Path<(String, String)>,
    body: axum::body::Body,
) -> Result<Json<StepDone>, ApiError> {
    let report = |_| Action::ReportChange;
    let allowed = begin(&state, &caller, &id, report, "change_report").await?;
    let (category, max_bytes) = later_document(&state.policy, &field)?;
    let consent = allowed.ctx.consent()?;
    let today = state.store.clock().today();
    let orgs = entitled(&state.policy, &field, &allowed.ctx.parties, consent, &today).covered;
    let keys = RecipientKeys::of(&state.store.organisations().await?);
    let sealer = crate::sealing::StreamSealer::new(&keys.recipients_of(&orgs)?)
        .map_err(|e| ApiError::internal(&e))?;
    let id = uuid::Uuid::new_v4().to_string();
    let upload = Upload {
        state: &state,
        id: &id,
        field: &field,
        max_bytes,
    };
    let pieces = upload.store_or_drop(sealer, body).await?;
    crate::telemetry::record_sealed(1);
    tracing::debug!(pieces, "document sealed in pieces");
    let mut step = allowed.step(&caller);
    step.sealed = vec![NewSealedField {
        id: id.clone(),
        field_id: field.clone(),
        category,
        ciphertext: Vec::new(),
        chunked: true,
        policy_version: state.policy.version.clone(),
        recipients: orgs.clone(),
        item: None,
    }];
    let detail = format!("changed: {field}");
    step.notify = (orgs.iter().filter(|o| **o != caller.org_id))
        .map(|o| Notice::new(o, "slice_changed", &detail))
        .collect();
    let event = allowed.event.clone();
    let done = allowed.finish(&state, step, event).await;
    if done.is_err() {
        upload.drop_pieces("a refused upload").await;
    }
    done
}

/// Bytes of age file stored per piece while a document streams in: the broker holds about
/// this much of it at a time (small enough that the copies on the way into the database stay
/// well under the 10 MiB a 20 MiB upload may add).
const PIECE_BYTES: usize = 256 * 1024;

/// A document streaming in, sealed and stored piece by piece under sealed field `id`.
struct Upload<'a> {
    state: &'a AppState,
    id: &'a str,
    field: &'a str,
    max_bytes: usize,
}

impl Upload<'_> {
    /// Stores the upload; if it does not complete, nothing of it stays stored.
    async fn store_or_drop(
        &self,
        sealer: crate::sealing::StreamSealer,
        body: axum::body::Body,
    ) -> Result<i64, ApiError> {
        let stored = self.store(sealer, body).await;
        if stored.is_err() {
            self.drop_pieces("a broken upload").await;
        }
        stored
    }

    /// Deletes the pieces stored so far.
    async fn drop_pieces(&self, what: &str) {
        if let Err(cleanup) = self.state.store.drop_chunks(self.id).await {
            tracing::warn!(error = %cleanup, "could not delete the pieces of {what}");
        }
    }

    /// Seals the body as it arrives and stores the age file in pieces; the number of pieces.
    async fn store(
        &self,
        mut sealer: crate::sealing::StreamSealer,
        body: axum::body::Body,
    ) -> Result<i64, ApiError> {
        use futures_util::StreamExt as _;
        let mut stream = body.into_data_stream();
        let mut pieces = 0i64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| ApiError::bad_request("the upload broke off"))?;
            if sealer.written() + chunk.len() > self.max_bytes {
                return Err(ApiError::payload_too_large(format!(
                    "`{}` is larger than {} bytes",
                    self.field, self.max_bytes
                )));
            }
            sealer.write(&chunk).map_err(|e| ApiError::internal(&e))?;
            while sealer.sealed_len() >= PIECE_BYTES {
                let piece = sealer.take_sealed(PIECE_BYTES);
                self.state.store.put_chunk(self.id, pieces, &piece).await?;
                pieces += 1;
            }
        }
        if sealer.written() == 0 {
            return Err(ApiError::unprocessable(format!(
                "`{}` is an empty document",
                self.field
            )));
        }
        let rest = sealer.finish().map_err(|e| ApiError::internal(&e))?;
        for piece in rest.chunks(PIECE_BYTES) {
            self.state.store.put_chunk(self.id, pieces, piece).await?;
            pieces += 1;
        }
        Ok(pieces)
    }
}
