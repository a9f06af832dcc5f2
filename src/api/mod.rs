//! The HTTP API under `/v1`. Handlers are thin: parse, authorise per case, call the policy,
//! case, sealing and audit modules, store — and write the access event of what they did.

mod audit;
mod cases;
mod identity;
mod keys;
mod lifecycle;
mod monitor;
pub mod openapi;
pub mod problem;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::audit::{Checkpoint, Pseudonymiser, sign_checkpoint};
use crate::auth::{LogSigner, LoginLimits, SigningKey};
use crate::policy::Policy;
use crate::store::{Store, StoreError};
pub use audit::{AccessReport, ProofBody, ReportEntry};
pub use cases::{Slice, SliceField, Withheld};
pub use identity::{Caller, RequestInfo};
pub use lifecycle::{Overdue, StepDone};
pub use problem::{ApiError, ApiJson};

/// Largest request body accepted, in bytes (documents travel base64-encoded inside JSON).
pub const BODY_LIMIT: usize = 32 * 1024 * 1024;

/// The access log's origin when none is configured.
pub const DEFAULT_LOG_ORIGIN: &str = "sluis.local/access-log";

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The validated policy.
    pub policy: Arc<Policy>,
    /// The broker's Ed25519 key: signs tokens and access log checkpoints.
    pub signing: Arc<SigningKey>,
    /// Keys rotated out: tokens and checkpoints they signed still verify.
    pub previous_keys: Arc<Vec<SigningKey>>,
    /// Keys client identifiers into pseudonyms.
    pub pseudonyms: Arc<Pseudonymiser>,
    /// The access log's origin (first line of its checkpoints, name of its key).
    pub log_origin: Arc<str>,
    /// Limits on failed logins.
    pub login_limits: LoginLimits,
    /// Request rate limit per organisation (per address before login).
    pub rate: RateLimit,
}

/// A token bucket per organisation: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per second, sustained.
    pub per_second: u64,
    /// Requests allowed at once.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: 50,
            burst: 120,
        }
    }
}

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

impl AppState {
    /// State with a fresh signing key and pseudonym secret (demo and tests).
    pub fn ephemeral(store: Store, policy: Arc<Policy>) -> Self {
        Self {
            store,
            policy,
            signing: Arc::new(SigningKey::ephemeral()),
            previous_keys: Arc::new(Vec::new()),
            pseudonyms: Arc::new(Pseudonymiser::ephemeral()),
            log_origin: Arc::from(DEFAULT_LOG_ORIGIN),
            login_limits: LoginLimits::default(),
            rate: RateLimit::default(),
        }
    }

    /// Verifies an access token under the current key or a key rotated out.
    pub fn verify_token(&self, token: &str) -> Result<crate::auth::Claims, crate::auth::AuthError> {
        self.signing.verify(token).or_else(|e| {
            self.previous_keys
                .iter()
                .find_map(|k| k.verify(token).ok())
                .ok_or(e)
        })
    }

    /// The access log's verifier keys: the current one first, then those rotated out.
    pub fn verifier_keys(&self) -> Vec<crate::audit::VerifierKey> {
        std::iter::once(&*self.signing)
            .chain(self.previous_keys.iter())
            .map(|k| k.verifier_key(&self.log_origin))
            .collect()
    }

    /// Signs and keeps a checkpoint of the whole log as it is now.
    pub async fn checkpoint(&self) -> Result<Checkpoint, StoreError> {
        let size = self.store.audit_size().await?;
        let root = self.store.tree_root(size).await?;
        let signer = LogSigner {
            key: &self.signing,
            origin: &self.log_origin,
        };
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let cp = sign_checkpoint(&signer, size, &root, now);
        self.store.add_checkpoint(&cp).await?;
        Ok(cp)
    }
}

