//! A person in the browser: who they are, their own age recipient, the organisation's identity
//! wrapped for them, and giving it to a colleague. The broker stores and hands out wrappings
//! it cannot open (`store::PersonKey`).

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, AppState, Caller};
use crate::sealing::Recipient;
use crate::store::{Account, Member, PersonKey, StoreError};

/// The routes of this module.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/me", get(get_me))
        .route("/v1/me/password", put(put_my_password))
        .route("/v1/me/members", get(get_members))
        .route("/v1/members/{user}/identity", put(put_member_identity))
        .route("/v1/users", get(get_users))
}

/// The caller as the pages need them, with the organisation's identity wrapped for them.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Me {
    user_id: String,
    username: String,
    organisation: String,
    organisation_name: String,
    role: String,
    /// Whether the caller logs in with a password (a person), not an API key (a system).
    person: bool,
    /// Their own age recipient, once set.
    recipient: Option<String>,
    /// The organisation's identity file age-encrypted to `recipient`, base64; opened in the
    /// browser with the identity derived from the password.
    wrapped_identity: Option<String>,
}

#[utoipa::path(get, path = "/v1/me", tag = "people", security(("bearer" = [])), responses((status = 200, description = "The caller, their recipient and the organisation's identity wrapped for them", body = Me)))]
/// Who the caller is; handing out the wrapped identity is an access event.
pub(super) async fn get_me(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Me>, ApiError> {
    let user =
        (state.store.user_by_id(&caller.user_id).await?).ok_or_else(ApiError::invalid_token)?;
    let org =
        (state.store.organisation(&caller.org_id).await?).ok_or_else(ApiError::invalid_token)?;
    let key = state.store.person_key(&caller.user_id).await?;
    let wrapped_identity = key.as_ref().and_then(|k| k.wrapped.clone());
    if wrapped_identity.is_some() {
        let mut event = caller.event("read", "allowed");
        event.reason = Some("the organisation's identity, wrapped for this user".into());
        state.store.record(event).await?;
    }
    Ok(Json(Me {
        user_id: user.id,
        username: user.username,
        organisation: org.id,
        organisation_name: org.name,
        role: caller.role,
        person: user.password_hash.is_some(),
        recipient: key.map(|k| k.recipient),
        wrapped_identity,
    }))
}

/// A person's own password, as their browser stretched it: the current and the new login
/// credential, and the own recipient that follows from the new password (with the
/// organisation's identity wrapped for it, when the browser still holds the identity).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct OwnPassword {
    /// The login credential of the current password.
    #[schema(value_type = String)]
    password: crate::auth::Secret,
    /// The login credential of the new password.
    #[schema(value_type = String)]
    new_password: crate::auth::Secret,
    /// `age1…`, derived from the new password in the browser.
    recipient: String,
    /// The organisation's identity age-encrypted to `recipient`, base64.
    wrapped_identity: Option<String>,
}

