//! The lifecycle after submission (`domain.md`): assessment, referral, match, housing,
//! change reports, evaluations, lease conversion and ending. Each step is decided by the rules
//! in `cases::lifecycle`, checked against consent, and stored in one transaction with its
//! access event (`steps`).

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use super::access::{organisations_by_id, seal_plan};
use super::shares::{ShareRequestItem, share_attempt};
use super::steps::{Sendable, StepDone, access, begin};
use super::{ApiError, ApiJson, AppState, Caller};
use crate::cases::lifecycle;
use crate::cases::sharing::{self, ShareInput};
use crate::cases::{Action, CaseFacts, CaseParty, Notice, RecipientKeys, State as CaseState};
use crate::form::{self, FieldValues};

/// The routes of this module.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/cases/{id}/assessment", post(post_assessment))
        .route("/v1/cases/{id}/referral", post(post_referral))
        .route("/v1/cases/{id}/match", post(post_match))
        .route("/v1/cases/{id}/housed", post(post_housed))
        .route(
            "/v1/cases/{id}/lease-conversion",
            post(post_lease_conversion),
        )
        .route("/v1/cases/{id}/end", post(post_end))
        .route("/v1/cases/{id}/changes", post(post_changes))
        .route("/v1/cases/{id}/evaluations", post(post_evaluation))
        .route("/v1/cases/{id}/signals", post(post_signal))
}

// ---- assessment ------------------------------------------------------------------------------

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AssessmentRequest {
    /// `accept`, `reject` or `request_info`.
    decision: String,
    /// Assessment form values (criteria checklist, notes, decision reason), sealed.
    #[serde(default)]
    #[schema(value_type = Object)]
    fields: FieldValues,
}

#[utoipa::path(post, path = "/v1/cases/{id}/assessment", tag = "lifecycle", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), request_body = AssessmentRequest, responses((status = 200, description = "Assessed", body = StepDone)))]
pub(super) async fn post_assessment(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<AssessmentRequest>,
) -> Result<Json<StepDone>, ApiError> {
    let party = access(&state, &caller, &id, "assessment").await?;
    let action = lifecycle::assessment_action(&req.decision, &req.fields)?;
    let allowed = party.allow(&state, &caller, move |_| action).await?;
    lifecycle::assessment_fields(action, &req.fields)?;
    if action == Action::Accept {
        let sealed = state.store.sealed_field_ids(&allowed.ctx.case.id).await?;
        lifecycle::papers_before_assessment(&state.policy, &allowed.ctx.case.form, &sealed)?;
    }
    let mut step = allowed.step(&caller);
    let mut withheld = Vec::new();
    if !req.fields.0.is_empty() {
        let assessment = ["assessment".to_owned()];
        let only = Sendable::Categories(&assessment);
        let sealed = allowed.seal_to_parties(&state, &caller, &req.fields, only);
        (step.sealed, withheld) = sealed.await?;
    }
    // The question or the reason also stands in the case's thread, to be answered there.
    let question = super::messages::assessment_to_thread(&state, &caller, &allowed, &req.fields);
    if let Some((sealed, message)) = question.await? {
        step.sealed.extend(sealed);
        step.message = Some(message);
    }
    let detail = format!("assessment: {}", req.decision);
    step.notify = allowed.ctx.notify_others(&caller.org_id, "state", &detail);
    allowed.finish_withheld(&state, step, withheld).await
}

// ---- referral --------------------------------------------------------------------------------

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ReferralRequest {
    /// The municipalities (organisation ids) the client may live in (art. 9.4).
    municipalities: Vec<String>,
    /// Queue position among referred cases (art. 8.4), if the coordinator sets it now; 1 is
    /// first in line.
    #[schema(minimum = 1, maximum = 10_000)]
    queue_position: Option<i64>,
    /// The re-share: fields for each new party, opened by the coordinator's client.
    shares: Vec<ShareRequestItem>,
}

