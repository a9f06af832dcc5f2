//! Re-shares (`design.md` §1): the caller's client opened its slice and sends, for each new
//! organisation, exactly the fields the policy grants that organisation's role; the broker
//! checks every field against every recipient's role and the consent and seals them for
//! exactly those organisations.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::access::{name_fields, organisations_by_id, own_case, seal_plan};
use super::{ApiError, ApiJson, AppState, Caller};
use crate::audit::Event;
use crate::cases::sharing::{self, ShareInput};
use crate::cases::{
    CaseError, CaseParty, NewSealedField, Organisation, RecipientKeys, State as CaseState,
};
use crate::form::FieldValues;
use crate::policy::Policy;

/// The routes of this module.
pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/cases/{id}/shares", post(post_shares))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ShareRequest {
    pub(super) shares: Vec<ShareRequestItem>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ShareRequestItem {
    pub(super) recipients: Vec<String>,
    /// Field id → value.
    #[schema(value_type = Object)]
    pub(super) fields: FieldValues,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Shared {
    id: String,
    new_parties: Vec<CaseParty>,
    sealed: Vec<SharedField>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct SharedField {
    field: String,
    recipients: Vec<String>,
}

impl ShareRequestItem {
    pub(super) fn input(&self) -> ShareInput<'_> {
        ShareInput {
            recipients: &self.recipients,
            values: &self.fields,
        }
    }
}

/// The share attempt's event: the known fields sent and the enrolled organisations named
/// (an id the caller made up is not kept, not even in a denied event).
pub(super) fn share_attempt(
    mut event: Event,
    policy: &Policy,
    inputs: &[ShareInput<'_>],
    orgs: &BTreeMap<String, Organisation>,
) -> Event {
    event.action = "share".into();
    name_fields(
        &mut event,
        policy,
        inputs
            .iter()
            .flat_map(|i| i.values.0.iter().map(|(k, _)| k)),
    );
    let recipients: BTreeSet<&String> = (inputs.iter())
        .flat_map(|i| i.recipients.iter())
        .filter(|r| orgs.contains_key(*r))
        .collect();
    event.recipients = recipients.into_iter().cloned().collect();
    event
}

impl Shared {
    fn of(id: String, new_parties: Vec<CaseParty>, sealed: Vec<NewSealedField>) -> Self {
        let sealed = sealed
            .into_iter()
            .map(|f| SharedField {
                field: f.field_id,
                recipients: f.recipients,
            })
            .collect();
        Self {
            id,
            new_parties,
            sealed,
        }
    }
}

#[utoipa::path(post, path = "/v1/cases/{id}/shares", tag = "cases", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), request_body = ShareRequest, responses((status = 200, description = "Re-shared", body = Shared)))]
pub(super) async fn post_shares(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ShareRequest>,
) -> Result<Json<Shared>, ApiError> {
    let policy = &state.policy;
    let inputs: Vec<ShareInput<'_>> = req.shares.iter().map(ShareRequestItem::input).collect();
    let orgs = organisations_by_id(&state).await?;
    let mut attempt = share_attempt(caller.event("share", "allowed"), policy, &inputs, &orgs);
    attempt.purpose = Some("referral".into());
    let (case, parties, mut attempt) = own_case(&state, &caller, &id, attempt).await?;
    let open = CaseState::parse(&case.state).is_some_and(|s| !s.is_final());
    let still_open = open.then_some(()).ok_or_else(|| {
        CaseError::Conflict(format!(
            "a case in state `{}` is shared with nobody any more",
            case.state
        ))
    });
    caller.decided(&state, &attempt, still_open).await?;
    caller
        .require_org(&state, &attempt, "does not share case content")
        .await?;
    let consent = state.store.consent(&case.id).await?.ok_or_else(|| {
        CaseError::Forbidden("the case has no consent record".into()).refused("no consent record")
    });
    let consent = caller.decided(&state, &attempt, consent).await?;
    attempt.consent = Some(consent.id.clone());
    let today = state.store.clock().today();
    let (role, none) = (&caller.org_role, &BTreeSet::new());
    let plan = sharing::plan_shares(
        policy, role, &parties, &consent, &inputs, &orgs, none, &today,
    );
    let (plan, _) = caller.decided(&state, &attempt, plan).await?;
    let sealing = sharing::plan_share_sealing(policy, &inputs, &RecipientKeys::of(orgs.values()))?;
    let (sealed, _) = seal_plan(sealing, policy).await?;
    drop(inputs);
    drop(req);
    let new_parties =
        sharing::joining_parties(&plan, &caller.org_id, &state.store.clock().now_text());
    attempt.policy_rule = Some(format!(
        "re-share by role `{}` ({})",
        caller.org_role, policy.version
    ));
    state
        .store
        .add_share(&id, &caller.org_id, &new_parties, &sealed, attempt)
        .await?;
    tracing::info!(case = %id, org = %caller.org_id, fields = sealed.len(), "fields re-shared");
    Ok(Json(Shared::of(id, new_parties, sealed)))
}
