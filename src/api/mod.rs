//! The HTTP API under `/v1`. Handlers are thin: parse, authorise per case, call the policy,
//! case and sealing modules, store.

pub mod problem;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::sensitive_headers::SetSensitiveRequestHeadersLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

use crate::auth::{self, Secret, SigningKey};
use crate::cases::{self, ShareItem};
use crate::form::{self, FieldValues};
use crate::policy::Policy;
use crate::sealing::{self, Recipient, SealJob};
use crate::store::{Case, CaseParty, NewSealedField, Organisation, Store, now_text};
pub use problem::{ApiError, ApiJson};

/// Largest request body accepted, in bytes (documents travel base64-encoded inside JSON).
pub const BODY_LIMIT: usize = 32 * 1024 * 1024;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The validated policy.
    pub policy: Arc<Policy>,
    /// The token signing key.
    pub signing: Arc<SigningKey>,
}

/// The router with all routes and the protective layers.
pub fn router(state: AppState) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/v1/policy", get(get_policy))
        .route("/v1/auth/token", post(post_token))
        .route("/v1/organisations", get(get_organisations))
        .route("/v1/cases", post(post_case).get(get_cases))
        .route("/v1/cases/{id}", get(get_case))
        .route("/v1/cases/{id}/shares", post(post_shares))
        .route("/v1/cases/{id}/slice", get(get_slice))
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
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        .layer(SetSensitiveRequestHeadersLayer::new([
            header::AUTHORIZATION,
            header::COOKIE,
        ]))
        .with_state(state)
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

// ---- authentication ----------------------------------------------------------------------

/// The authenticated caller: a user acting for its organisation.
#[derive(Debug, Clone)]
pub struct Caller {
    /// User id.
    pub user_id: String,
    /// Organisation id.
    pub org_id: String,
    /// The user's role.
    pub role: String,
    /// The organisation's role.
    pub org_role: String,
}

impl Caller {
    /// Whether the user acts in its organisation's own role (only then does it handle content).
    fn acts_for_org(&self) -> bool {
        self.role == self.org_role
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                ApiError::unauthorized(
                    "send `Authorization: Bearer <token>` from POST /v1/auth/token",
                )
            })?;
        let claims = state
            .signing
            .verify(token.trim())
            .map_err(|_| ApiError::unauthorized("the token is invalid or expired"))?;
        let user = state.store.user_by_id(&claims.sub).await?;
        let org = state.store.organisation(&claims.org).await?;
        match (user, org) {
            (Some(u), Some(o))
                if !u.disabled && !o.disabled && u.org_id == o.id && u.role == claims.role =>
            {
                Ok(Caller {
                    user_id: u.id,
                    org_id: o.id,
                    role: u.role,
                    org_role: o.role,
                })
            }
            _ => Err(ApiError::unauthorized("the token is invalid or expired")),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenRequest {
    username: Option<String>,
    password: Option<Secret>,
    api_key: Option<Secret>,
}

#[derive(Serialize)]
struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    organisation: String,
    role: String,
}

async fn post_token(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let user = match (req.username, req.password, req.api_key) {
        (Some(username), Some(password), None) => {
            let user = state.store.user_by_name(&username).await?;
            let hash = user.as_ref().and_then(|u| u.password_hash.clone());
            let ok = tokio::task::spawn_blocking(move || {
                auth::verify_password(&password, hash.as_deref())
            })
            .await
            .map_err(|e| ApiError::internal(&e))?;
            user.filter(|_| ok)
        }
        (None, None, Some(key)) => match auth::parse_api_key(&key) {
            Some((id, digest)) => match state.store.api_key(&id).await? {
                Some(k) if !k.revoked && auth::digests_equal(&k.digest, &digest) => {
                    state.store.user_by_id(&k.user_id).await?
                }
                _ => None,
            },
            None => None,
        },
        _ => {
            return Err(ApiError::bad_request(
                "give either `username` and `password`, or `api_key`",
            ));
        }
    };
    let invalid = || ApiError::unauthorized("invalid credentials");
    let user = user.filter(|u| !u.disabled).ok_or_else(invalid)?;
    let org = state
        .store
        .organisation(&user.org_id)
        .await?
        .filter(|o| !o.disabled)
        .ok_or_else(invalid)?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let token = state
        .signing
        .issue(&user.id, &org.id, &user.role, now)
        .map_err(|e| ApiError::internal(&e))?;
    Ok(Json(TokenResponse {
        access_token: token,
        token_type: "Bearer",
        expires_in: auth::TOKEN_TTL_SECS,
        organisation: org.id,
        role: user.role,
    }))
}

// ---- policy and organisations --------------------------------------------------------------

async fn get_policy(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.policy.to_json())
}

