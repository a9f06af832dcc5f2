//! Who is asking: the request's origin for the access log, the authenticated caller, and the
//! token endpoint.

use std::net::SocketAddr;

use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::header;
use axum::http::request::Parts;
use axum::routing::post;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, AppState};
use crate::audit::Event;
use crate::auth::{self, Secret};

/// The routes of this module.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/auth/token", post(post_token))
}

/// Where a request came from, for its access event.
#[derive(Debug, Clone, Default)]
pub struct RequestInfo {
    /// The W3C trace id of a valid `traceparent`, else the `x-request-id`.
    pub request_id: Option<String>,
    /// The peer's address.
    pub source: Option<String>,
    /// The `user-agent`, at most 200 characters.
    pub user_agent: Option<String>,
}

impl RequestInfo {
    /// An event of `action` with `outcome`, carrying this request's origin.
    pub fn event(&self, action: &str, outcome: &str) -> Event {
        Event {
            request_id: self.request_id.clone(),
            source: self.source.clone(),
            user_agent: self.user_agent.clone(),
            ..Event::new(action, outcome)
        }
    }
}

fn trace_id(traceparent: &str) -> Option<String> {
    let parts: Vec<&str> = traceparent.trim().split('-').collect();
    let valid = parts.len() == 4
        && parts[0].len() == 2
        && parts[1].len() == 32
        && parts[2].len() == 16
        && parts[3].len() == 2
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
        && parts[1].bytes().any(|b| b != b'0');
    valid.then(|| parts[1].to_ascii_lowercase())
}

impl<S: Send + Sync> FromRequestParts<S> for RequestInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let request_id = header("traceparent")
            .and_then(trace_id)
            .or_else(|| header("x-request-id").map(|v| v.chars().take(64).collect()));
        let source = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string());
        let user_agent = header(header::USER_AGENT.as_str()).map(|v| v.chars().take(200).collect());
        Ok(Self {
            request_id,
            source,
            user_agent,
        })
    }
}

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
    /// Where the request came from.
    pub info: RequestInfo,
}

impl Caller {
    /// Whether the user acts in its organisation's own role (only then does it handle content).
    pub fn acts_for_org(&self) -> bool {
        self.role == self.org_role
    }

    /// An event by this caller.
    pub fn event(&self, action: &str, outcome: &str) -> Event {
        Event {
            user: Some(self.user_id.clone()),
            role: Some(self.role.clone()),
            org: Some(self.org_id.clone()),
            ..self.info.event(action, outcome)
        }
    }

    /// Records a denied attempt and returns the error to answer with. If the event cannot be
    /// written the answer is still the denial; the failure is logged.
    pub async fn deny(
        &self,
        state: &AppState,
        mut event: Event,
        reason: &str,
        error: ApiError,
    ) -> ApiError {
        event.outcome = "denied".into();
        event.reason = Some(reason.to_owned());
        if let Err(e) = state.store.record(event).await {
            tracing::error!(error = %e, "could not record a denied attempt");
        }
        error
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let info = RequestInfo::from_request_parts(parts, state)
            .await
            .unwrap_or_default();
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let Some(token) = token else {
            return Err(ApiError::unauthorized(
                "send `Authorization: Bearer <token>` from POST /v1/auth/token",
            ));
        };
        let claims = match state.verify_token(token.trim()) {
            Ok(c) => c,
            Err(_) => return Err(bad_token(state, &info).await),
        };
        let user = state.store.user_by_id(&claims.sub).await?;
        let org = state.store.organisation(&claims.org).await?;
        match (user, org) {
            // A user acts in its organisation's role only: a user whose stored role differs
            // (enrolled before that was enforced, or changed in the database) gets no access.
            (Some(u), Some(o))
                if !u.disabled
                    && !o.disabled
                    && u.org_id == o.id
                    && u.role == claims.role
                    && u.role == o.role =>
            {
                Ok(Caller {
                    user_id: u.id,
                    org_id: o.id,
                    role: u.role,
                    org_role: o.role,
                    info,
                })
            }
            _ => {
                let mut event = info.event("authenticate", "denied");
                event.reason = Some("user or organisation deleted or disabled".into());
                event.user = Some(claims.sub);
                event.org = Some(claims.org);
                event.role = Some(claims.role);
                state.store.record(event).await?;
                Err(ApiError::invalid_token())
            }
        }
    }
}

