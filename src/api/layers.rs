//! The protective layers around every route: request ids, the span each request runs in,
//! metrics per route, security headers, timeouts, body limits, panics answered as problems,
//! and the request rate limit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use super::{ApiError, BODY_LIMIT, RateLimit, problem};

/// Buckets requests by the organisation named in the bearer token (the handler verifies the
/// token; a forged one is refused there), and by peer address when there is no token.
#[derive(Debug, Clone, Copy)]
struct OrganisationKey;

impl tower_governor::key_extractor::KeyExtractor for OrganisationKey {
    type Key = String;

    fn extract<T>(
        &self,
        req: &axum::http::Request<T>,
    ) -> Result<String, tower_governor::GovernorError> {
        let org = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|token| token.split('.').nth(1))
            .and_then(|payload| {
                use base64::Engine as _;
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(payload)
                    .ok()
            })
            .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
            .and_then(|claims| {
                claims
                    .get("org")
                    .and_then(|o| o.as_str())
                    .map(str::to_owned)
            });
        match org {
            Some(org) => Ok(format!("org:{org}")),
            None => req
                .extensions()
                .get::<axum::extract::ConnectInfo<SocketAddr>>()
                .map(|c| format!("ip:{}", c.0.ip()))
                .ok_or(tower_governor::GovernorError::UnableToExtractKey),
        }
    }
}

#[expect(
    clippy::expect_used,
    reason = "start-up: a rate and burst clamped to at least 1 always make a limiter"
)]
fn rate_limit_layer(
    rate: RateLimit,
) -> tower_governor::GovernorLayer<
    OrganisationKey,
    governor::middleware::NoOpMiddleware<governor::clock::QuantaInstant>,
    axum::body::Body,
> {
    let config = tower_governor::governor::GovernorConfigBuilder::default()
        .key_extractor(OrganisationKey)
        .per_nanosecond(1_000_000_000 / rate.per_second.max(1))
        .burst_size(rate.burst.max(1))
        .finish()
        .expect("a positive rate and burst");
    let config = Arc::new(config);
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let limiter = config.limiter().clone();
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                limiter.retain_recent();
            }
        });
    }
    tower_governor::GovernorLayer::new(config).error_handler(|e| match e {
        tower_governor::GovernorError::TooManyRequests { wait_time, .. } => ApiError::too_many(
            "too many requests from your organisation; slow down",
            wait_time.max(1),
        )
        .into_response(),
        _ => problem_response(
            StatusCode::BAD_REQUEST,
            "the request could not be attributed to a client",
        ),
    })
}

/// Wraps the routes in the protective layers (innermost first).
pub(super) fn protect<S: Clone + Send + Sync + 'static>(
    routes: Router<S>,
    rate: RateLimit,
) -> Router<S> {
    let x_request_id = HeaderName::from_static("x-request-id");
    let headers = [
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ),
    ];
    let mut routes = routes
        .route_layer(axum::middleware::from_fn(track))
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            problem_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this endpoint",
            )
        })
        .layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT))
        .layer(CatchPanicLayer::custom(|_| {
            problem_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "an internal error occurred; it has been logged",
            )
        }))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ));
    for (name, value) in headers {
        routes = routes.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ));
    }
    routes
        .layer(rate_limit_layer(rate))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
}

/// The span every request runs in: its id (from `x-request-id`, set just outside) and method;
/// the route template is added once routed. Never the concrete path: it holds case ids and
/// pseudonyms.
fn request_span<B>(req: &axum::http::Request<B>) -> tracing::Span {
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        request_id = %id,
        method = %req.method(),
        route = tracing::field::Empty,
    )
}

/// Counts every routed request by its route template and status, with its duration.
async fn track(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let route = req
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    tracing::Span::current().record("route", route.as_str());
    let method = req.method().to_string();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    crate::telemetry::record_request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// A problem document for an answer the framework gives (no handler involved).
pub(super) fn problem_response(status: StatusCode, detail: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    (
        status,
        [(header::CONTENT_TYPE, problem::PROBLEM_JSON)],
        body.to_string(),
    )
        .into_response()
}
