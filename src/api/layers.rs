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

use super::{ApiError, AppState, BODY_LIMIT, problem};

/// Buckets requests by the organisation of a bearer token whose signature verifies, and by
/// the peer's address otherwise: a token that does not verify names nothing the limiter may
/// trust, so forged tokens spend their sender's address budget, never an organisation's. The
/// keys are therefore organisations the broker issued tokens for and addresses of real
/// connections, never text a caller chose.
#[derive(Debug, Clone)]
struct OrganisationKey(AppState);

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
            .and_then(|token| self.0.verify_token(token.trim()).ok())
            .map(|claims| claims.org);
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
    state: &AppState,
) -> tower_governor::GovernorLayer<
    OrganisationKey,
    governor::middleware::NoOpMiddleware<governor::clock::QuantaInstant>,
    axum::body::Body,
> {
    let rate = state.rate;
    let config = tower_governor::governor::GovernorConfigBuilder::default()
        .key_extractor(OrganisationKey(state.clone()))
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
pub(super) fn protect(routes: Router<AppState>, state: &AppState) -> Router<AppState> {
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
        // The pages at `/` set their own policy and caching (`web`); everything else gets these.
        let own = name == header::CONTENT_SECURITY_POLICY || name == header::CACHE_CONTROL;
        let value = HeaderValue::from_static(value);
        routes = routes.layer(if own {
            SetResponseHeaderLayer::if_not_present(name, value)
        } else {
            SetResponseHeaderLayer::overriding(name, value)
        });
    }
    routes
        .layer(rate_limit_layer(state))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .layer(axum::middleware::map_request(own_request_ids_only))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
        .layer(axum::middleware::map_response(problems_only))
}

/// A caller's `x-request-id` (a proxy's, say) is kept only if it is a UUID or 16 to 64 hex
/// digits, the shapes request ids are made in; any other text is dropped and the broker gives
/// the request an id of its own, so what a caller writes there never reaches a span, a log
/// line or the access log.
async fn own_request_ids_only(mut req: axum::extract::Request) -> axum::extract::Request {
    let id_shaped = |v: &str| {
        uuid::Uuid::parse_str(v).is_ok()
            || ((16..=64).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let foreign = (req.headers().get("x-request-id"))
        .is_some_and(|v| v.to_str().map_or(true, |v| !id_shaped(v)));
    if foreign {
        req.headers_mut().remove("x-request-id");
    }
    req
}

/// Every error answer is a problem document: the framework's own rejections (a path that is
/// not UTF-8 or not the right shape, a query it cannot read, a body over the limit, a timeout)
/// come as `text/plain` and may quote the request; they are replaced by a problem that says
/// what kind of thing was wrong, never what was sent. The headers of the answer are kept.
async fn problems_only(response: Response) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(problem::PROBLEM_JSON.as_bytes()));
    if is_problem || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let detail = match status {
        StatusCode::BAD_REQUEST => "the request's path, query or body could not be read",
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is larger than the server accepts",
        StatusCode::REQUEST_TIMEOUT => "the request took too long; nothing of it was kept",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "send the body as application/json",
        StatusCode::UNPROCESSABLE_ENTITY => "the request could not be processed",
        _ if status.is_server_error() => "an internal error occurred; it has been logged",
        _ => "the request was refused",
    };
    let mut fresh = problem_response(status, detail);
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            fresh.headers_mut().insert(name.clone(), value.clone());
        }
    }
    fresh
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