/// The answer to a token that does not verify: within the address's budget a denied event
/// and 401, past it 429 with nothing written.
async fn bad_token(state: &AppState, info: &RequestInfo) -> ApiError {
    let source = info.source.as_deref().and_then(|s| s.parse().ok());
    if source.is_some_and(|ip| !state.token_failures.within_budget(ip)) {
        return ApiError::too_many(
            "too many requests with invalid tokens from your address; get a new token",
            2,
        );
    }
    let mut event = info.event("authenticate", "denied");
    event.reason = Some("invalid or expired token".into());
    match state.store.record(event).await {
        Ok(_) => ApiError::invalid_token(),
        Err(e) => e.into(),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TokenRequest {
    username: Option<String>,
    #[schema(value_type = Option<String>)]
    password: Option<Secret>,
    #[schema(value_type = Option<String>)]
    api_key: Option<Secret>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    organisation: String,
    role: String,
}

#[utoipa::path(post, path = "/v1/auth/token", tag = "identity", request_body = TokenRequest, responses((status = 200, description = "An access token", body = TokenResponse)))]
pub(super) async fn post_token(
    State(state): State<AppState>,
    info: RequestInfo,
    ApiJson(req): ApiJson<TokenRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let mut event = info.event("login", "denied");
    let user = credentials_user(&state, &info, &mut event, req).await?;
    let org = match &user {
        Some(u) if !u.disabled => state
            .store
            .organisation(&u.org_id)
            .await?
            .filter(|o| !o.disabled && o.role == u.role),
        _ => None,
    };
    let (Some(user), Some(org)) = (user, org) else {
        event.reason = Some("invalid credentials".into());
        state.store.record(event).await?;
        return Err(ApiError::unauthorized("invalid credentials"));
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let token = state
        .signing
        .issue(&user.id, &org.id, &user.role, now)
        .map_err(|e| ApiError::internal(&e))?;
    event.outcome = "allowed".into();
    event.user = Some(user.id.clone());
    event.org = Some(org.id.clone());
    event.role = Some(user.role.clone());
    state.store.record(event).await?;
    Ok(Json(TokenResponse {
        access_token: token,
        token_type: "Bearer",
        expires_in: auth::TOKEN_TTL_SECS,
        organisation: org.id,
        role: user.role,
    }))
}

/// The user whose credentials these are (a password, or an API key that is not revoked), if
/// any; throttled per user and address before anything is compared.
async fn credentials_user(
    state: &AppState,
    info: &RequestInfo,
    event: &mut Event,
    req: TokenRequest,
) -> Result<Option<crate::store::User>, ApiError> {
    let user = match (req.username, req.password, req.api_key) {
        (Some(username), Some(password), None) => {
            let user = state.store.user_by_name(&username).await?;
            event.user = user.as_ref().map(|u| u.id.clone());
            event.policy_rule = Some("password".into());
            throttle(state, info, event.user.as_deref(), event).await?;
            let hash = user.as_ref().and_then(|u| u.password_hash.clone());
            let ok = tokio::task::spawn_blocking(move || {
                auth::verify_password(&password, hash.as_deref())
            })
            .await
            .map_err(|e| ApiError::internal(&e))?;
            user.filter(|_| ok)
        }
        (None, None, Some(key)) => {
            event.policy_rule = Some("api key".into());
            let stored = match auth::parse_api_key(&key) {
                Some((id, digest)) => state.store.api_key(&id).await?.map(|k| (k, digest)),
                None => None,
            };
            event.user = stored.as_ref().map(|(k, _)| k.user_id.clone());
            throttle(state, info, event.user.as_deref(), event).await?;
            match stored {
                Some((k, digest)) if !k.revoked && auth::digests_equal(&k.digest, &digest) => {
                    state.store.user_by_id(&k.user_id).await?
                }
                _ => None,
            }
        }
        _ => {
            return Err(ApiError::bad_request(
                "give either `username` and `password`, or `api_key`",
            ));
        }
    };
    Ok(user)
}

/// Slows or refuses a login after repeated failures for the user or from the address
/// (credential stuffing). A refusal is itself a recorded failed login.
async fn throttle(
    state: &AppState,
    info: &RequestInfo,
    user: Option<&str>,
    event: &Event,
) -> Result<(), ApiError> {
    let limits = state.login_limits;
    let window = time::Duration::seconds(i64::try_from(limits.window_secs).unwrap_or(i64::MAX));
    let since = crate::clock::time_text(time::OffsetDateTime::now_utc() - window);
    let (by_user, by_source) = state
        .store
        .failed_logins(user, info.source.as_deref(), &since)
        .await?;
    match limits.gate(by_user, by_source) {
        auth::LoginGate::Open => Ok(()),
        auth::LoginGate::Slow(delay) => {
            tokio::time::sleep(delay).await;
            Ok(())
        }
        auth::LoginGate::Refuse(retry_after) => {
            let mut refused = event.clone();
            refused.reason = Some("too many failed logins; refused until the window passes".into());
            state.store.record(refused).await?;
            Err(ApiError::too_many(
                "too many failed logins; try again later",
                retry_after,
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::trace_id;

    #[test]
    fn traceparent_gives_the_trace_id() {
        assert_eq!(
            trace_id("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            trace_id("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(trace_id("garbage"), None);
    }
}