#[utoipa::path(post, path = "/v1/cases/{id}/referral", tag = "lifecycle", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), request_body = ReferralRequest, responses((status = 200, description = "Referred", body = StepDone)))]
pub(super) async fn post_referral(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ReferralRequest>,
) -> Result<Json<StepDone>, ApiError> {
    let policy = &state.policy;
    let allowed = begin(&state, &caller, &id, |_| Action::Refer, "referral").await?;
    let queue_position = lifecycle::queue_position(req.queue_position)?;
    let joining = sharing::referral_recipients(policy, &req.municipalities)?;
    let inputs: Vec<ShareInput<'_>> = req.shares.iter().map(ShareRequestItem::input).collect();
    let orgs = organisations_by_id(&state).await?;
    let mut attempt = share_attempt(allowed.event.clone(), policy, &inputs, &orgs);
    attempt.recipients = joining.iter().cloned().collect();
    let consent = allowed.ctx.consent()?;
    let (role, parties) = (&caller.org_role, &allowed.ctx.parties);
    let today = state.store.clock().today();
    let plan = sharing::plan_shares(
        policy, role, parties, consent, &inputs, &orgs, &joining, &today,
    );
    let (plan, items) = caller.decided(&state, &attempt, plan).await?;
    sharing::referral_covers_joining(&req.municipalities, &joining, &items, parties)?;
    let sealing = sharing::plan_share_sealing(policy, &inputs, &RecipientKeys::of(orgs.values()))?;
    let now = state.store.clock().now_text();
    let mut step = allowed.step(&caller);
    (step.sealed, _) = seal_plan(sealing, policy).await?;
    step.facts = CaseFacts {
        queue_position,
        referred_at: Some(now.clone()),
        ..CaseFacts::default()
    };
    step.new_parties = sharing::joining_parties(&plan, &caller.org_id, &now);
    step.notify = (step.new_parties.iter())
        .map(|p| Notice::new(&p.org_id, "referred", "a case was referred to you"))
        .collect();
    let detail = format!("referred to {}", req.municipalities.join(", "));
    (step.notify).extend(allowed.ctx.notify_others(&caller.org_id, "state", &detail));
    attempt.policy_rule = Some(format!(
        "referral by role `{}` ({})",
        caller.org_role, policy.version
    ));
    allowed.finish(&state, step, attempt).await
}

// ---- match, housing, lease, end -------------------------------------------------------------

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MatchRequest {
    /// The municipality of the home.
    home_municipality: String,
    /// `regular`, `youth_room` or `youth_studio`.
    home_kind: String,
    /// The offer form's values (`offer_address`, `offer_rent`, `offer_conditions`,
    /// `offer_viewing_on`): sealed to the care organisation and the coordinator (and kept by
    /// the corporation); the other parties learn only that the case is matched.
    #[schema(value_type = Object)]
    offer: FieldValues,
}

#[utoipa::path(post, path = "/v1/cases/{id}/match", tag = "lifecycle", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), request_body = MatchRequest, responses((status = 200, description = "Matched", body = StepDone)))]
pub(super) async fn post_match(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<MatchRequest>,
) -> Result<Json<StepDone>, ApiError> {
    let allowed = begin(&state, &caller, &id, |_| Action::Match, "matching").await?;
    let now = state.store.clock().now_text();
    let (corporation, home) = (&caller.org_id, &req.home_municipality);
    let facts = lifecycle::match_facts(&state.policy, corporation, home, &req.home_kind, &now)?;
    form::validate_form(&state.policy, "offer", &req.offer, true)
        .map_err(ApiError::invalid_fields)?;
    let revoked = lifecycle::revoked_at_match(&allowed.ctx.parties, corporation, home);
    let staying: Vec<CaseParty> = (allowed.ctx.parties.iter())
        .filter(|p| !revoked.contains(&p.org_id))
        .cloned()
        .collect();
    let offer = allowed.seal_to(&state, &caller, &req.offer, Sendable::Any, &staying);
    let (sealed, withheld) = offer.await?;
    let mut step = allowed.step(&caller);
    step.facts = facts;
    step.sealed = sealed;
    let detail = format!("a home in {home} was found by {corporation}");
    step.notify = (staying.iter())
        .filter(|p| p.org_id != *corporation)
        .map(|p| Notice::new(&p.org_id, "matched", &detail))
        .collect();
    // The other referred corporations and municipalities lose their copies, each on record.
    for org in revoked {
        let mut revoked = allowed.event.clone();
        revoked.action = "delete".into();
        revoked.recipients = vec![org.clone()];
        revoked.reason = Some(format!(
            "`{org}` taken off the case at the match: its copies deleted (AVG art. 5(1)(c))"
        ));
        step.notify.push(Notice::new(
            &org,
            "revoked",
            "the client was housed elsewhere; your copies of the case were deleted",
        ));
        step.revoke.push((org, revoked));
    }
    allowed.finish_withheld(&state, step, withheld).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct HousedRequest {
    /// Key handover date, `YYYY-MM-DD`.
    #[schema(format = Date)]
    key_handover: String,
    /// The lease: `triangle` (default: the client's, the corporation's and the municipality's,
    /// art. 4) or `regular`.
    lease: Option<String>,
}

#[utoipa::path(post, path = "/v1/cases/{id}/housed", tag = "lifecycle", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), request_body = HousedRequest, responses((status = 200, description = "Housed", body = StepDone)))]
pub(super) async fn post_housed(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<HousedRequest>,
) -> Result<Json<StepDone>, ApiError> {
    let allowed = begin(&state, &caller, &id, |_| Action::Housed, "matching").await?;
    let due = lifecycle::evaluations_due(&req.key_handover)?;
    let lease = crate::cases::lease::kind(req.lease.as_deref())?;
    let reason = "only the corporation that reported the match reports the housing";
    let rule = allowed.ctx.by_matching_corporation(&caller.org_id, reason);
    allowed.check(&state, &caller, rule).await?;
    let mut step = allowed.step(&caller);
    step.facts = CaseFacts {
        key_handover: Some(req.key_handover.clone()),
        lease_kind: Some(lease),
        ..CaseFacts::default()
    };
    step.evaluations_due = due;
    let detail = format!("housed; key handover {}", req.key_handover);
    step.notify = allowed.ctx.notify_others(&caller.org_id, "state", &detail);
    let event = allowed.event.clone();
    allowed.finish(&state, step, event).await
}

/// A conversion of the triangle lease (art. 4).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct LeaseConversionRequest {
    /// The day the lease became a regular one, `YYYY-MM-DD`.
    #[schema(format = Date)]
    converted_on: String,
    /// The day each of the three conditions was met: `rent_paid_on_time`,
    /// `living_behaviour`, `plan_housing_goals` → `YYYY-MM-DD`.
    conditions: std::collections::BTreeMap<String, String>,
}

