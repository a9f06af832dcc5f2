//! What waits for an organisation: its inbox (notifications, read or not, and the deadlines
//! the calendar keeps there), the coordinator's referral queue (art. 8.4) and overdue
//! evaluations.

use axum::extract::State;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::problem::QueryResult;
use super::{ApiError, ApiJson, AppState, Caller};
use crate::cases::Notification;

/// The routes of this module.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/inbox", get(get_inbox))
        .route("/v1/inbox/read", post(post_read))
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

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct InboxQuery {
    /// Only what the organisation has not marked read (and what the calendar keeps there).
    #[serde(default)]
    unread: bool,
}

/// A deadline entry of the inbox: not stored, it stays while the calendar says so.
fn deadline(case: String, kind: &str, detail: String, at: String) -> Notification {
    Notification {
        id: None,
        read: false,
        case,
        kind: kind.into(),
        detail,
        at,
    }
}

/// What the calendar keeps in the caller's inbox until it is done: the consents a care
/// organisation must renew, the overdue applications of the coordinator and of a
/// municipality, the coordinator's overdue evaluations, and the reports the organisation has
/// not acknowledged.
async fn deadlines(state: &AppState, caller: &Caller) -> Result<Vec<Notification>, ApiError> {
    let mut out = Vec::new();
    let (now, today) = (state.store.clock().now_text(), state.store.clock().today());
    if caller.org_role == "care" {
        for e in expiring(state, caller).await? {
            let kind = if e.expired {
                "consent_expired"
            } else {
                "consent_expiring"
            };
            let detail = format!(
                "the client's consent holds until {}: record the renewed declaration",
                e.valid_until
            );
            out.push(deadline(e.case, kind, detail, now.clone()));
        }
    }
    let overdue_for = match caller.org_role.as_str() {
        "coordinator" => Some(None),
        "municipality" => Some(Some(caller.org_id.as_str())),
        _ => None,
    };
    if let Some(only) = overdue_for {
        for a in state.store.overdue_applications(&today, only).await? {
            let detail = format!("the decision on {} was due on {}", a.kind, a.due_on);
            out.push(deadline(a.case, "application_overdue", detail, a.due_on));
        }
    }
    if caller.org_role == "coordinator" {
        for (case, period, due_on) in state.store.overdue_evaluations(&today).await? {
            let detail = format!("evaluation {period} was due on {due_on}");
            out.push(deadline(case, "evaluation_overdue", detail, due_on));
        }
    }
    for (case, report, kind, sent_at) in state.store.reports_to_acknowledge(&caller.org_id).await? {
        let detail = format!("the report {report} ({kind}) waits for your acknowledgement");
        out.push(deadline(case, "report_to_acknowledge", detail, sent_at));
    }
    Ok(out)
}

#[utoipa::path(get, path = "/v1/inbox", tag = "lifecycle", security(("bearer" = [])), params(InboxQuery), responses((status = 200, description = "What waits for the organisation (deadlines, without an id) and its notifications, newest first, each `read` or not", body = Vec<Notification>)))]
pub(super) async fn get_inbox(
    State(state): State<AppState>,
    caller: Caller,
    query: QueryResult<InboxQuery>,
) -> Result<Json<Vec<Notification>>, ApiError> {
    let InboxQuery { unread } = super::problem::query(query, "`unread=true` or nothing")?;
    let mut inbox = deadlines(&state, &caller).await?;
    inbox.extend(state.store.inbox(&caller.org_id, unread).await?);
    Ok(Json(inbox))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ReadRequest {
    /// The notifications (their `id`) to mark read.
    #[serde(default)]
    #[schema(max_items = 1000)]
    ids: Option<Vec<String>>,
    /// Mark every unread notification read instead.
    #[serde(default)]
    all: bool,
}

/// How many notifications were marked read.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub(super) struct Marked {
    /// Notifications marked read now (those read already, and other organisations', not
    /// counted).
    marked: u64,
}

#[utoipa::path(post, path = "/v1/inbox/read", tag = "lifecycle", security(("bearer" = [])), request_body = ReadRequest, responses((status = 200, description = "Marked read", body = Marked)))]
/// Marks the organisation's notifications read: those named, or all of them.
pub(super) async fn post_read(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ReadRequest>,
) -> Result<Json<Marked>, ApiError> {
    let ids = match (&req.ids, req.all) {
        (Some(ids), false) if !ids.is_empty() && ids.len() <= 1000 => Some(ids.as_slice()),
        (None, true) => None,
        _ => {
            return Err(ApiError::invalid_fields(vec![crate::form::FieldProblem {
                field: "ids".into(),
                problem: "name 1 to 1000 notifications, or send `all: true` instead".into(),
            }]));
        }
    };
    let now = state.store.clock().now_text();
    let marked = state.store.mark_read(&caller.org_id, ids, &now).await?;
    Ok(Json(Marked { marked }))
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