async fn get_organisations(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<Organisation>>, ApiError> {
    Ok(Json(state.store.organisations().await?))
}

// ---- cases --------------------------------------------------------------------------------

/// Looks up a case the caller's organisation is a party to. Anything else — a case that does
/// not exist, or one the caller is no party to — is the same 404.
async fn case_for(
    state: &AppState,
    caller: &Caller,
    id: &str,
) -> Result<(Case, Vec<CaseParty>), ApiError> {
    let not_found = || {
        ApiError::not_found(format!(
            "no case `{id}` that your organisation is a party to"
        ))
    };
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(ApiError::bad_request("a case id is a UUID"));
    }
    let case = state.store.case(id).await?.ok_or_else(not_found)?;
    let parties = state.store.parties(id).await?;
    if cases::party_of(&parties, &caller.org_id).is_none() {
        return Err(not_found());
    }
    Ok((case, parties))
}

#[derive(Serialize)]
struct CaseView {
    #[serde(flatten)]
    case: Case,
    parties: Vec<CaseParty>,
}

async fn get_cases(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Case>>, ApiError> {
    Ok(Json(state.store.cases_of(&caller.org_id).await?))
}

async fn get_case(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CaseView>, ApiError> {
    let (case, parties) = case_for(&state, &caller, &id).await?;
    Ok(Json(CaseView { case, parties }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubmitRequest {
    form: String,
    fields: FieldValues,
}

#[derive(Serialize)]
struct Sealed {
    id: String,
    state: String,
    parties: Vec<CaseParty>,
    /// Field id → the organisations it was sealed to.
    sealed: BTreeMap<String, Vec<String>>,
}

async fn post_case(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<SubmitRequest>,
) -> Result<(StatusCode, Json<Sealed>), ApiError> {
    if !caller.acts_for_org() {
        return Err(ApiError::forbidden(format!(
            "role `{}` does not submit cases",
            caller.role
        )));
    }
    let policy = &state.policy;
    if !policy.forms.contains_key(&req.form) {
        return Err(ApiError::unprocessable(format!(
            "unknown form; known forms: {}",
            policy.forms.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    let enrolled = state.store.organisations().await?;
    let submitter = enrolled
        .iter()
        .find(|o| o.id == caller.org_id)
        .ok_or_else(|| ApiError::unauthorized("the token is invalid or expired"))?;
    let parties = cases::submission_parties(policy, &req.form, submitter, &enrolled)?;
    let plaintexts = form::validate_form(policy, &req.form, &req.fields, true)
        .map_err(ApiError::invalid_fields)?;
    drop(req.fields);

    let keys: BTreeMap<&str, &str> = enrolled
        .iter()
        .filter_map(|o| o.recipient.as_deref().map(|r| (o.id.as_str(), r)))
        .collect();
    let mut jobs = Vec::with_capacity(plaintexts.len());
    let mut meta = Vec::with_capacity(plaintexts.len());
    for (field, plaintext) in plaintexts {
        let orgs: Vec<String> = policy
            .entitled(&field, &parties)
            .into_iter()
            .map(str::to_owned)
            .collect();
        if orgs.is_empty() {
            return Err(ApiError::forbidden(format!(
                "no party of this case may open field `{field}`"
            )));
        }
        let recipients = recipients_of(&orgs, &keys)?;
        jobs.push(SealJob {
            plaintext,
            recipients,
        });
        meta.push((field, orgs));
    }
    let sealed = seal_off_thread(jobs, meta, &state.policy).await?;

    let now = now_text();
    let case = Case {
        id: uuid::Uuid::new_v4().to_string(),
        form: req.form,
        state: cases::REGISTERED.to_owned(),
        created_by: caller.org_id.clone(),
        created_at: now.clone(),
        updated_at: now.clone(),
    };
    let party_rows: Vec<CaseParty> = parties
        .into_iter()
        .map(|(org_id, role)| CaseParty {
            org_id,
            role,
            added_at: now.clone(),
            added_by: caller.org_id.clone(),
        })
        .collect();
    state.store.create_case(&case, &party_rows, &sealed).await?;
    tracing::info!(case = %case.id, org = %caller.org_id, fields = sealed.len(), "case submitted");
    Ok((
        StatusCode::CREATED,
        Json(Sealed {
            id: case.id,
            state: case.state,
            parties: party_rows,
            sealed: sealed
                .into_iter()
                .map(|f| (f.field_id, f.recipients))
                .collect(),
        }),
    ))
}

fn recipients_of(orgs: &[String], keys: &BTreeMap<&str, &str>) -> Result<Vec<Recipient>, ApiError> {
    orgs.iter()
        .map(|o| {
            keys.get(o.as_str())
                .ok_or_else(|| {
                    ApiError::unprocessable(format!(
                        "organisation `{o}` has no recipient key registered"
                    ))
                })?
                .parse::<Recipient>()
                .map_err(|_| {
                    ApiError::unprocessable(format!(
                        "organisation `{o}` has an unusable recipient key"
                    ))
                })
        })
        .collect()
}

/// Seals on the blocking pool (all cores), never on an async worker.
async fn seal_off_thread(
    jobs: Vec<SealJob>,
    meta: Vec<(String, Vec<String>)>,
    policy: &Policy,
) -> Result<Vec<NewSealedField>, ApiError> {
    let ciphertexts = tokio::task::spawn_blocking(move || sealing::seal_all(jobs))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))?;
    Ok(meta
        .into_iter()
        .zip(ciphertexts)
        .map(|((field_id, recipients), ciphertext)| NewSealedField {
            id: uuid::Uuid::new_v4().to_string(),
            category: policy.fields[&field_id].category.clone(),
            field_id,
            ciphertext,
            policy_version: policy.version.clone(),
            recipients,
        })
        .collect())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShareRequest {
    shares: Vec<ShareRequestItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShareRequestItem {
    recipients: Vec<String>,
    fields: FieldValues,
}

#[derive(Serialize)]
struct Shared {
    id: String,
    new_parties: Vec<CaseParty>,
    sealed: Vec<SharedField>,
}

#[derive(Serialize)]
struct SharedField {
    field: String,
    recipients: Vec<String>,
}

async fn post_shares(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ShareRequest>,
) -> Result<Json<Shared>, ApiError> {
    let (_case, parties) = case_for(&state, &caller, &id).await?;
    if !caller.acts_for_org() {
        return Err(ApiError::forbidden(format!(
            "role `{}` does not share case content",
            caller.role
        )));
    }
    let policy = &state.policy;
    let items: Vec<ShareItem> = req
        .shares
        .iter()
        .map(|s| ShareItem {
            recipients: s.recipients.clone(),
            fields: s.fields.0.iter().map(|(k, _)| k.clone()).collect(),
        })
        .collect();
    let orgs: BTreeMap<String, Organisation> = state
        .store
        .organisations()
        .await?
        .into_iter()
        .map(|o| (o.id.clone(), o))
        .collect();
    let plan = cases::plan_share(policy, &caller.org_role, &parties, &items, &orgs)?;

    let keys: BTreeMap<&str, &str> = orgs
        .values()
        .filter_map(|o| o.recipient.as_deref().map(|r| (o.id.as_str(), r)))
        .collect();
    let mut jobs = Vec::new();
    let mut meta = Vec::new();
    for item in &req.shares {
        let plaintexts =
            form::validate_fields(policy, &item.fields).map_err(ApiError::invalid_fields)?;
        let mut recipients: Vec<String> = item.recipients.clone();
        recipients.sort();
        recipients.dedup();
        let keys_for = recipients_of(&recipients, &keys)?;
        for (field, plaintext) in plaintexts {
            jobs.push(SealJob {
                plaintext,
                recipients: keys_for.clone(),
            });
            meta.push((field, recipients.clone()));
        }
    }
    drop(req);
    let sealed = seal_off_thread(jobs, meta, policy).await?;
    let now = now_text();
    let new_parties: Vec<CaseParty> = plan
        .new_parties
        .into_iter()
        .map(|(org_id, role)| CaseParty {
            org_id,
            role,
            added_at: now.clone(),
            added_by: caller.org_id.clone(),
        })
        .collect();
    state
        .store
        .add_share(&id, &caller.org_id, &new_parties, &sealed)
        .await?;
    tracing::info!(case = %id, org = %caller.org_id, fields = sealed.len(), "fields re-shared");
    Ok(Json(Shared {
        id,
        new_parties,
        sealed: sealed
            .into_iter()
            .map(|f| SharedField {
                field: f.field_id,
                recipients: f.recipients,
            })
            .collect(),
    }))
}

/// One field of a slice as served: the age file, base64.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SliceField {
    /// Field id.
    pub field: String,
    /// Its category.
    pub category: String,
    /// Policy version that sealed it.
    pub policy_version: String,
    /// When it was sealed.
    pub sealed_at: String,
    /// Which organisation's data it was sealed from.
    pub sealed_by: String,
    /// The age file, base64 (standard alphabet, padded).
    pub age: String,
}

/// An organisation's slice of a case: only the fields sealed to it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Slice {
    /// Case id.
    pub case: String,
    /// The caller's organisation.
    pub organisation: String,
    /// The case's state.
    pub state: String,
    /// The sealed fields, by field id.
    pub fields: Vec<SliceField>,
}

async fn get_slice(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Slice>, ApiError> {
    let (case, _) = case_for(&state, &caller, &id).await?;
    if !caller.acts_for_org() {
        return Err(ApiError::forbidden(format!(
            "role `{}` sees no field values",
            caller.role
        )));
    }
    let fields = state
        .store
        .slice(&id, &caller.org_id)
        .await?
        .into_iter()
        .map(|f| SliceField {
            field: f.field_id,
            category: f.category,
            policy_version: f.policy_version,
            sealed_at: f.sealed_at,
            sealed_by: f.sealed_by,
            age: BASE64.encode(&f.ciphertext),
        })
        .collect();
    Ok(Json(Slice {
        case: case.id,
        organisation: caller.org_id,
        state: case.state,
        fields,
    }))
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
