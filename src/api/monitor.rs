//! The monitor (art. 17): `GET /v1/monitor` computes it from routing metadata for a period;
//! `POST /v1/monitor/reports` takes a party's counts. Both write their access event.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};

use super::problem::{QueryResult, query};
use super::{ApiError, ApiJson, AppState, Caller};
use crate::monitor::{self, Period};

/// The routes of this module.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/monitor", get(get_monitor))
        .route("/v1/monitor/reports", post(post_report))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct MonitorQuery {
    /// `2026`, `2026-H1` or `2026-H2`.
    period: String,
    /// `json` (default), `csv` or `svg`.
    format: Option<String>,
}

#[utoipa::path(get, path = "/v1/monitor", tag = "monitor", security(("bearer" = [])), params(MonitorQuery), responses((status = 200, description = "The monitor for the period: all of it for the coordinator, the privacy officer and the admin; a party's own rows for a party", content((Object = "application/json"), (String = "text/csv"), (String = "image/svg+xml")))))]
pub(super) async fn get_monitor(
    State(state): State<AppState>,
    caller: Caller,
    q: QueryResult<MonitorQuery>,
) -> Result<Response, ApiError> {
    let q = query(
        q,
        "period (2026, 2026-H1, 2026-H2) and format (json, csv, svg)",
    )?;
    let period: Period = q.period.parse().map_err(ApiError::bad_request)?;
    let format = q.format.as_deref().unwrap_or("json");
    if !["json", "csv", "svg"].contains(&format) {
        return Err(ApiError::bad_request("format is json, csv or svg"));
    }
    let policy = &state.policy;
    let full = policy.monitor.full_view.contains(&caller.role);
    let own = !full && caller.acts_for_org() && policy.roles.contains_key(&caller.org_role);
    let mut event = caller.event("monitor", "allowed");
    event.reason = Some(format!(
        "monitor {period} ({})",
        if full { "all" } else { "own rows" }
    ));
    if !full && !own {
        let reason = format!("role `{}` does not read the monitor", caller.role);
        return Err(caller
            .deny(&state, event, &reason, ApiError::forbidden(reason.clone()))
            .await);
    }
    let cases = state.store.monitor_facts().await?;
    let reports = state.store.monitor_reports(period.year).await?;
    let mut result = monitor::compute(policy, period, &cases, &reports);
    if !full {
        result = result.own_rows(&caller.org_id);
    }
    state.store.record(event).await?;
    Ok(match format {
        "csv" => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            result.to_csv(),
        )
            .into_response(),
        "svg" => {
            let svg = crate::chart::monitor_svg(&result)
                .map_err(|e| ApiError::internal(&std::io::Error::other(e)))?;
            ([(header::CONTENT_TYPE, "image/svg+xml")], svg).into_response()
        }
        _ => Json(result).into_response(),
    })
}

/// A party's counts for a period.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ReportRequest {
    /// `2026`, `2026-H1` or `2026-H2`.
    period: String,
    /// Indicator → count (whole numbers from 0 to 1,000,000); the indicators of the caller's
    /// role in the policy's `[monitor.indicators]`.
    counts: std::collections::BTreeMap<String, i64>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Reported {
    organisation: String,
    period: String,
    indicators: Vec<String>,
}

/// Counts above this are refused as implausible for one party in one period.
const MAX_COUNT: i64 = 1_000_000;

#[utoipa::path(post, path = "/v1/monitor/reports", tag = "monitor", security(("bearer" = [])), request_body = ReportRequest, responses((status = 200, description = "Stored (replacing earlier counts of the same indicators for the period)", body = Reported)))]
pub(super) async fn post_report(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ReportRequest>,
) -> Result<Json<Reported>, ApiError> {
    let policy = &state.policy;
    let mut event = caller.event("monitor_report", "allowed");
    let allowed = policy
        .monitor
        .indicators
        .get(&caller.org_role)
        .filter(|_| caller.acts_for_org());
    let Some(allowed) = allowed else {
        let reason = format!("role `{}` reports no monitor counts", caller.role);
        return Err(caller
            .deny(&state, event, &reason, ApiError::forbidden(reason.clone()))
            .await);
    };
    let period: Period = req.period.parse().map_err(ApiError::bad_request)?;
    let current_year = state.store.clock().now().year();
    if period.year > current_year {
        return Err(ApiError::unprocessable("the period has not begun yet"));
    }
    let counts = monitor::valid_counts(policy, allowed, &req.counts, MAX_COUNT)
        .map_err(ApiError::invalid_fields)?;
    let indicators: Vec<String> = counts.iter().map(|(i, _)| i.clone()).collect();
    event.reason = Some(format!(
        "monitor counts for {period}: {}",
        indicators.join(", ")
    ));
    state
        .store
        .put_monitor_report(&caller.org_id, &period.to_string(), &counts, event)
        .await?;
    Ok(Json(Reported {
        organisation: caller.org_id,
        period: period.to_string(),
        indicators,
    }))
}