#[utoipa::path(put, path = "/v1/me/password", tag = "people", security(("bearer" = [])), request_body = OwnPassword, responses((status = 204, description = "The new password and own key stored; a wrapping for another recipient is gone")))]
/// A person chooses their own password (at first login the operator's initial one is replaced,
/// so that nobody else can derive their own key); systems (API keys) have none.
pub(super) async fn put_my_password(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<OwnPassword>,
) -> Result<axum::http::StatusCode, ApiError> {
    let mut event = caller.event("update", "allowed");
    let user =
        (state.store.user_by_id(&caller.user_id).await?).ok_or_else(ApiError::invalid_token)?;
    let Some(current) = user.password_hash.as_deref() else {
        let reason = "a system (API key) has no password";
        return Err(caller
            .deny(&state, event, reason, ApiError::forbidden(reason))
            .await);
    };
    if !crate::auth::verify_password(&body.password, Some(current)) {
        let reason = "the current password is not right";
        return Err(caller
            .deny(&state, event, reason, ApiError::forbidden(reason))
            .await);
    }
    if body.new_password.expose().len() < 32 {
        return Err(ApiError::bad_request(
            "`new_password` is not a login credential (stretched from the password)",
        ));
    }
    let recipient = parse_recipient(&body.recipient)?;
    let wrapped = body
        .wrapped_identity
        .as_deref()
        .map(check_wrapped)
        .transpose()?;
    let hash =
        crate::auth::hash_password(&body.new_password).map_err(|e| ApiError::internal(&e))?;
    event.reason = Some(format!("own password and recipient {recipient}"));
    let key = PersonKey {
        user_id: caller.user_id.clone(),
        org_id: caller.org_id.clone(),
        recipient: recipient.to_string(),
        wrapped_by: wrapped.is_some().then(|| caller.user_id.clone()),
        wrapped,
    };
    state.store.set_own_password(&hash, &key, event).await?;
    Ok(axum::http::StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/me/members", tag = "people", security(("bearer" = [])), responses((status = 200, description = "The people of the caller's organisation and whether each holds its identity", body = Vec<Member>)))]
/// The people of the caller's organisation, for the page where a member gives a colleague
/// the organisation's identity.
pub(super) async fn get_members(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Member>>, ApiError> {
    Ok(Json(state.store.members(&caller.org_id).await?))
}

/// The organisation's identity wrapped for a colleague.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Wrapping {
    /// The identity age-encrypted (in the giver's browser) to the colleague's recipient, base64.
    wrapped_identity: String,
}

#[utoipa::path(put, path = "/v1/members/{user}/identity", tag = "people", security(("bearer" = [])), params(("user" = String, Path, description = "The colleague's user id")), request_body = Wrapping, responses((status = 204, description = "Stored for the colleague")))]
/// A member who holds the organisation's identity gives it to a colleague of the same
/// organisation who has set their password (409 until they have).
pub(super) async fn put_member_identity(
    State(state): State<AppState>,
    caller: Caller,
    Path(user): Path<String>,
    ApiJson(body): ApiJson<Wrapping>,
) -> Result<axum::http::StatusCode, ApiError> {
    let mut event = caller.event("grant", "allowed");
    event.reason = Some(format!(
        "the organisation's identity wrapped for user {user}"
    ));
    let members = state.store.members(&caller.org_id).await?;
    let Some(member) = members.iter().find(|m| m.id == user) else {
        let answer = ApiError::not_found("no such colleague");
        return Err(caller.deny(&state, event, "not a member", answer).await);
    };
    // A person who unwrapped it, or the organisation's own system, which holds the identity
    // file on the organisation's machine (`sluis member grant`).
    let system = (state.store.user_by_id(&caller.user_id).await?)
        .is_some_and(|u| u.password_hash.is_none() && caller.acts_for_org());
    if !system
        && !members
            .iter()
            .any(|m| m.id == caller.user_id && m.has_identity)
    {
        let reason = "only a member who holds the organisation's identity can give it";
        return Err(caller
            .deny(&state, event, reason, ApiError::forbidden(reason))
            .await);
    }
    if member.recipient.is_none() {
        return Err(ApiError::conflict(
            "the colleague has not logged in yet to set their own key",
        ));
    }
    let wrapped = check_wrapped(&body.wrapped_identity)?;
    match state
        .store
        .set_wrapping(&user, &wrapped, &caller.user_id, event)
        .await
    {
        Err(StoreError::NotFound) => Err(ApiError::conflict("the colleague has no key")),
        done => done
            .map(|()| axum::http::StatusCode::NO_CONTENT)
            .map_err(ApiError::from),
    }
}

#[utoipa::path(get, path = "/v1/users", tag = "people", security(("bearer" = [])), responses((status = 200, description = "Every user and the state of their keys (no secret)", body = Vec<Account>)))]
/// The admin's list of users: person or system, own key chosen, holds the organisation's
/// identity, disabled, API keys — never a secret. Anyone else 403.
pub(super) async fn get_users(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Account>>, ApiError> {
    let mut event = caller.event("search", "allowed");
    event.reason = Some("the users and their keys".into());
    if caller.role != "admin" {
        let reason = "the admin lists the users";
        return Err(caller
            .deny(&state, event, reason, ApiError::forbidden(reason))
            .await);
    }
    let accounts = state.store.accounts().await?;
    state.store.record(event).await?;
    Ok(Json(accounts))
}

fn parse_recipient(text: &str) -> Result<Recipient, ApiError> {
    text.parse::<Recipient>()
        .map_err(|_| ApiError::bad_request("`recipient` is not an age X25519 recipient (age1…)"))
}

/// The largest wrapped identity accepted: an identity file sealed to one recipient is ~400 bytes.
const MAX_WRAPPED: usize = 4096;

/// A wrapping is base64 of an age file (the broker cannot check more: it cannot open it).
fn check_wrapped(text: &str) -> Result<String, ApiError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .map_err(|_| ApiError::bad_request("`wrapped_identity` is not base64"))?;
    if bytes.len() > MAX_WRAPPED || !bytes.starts_with(b"age-encryption.org/v1\n") {
        return Err(ApiError::bad_request(
            "`wrapped_identity` is not an age file of an identity",
        ));
    }
    Ok(text.to_owned())
}