#[utoipa::path(post, path = "/v1/cases/{id}/lease-conversion", tag = "lifecycle", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), request_body = LeaseConversionRequest, responses((status = 200, description = "Lease converted", body = StepDone)))]
/// The corporation that housed the client converts the triangle lease once the rent was paid
/// on time, the living behaviour was acceptable and the plan's housing goals were reached
/// (art. 4), each with its day.
pub(super) async fn post_lease_conversion(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<LeaseConversionRequest>,
) -> Result<Json<StepDone>, ApiError> {
    let allowed = begin(&state, &caller, &id, |_| Action::ConvertLease, "guidance").await?;
    let reason = "only the corporation that housed the client converts the lease";
    let rule = allowed.ctx.by_matching_corporation(&caller.org_id, reason);
    allowed.check(&state, &caller, rule).await?;
    let today = state.store.clock().today();
    let rule = crate::cases::lease::conversion(
        &allowed.ctx.case,
        &req.converted_on,
        &req.conditions,
        &today,
    );
    let met = allowed.check(&state, &caller, rule).await?;
    let mut step = allowed.step(&caller);
    step.facts.lease_converted_on = Some(req.converted_on.clone());
    step.lease_conditions = met;
    let detail = "lease converted to a regular lease";
    step.notify = allowed.ctx.notify_others(&caller.org_id, "state", detail);
    let event = allowed.event.clone();
    allowed.finish(&state, step, event).await
}

/// How a case ends.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct EndRequest {
    /// `lease_ended`, `home_swap`, `replacement_housing` (art. 9.11: the case returns to the
    /// coordinator for a new referral), `moved_on` or `other`.
    reason: String,
}

#[utoipa::path(post, path = "/v1/cases/{id}/end", tag = "lifecycle", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), request_body = EndRequest, responses((status = 200, description = "Ended, or (replacement housing) back with the coordinator as `assessed`", body = StepDone)))]
/// The coordinator or the corporation that matched the case ends it, with the reason (art.
/// 9.11, 10). Replacement housing re-opens it for a new referral instead.
pub(super) async fn post_end(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<EndRequest>,
) -> Result<Json<StepDone>, ApiError> {
    let action = lifecycle::end_action(&req.reason)?;
    let allowed = begin(&state, &caller, &id, |_| action, "guidance").await?;
    if caller.org_role == "corporation" {
        let reason = "only the coordinator or the corporation that matched the case ends it";
        let rule = allowed.ctx.by_matching_corporation(&caller.org_id, reason);
        allowed.check(&state, &caller, rule).await?;
    }
    let mut step = allowed.step(&caller);
    let detail = if action == Action::Rehouse {
        "replacement housing needed (art. 9.11): the case returns to the coordinator for a new referral".to_owned()
    } else {
        step.facts.end_reason = Some(req.reason.clone());
        format!("case ended: {}", req.reason)
    };
    step.notify = allowed.ctx.notify_others(&caller.org_id, "state", &detail);
    let event = allowed.event.clone();
    allowed.finish(&state, step, event).await
}

