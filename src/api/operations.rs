//! Operations endpoints: liveness, readiness and metrics.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use super::{ApiError, AppState};

/// The routes of this module.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain")))]
/// Prometheus metrics: requests by route and status, latencies, fields sealed, slices served,
/// the access log's size and the age of its latest checkpoint. Counts only, no identities.
pub(super) async fn metrics(
    State(state): State<AppState>,
    req: axum::extract::Request,
) -> Result<Response, ApiError> {
    if !may_read_metrics(&state, &req) {
        return Err(ApiError::not_found("no such endpoint"));
    }
    let size = state.store.audit_size().await?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let age = state.store.latest_checkpoint_time().await?.map(|t| now - t);
    crate::telemetry::record_log(size, age);
    let handle = crate::telemetry::prometheus();
    handle.run_upkeep();
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
        .into_response())
}

#[utoipa::path(get, path = "/readyz", tag = "operations", responses((status = 200, description = "Ready: database, policy and signing key", body = Object)))]
/// Ready to serve: the database answers; the policy and the signing key were loaded at start
/// (the broker does not start without them).
pub(super) async fn readyz(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.store.ping().await?;
    Ok(Json(serde_json::json!({
        "status": "ready",
        "database": format!("{:?}", state.store.backend()).to_lowercase(),
        "policy": state.policy.version,
        "signing_key": "present",
    })))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, description = "Alive", body = Object)))]
pub(super) async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

/// `/metrics` answers the bearer of the configured metrics token, or without one the machine
/// itself only; anyone else gets the same 404 as for a path that does not exist.
fn may_read_metrics(state: &AppState, req: &axum::extract::Request) -> bool {
    match &state.metrics_token {
        Some(token) => req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|sent| crate::auth::digests_equal(sent.trim(), token.expose().trim())),
        None => req
            .extensions()
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .is_some_and(|c| c.0.ip().is_loopback()),
    }
}