/// The router with all routes and the protective layers.
pub fn router(state: AppState) -> Router {
    crate::telemetry::prometheus();
    let x_request_id = HeaderName::from_static("x-request-id");
    let rate = state.rate;
    Router::new()
        .route("/healthz", get(openapi::healthz))
        .route("/v1/openapi.json", get(openapi::get_openapi))
        .route("/readyz", get(readyz))
        .route("/v1/policy", get(cases::get_policy))
        .route("/v1/auth/token", post(identity::post_token))
        .route("/v1/organisations", get(cases::get_organisations))
        .route("/v1/cases", post(cases::post_case).get(cases::get_cases))
        .route("/v1/cases/{id}", get(cases::get_case))
        .route("/v1/cases/{id}/shares", post(cases::post_shares))
        .route("/v1/cases/{id}/slice", get(cases::get_slice))
        .route("/v1/cases/{id}/rekey", post(keys::post_rekey))
        .route(
            "/v1/cases/{id}/assessment",
            post(lifecycle::post_assessment),
        )
        .route("/v1/cases/{id}/referral", post(lifecycle::post_referral))
        .route("/v1/cases/{id}/match", post(lifecycle::post_match))
        .route("/v1/cases/{id}/housed", post(lifecycle::post_housed))
        .route(
            "/v1/cases/{id}/lease-conversion",
            post(lifecycle::post_lease_conversion),
        )
        .route("/v1/cases/{id}/end", post(lifecycle::post_end))
        .route("/v1/cases/{id}/changes", post(lifecycle::post_changes))
        .route(
            "/v1/cases/{id}/evaluations",
            post(lifecycle::post_evaluation),
        )
        .route(
            "/v1/cases/{id}/documents/{field}",
            axum::routing::put(lifecycle::put_document),
        )
        .route("/v1/cases/{id}/consent", get(lifecycle::get_consent))
        .route(
            "/v1/cases/{id}/consent/withdraw",
            post(lifecycle::post_withdraw),
        )
        .route("/v1/inbox", get(lifecycle::get_inbox))
        .route(
            "/v1/referrals/queue",
            axum::routing::put(lifecycle::put_queue),
        )
        .route("/v1/evaluations/overdue", get(lifecycle::get_overdue))
        .route("/v1/monitor", get(monitor::get_monitor))
        .route("/v1/monitor/reports", post(monitor::post_report))
        .route("/v1/audit/events", get(audit::get_events))
        .route(
            "/v1/audit/clients/{pseudonym}/report",
            get(audit::get_client_report),
        )
        .route("/v1/audit/verify", get(audit::get_verify))
        .route("/v1/audit/signals", get(audit::get_signals))
        .route("/v1/audit/checkpoint", get(audit::get_checkpoint))
        .route(
            "/v1/audit/checkpoints",
            get(audit::get_checkpoints).post(audit::post_checkpoint),
        )
        .route("/v1/audit/vkey", get(audit::get_vkey))
        .route(
            "/v1/audit/proofs/inclusion",
            get(audit::get_inclusion_proof),
        )
        .route(
            "/v1/audit/proofs/consistency",
            get(audit::get_consistency_proof),
        )
        .route("/metrics", get(metrics))
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
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
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
        .with_state(state)
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

#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, description = "Prometheus text exposition", body = String, content_type = "text/plain")))]
/// Prometheus metrics: requests by route and status, latencies, fields sealed, slices served,
/// the access log's size and the age of its latest checkpoint. Counts only, no identities.
async fn metrics(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<Response, ApiError> {
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
async fn readyz(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    state.store.ping().await?;
    Ok(Json(serde_json::json!({
        "status": "ready",
        "database": format!("{:?}", state.store.backend()).to_lowercase(),
        "policy": state.policy.version,
        "signing_key": "present",
    })))
}

fn problem_response(status: StatusCode, detail: &str) -> Response {
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

/// Serves the API on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Certificate and key (PEM files) for TLS termination by the broker.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain, PEM.
    pub cert: std::path::PathBuf,
    /// Private key, PEM.
    pub key: std::path::PathBuf,
}

impl TlsFiles {
    /// Loads both files as the TLS listener would, to report a bad pair before serving.
    pub async fn check(&self) -> std::io::Result<()> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        axum_server::tls_rustls::RustlsConfig::from_pem_file(&self.cert, &self.key)
            .await
            .map(drop)
    }
}

/// Serves the API over TLS (rustls) on `listener` until `shutdown` completes; responses also
/// carry `Strict-Transport-Security`.
pub async fn serve_tls(
    listener: std::net::TcpListener,
    state: AppState,
    tls: &TlsFiles,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // rustls with ring, the provider the rest of the build already uses; a second install is a no-op.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert, &tls.key).await?;
    listener.set_nonblocking(true)?;
    let handle = axum_server::Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(Duration::from_secs(30)));
    });
    let app = router(state).layer(SetResponseHeaderLayer::overriding(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    ));
    axum_server::from_tcp_rustls(listener, config)
        .handle(handle)
        .serve(app.into_make_service_with_connect_info::<SocketAddr>())
        .await
}

/// Signs a checkpoint every `interval` when the log has grown since the last one.
pub async fn checkpoint_periodically(state: AppState, interval: Duration) {
    let mut last = None;
    let mut ticker = tokio::time::interval(interval);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        match state.store.audit_size().await {
            Ok(size) if Some(size) != last && size > 0 => match state.checkpoint().await {
                Ok(cp) => {
                    tracing::info!(size = cp.size, "access log checkpoint signed");
                    last = Some(cp.size);
                }
                Err(e) => tracing::warn!(error = %e, "could not sign a checkpoint"),
            },
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not read the access log size"),
        }
    }
}

/// A broker serving on a local port in this process (demo and tests).
#[derive(Debug)]
pub struct RunningBroker {
    /// `http://127.0.0.1:<port>`.
    pub base_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningBroker {
    /// Binds `addr` (use port 0 for a free port) and serves in the background.
    pub async fn start(state: AppState, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(serve(listener, state, async {
            let _ = rx.await;
        }));
        Ok(Self {
            base_url,
            stop: Some(tx),
            task: Some(task),
        })
    }

    /// Stops serving and waits for open requests to finish.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(std::io::Error::other)?,
            None => Ok(()),
        }
    }
}