// ---- change reports and evaluations ----------------------------------------------------------

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ChangeRequest {
    /// Field id → new value.
    #[schema(value_type = Object)]
    fields: FieldValues,
}

#[utoipa::path(post, path = "/v1/cases/{id}/changes", tag = "lifecycle", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), request_body = ChangeRequest, responses((status = 200, description = "Change reported", body = StepDone)))]
/// A change report (art. 6, 12) — or, when the coordinator asked for more information, the
/// answer that returns the case to it.
pub(super) async fn post_changes(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ChangeRequest>,
) -> Result<Json<StepDone>, ApiError> {
    let answer_or_change = |from| {
        if from == CaseState::InfoRequested {
            Action::Answer
        } else {
            Action::ReportChange
        }
    };
    let allowed = begin(&state, &caller, &id, answer_or_change, "change_report").await?;
    let sealed = allowed.seal_to_parties(&state, &caller, &req.fields, Sendable::ChangeReport);
    let (sealed, withheld) = sealed.await?;
    let mut step = allowed.step(&caller);
    step.notify = lifecycle::changed_notices(&sealed, &caller.org_id);
    step.sealed = sealed;
    allowed.finish_withheld(&state, step, withheld).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct EvaluationRequest {
    /// Which half-year: 1 or 2.
    #[schema(minimum = 1, maximum = 2)]
    period: i64,
    /// The evaluation form's values (period text, the report document).
    #[schema(value_type = Object)]
    fields: FieldValues,
}

#[utoipa::path(post, path = "/v1/cases/{id}/evaluations", tag = "lifecycle", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), request_body = EvaluationRequest, responses((status = 200, description = "Evaluation stored", body = StepDone)))]
pub(super) async fn post_evaluation(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<EvaluationRequest>,
) -> Result<Json<StepDone>, ApiError> {
    let allowed = begin(&state, &caller, &id, |_| Action::Evaluate, "evaluation").await?;
    let period = lifecycle::evaluation_period(req.period)?;
    form::validate_form(&state.policy, "evaluation", &req.fields, true)
        .map_err(ApiError::invalid_fields)?;
    let (sealed, withheld) = allowed
        .seal_to_parties(&state, &caller, &req.fields, Sendable::Any)
        .await?;
    // Each report is an item of its own: a later one (the second half year, or the first of a
    // new home after replacement housing) does not hide an earlier one.
    let sealed = crate::cases::as_item(sealed, &uuid::Uuid::new_v4().to_string());
    let mut step = allowed.step(&caller);
    step.evaluation_received = Some(period);
    let detail = format!("evaluation {period}");
    step.notify =
        lifecycle::notices_to_recipients(&sealed, &caller.org_id, "slice_changed", &detail);
    step.sealed = sealed;
    allowed.finish_withheld(&state, step, withheld).await
}

/// A signal of a problem after the match.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SignalRequest {
    /// The signal form's values (`signal_kind`, `signal_on`, `signal_note`).
    #[schema(value_type = Object)]
    fields: FieldValues,
}

#[utoipa::path(post, path = "/v1/cases/{id}/signals", tag = "lifecycle", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), request_body = SignalRequest, responses((status = 200, description = "Signal sealed to the care organisation and the coordinator", body = StepDone)))]
/// The corporation or the municipality signals a problem (rent arrears, nuisance, other) to
/// the care organisation and the coordinator (art. 9.9, 12): sealed to them, a notification
/// each; the case stays where it is.
pub(super) async fn post_signal(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<SignalRequest>,
) -> Result<Json<StepDone>, ApiError> {
    let allowed = begin(&state, &caller, &id, |_| Action::Signal, "guidance").await?;
    form::validate_form(&state.policy, "signal", &req.fields, true)
        .map_err(ApiError::invalid_fields)?;
    let (sealed, withheld) = allowed
        .seal_to_parties(&state, &caller, &req.fields, Sendable::Any)
        .await?;
    // Each signal is an item of its own: an earlier one stays readable beside it.
    let signal = uuid::Uuid::new_v4().to_string();
    let sealed = crate::cases::as_item(sealed, &signal);
    let mut step = allowed.step(&caller);
    step.signal = Some(signal);
    let detail = format!("a signal from {}", caller.org_id);
    step.notify = lifecycle::notices_to_recipients(&sealed, &caller.org_id, "signal", &detail);
    step.sealed = sealed;
    allowed.finish_withheld(&state, step, withheld).await
}
