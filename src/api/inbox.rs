//! What waits for an organisation: its inbox, the coordinator's referral queue (art. 8.4) and
//! overdue evaluations.

use axum::extract::State;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{ApiError, ApiJson, AppState, Caller};
use crate::cases::Notification;

/// The routes of this module.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/inbox", get(get_inbox))
        .route("/v1/referrals/queue", put(put_queue))
        .route("/v1/evaluations/overdue", get(get_overdue))
        .route("/v1/consents/expiring", get(get_expiring))
}

/// A consent in force that ends within 30 days, or has ended: to be renewed.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub(super) struct Expiring {
    /// Case id.
    pub(super) case: String,
    /// The consent record.
    pub(super) consent: String,
    /// Its last day.
    pub(super) valid_until: String,
    /// Whether that day has passed: nothing of the case is sealed or served until renewal.
    pub(super) expired: bool,
}

/// The consents of the caller's open cases that need renewing (30 days ahead), soonest first.
async fn expiring(state: &AppState, caller: &Caller) -> Result<Vec<Expiring>, ApiError> {
    let today = state.store.clock().today();
    let until = crate::consent::renewal_horizon(&today);
    let rows = state
        .store
        .expiring_consents(&caller.org_id, &until)
        .await?;
    Ok(rows
        .into_iter()
        .map(|(case, consent, valid_until)| Expiring {
            expired: valid_until < today,
            case,
            consent,
            valid_until,
        })
        .collect())
}

#[utoipa::path(get, path = "/v1/consents/expiring", tag = "consent", security(("bearer" = [])), responses((status = 200, description = "Consents of the caller's open cases ending within 30 days, or ended", body = Vec<Expiring>)))]
pub(super) async fn get_expiring(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Expiring>>, ApiError> {
    if !(caller.acts_for_org() && matches!(caller.org_role.as_str(), "care" | "coordinator")) {
        return Err(ApiError::forbidden(
            "the care organisation and the coordinator renew consent",
        ));
    }
    let mut event = caller.event("search", "allowed");
    event.reason = Some("consents to renew".into());
    state.store.record(event).await?;
    Ok(Json(expiring(&state, &caller).await?))
}

/// An evaluation that is due and not received.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Overdue {
    /// Case id.
    pub case: String,
    /// Half-year 1 or 2.
    pub period: i64,
    /// Due date.
    pub due_on: String,
}

#[utoipa::path(get, path = "/v1/evaluations/overdue", tag = "lifecycle", security(("bearer" = [])), responses((status = 200, description = "Evaluations past due", body = Vec<Overdue>)))]
pub(super) async fn get_overdue(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Overdue>>, ApiError> {
    if !(caller.acts_for_org() && caller.org_role == "coordinator") {
        return Err(ApiError::forbidden(
            "the coordinator follows overdue evaluations",
        ));
    }
    let mut event = caller.event("search", "allowed");
    event.reason = Some("overdue evaluations".into());
    state.store.record(event).await?;
    let rows = state
        .store
        .overdue_evaluations(&state.store.clock().today())
        .await?;
    Ok(Json(
        rows.into_iter()
            .map(|(case, period, due_on)| Overdue {
                case,
                period,
                due_on,
            })
            .collect(),
    ))
}

#[utoipa::path(get, path = "/v1/inbox", tag = "lifecycle", security(("bearer" = [])), responses((status = 200, description = "The organisation's notifications", body = Vec<Notification>)))]
pub(super) async fn get_inbox(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Notification>>, ApiError> {
    let mut inbox = Vec::new();
    // A care organisation sees first the consents it must renew (not stored: they follow
    // the calendar).
    if caller.org_role == "care" {
        let now = state.store.clock().now_text();
        for e in expiring(&state, &caller).await? {
            inbox.push(Notification {
                kind: if e.expired {
                    "consent_expired"
                } else {
                    "consent_expiring"
                }
                .into(),
                detail: format!(
                    "the client's consent holds until {}: record the renewed declaration",
                    e.valid_until
                ),
                case: e.case,
                at: now.clone(),
            });
        }
    }
    inbox.extend(state.store.inbox(&caller.org_id).await?);
    Ok(Json(inbox))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct QueueRequest {
    /// Referred case ids, first in line first.
    #[schema(max_items = 10_000)]
    order: Vec<String>,
}

#[utoipa::path(put, path = "/v1/referrals/queue", tag = "lifecycle", security(("bearer" = [])), request_body = QueueRequest, responses((status = 200, description = "Queue order set", body = Object)))]
pub(super) async fn put_queue(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<QueueRequest>,
) -> Result<Json<Value>, ApiError> {
    let mut event = caller.event("update", "allowed");
    event.purpose = Some("referral".into());
    event.reason = Some("queue order of referred cases (art. 8.4)".into());
    caller
        .require_coordinator(&state, &event, "the coordinator sets the queue order")
        .await?;
    if req.order.len() > 10_000 {
        return Err(ApiError::invalid_fields(vec![crate::form::FieldProblem {
            field: "order".into(),
            problem: "lists at most 10000 cases".into(),
        }]));
    }
    for case in &req.order {
        if uuid::Uuid::parse_str(case).is_err() {
            return Err(ApiError::bad_request("the order lists case ids (UUIDs)"));
        }
    }
    state.store.set_queue(&req.order, event).await?;
    Ok(Json(serde_json::json!({ "queued": req.order.len() })))
}
