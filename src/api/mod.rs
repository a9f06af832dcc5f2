//! The HTTP API under `/v1`. Handlers are thin: load (store) → decide (`cases`, `consent`) →
//! seal (`sealing`) → save with the access event → respond. Each resource module owns its
//! routes; `router` merges them and wraps them in the protective layers (`layers`).

mod access;
mod applications;
mod audit;
mod cases;
mod consent;
mod documents;
mod identity;
mod inbox;
mod keys;
mod layers;
mod lifecycle;
mod messages;
mod monitor;
pub mod openapi;
mod operations;
mod people;
pub mod problem;
mod serve;
mod shares;
mod slices;
mod state;
mod steps;
mod web;

use axum::Router;

pub use crate::cases::{Slice, SliceField};
pub use crate::config::DEFAULT_LOG_ORIGIN;
pub use crate::consent::Withheld;
pub use applications::{ApplicationDone, ApplicationStatus};
pub use audit::{AccessReport, ProofBody, ReportEntry};
pub use identity::{Caller, RequestInfo};
pub use inbox::Overdue;
pub use messages::MessageDone;
pub use problem::{ApiError, ApiJson};
pub use serve::{
    RunningBroker, TlsFiles, checkpoint_periodically, purge_periodically, serve, serve_tls,
};
pub use state::{AppState, RateLimit};
pub use steps::StepDone;

/// Largest request body accepted, in bytes (documents travel base64-encoded inside JSON).
pub const BODY_LIMIT: usize = 32 * 1024 * 1024;

/// The router with all routes and the protective layers.
pub fn router(state: AppState) -> Router {
    crate::telemetry::prometheus();
    problem::know_api_keys(openapi::request_keys);
    let routes = Router::new()
        .merge(operations::router())
        .merge(openapi::router())
        .merge(identity::router())
        .merge(people::router())
        .merge(cases::router())
        .merge(shares::router())
        .merge(slices::router())
        .merge(keys::router())
        .merge(lifecycle::router())
        .merge(applications::router())
        .merge(messages::router())
        .merge(documents::router())
        .merge(consent::router())
        .merge(inbox::router())
        .merge(monitor::router())
        .merge(audit::router())
        .merge(web::router());
    layers::protect(routes, &state).with_state(state)
}
