//! Applications to the municipality of the home (art. 9.7, 12): the care organisation applies
//! for guidance or special assistance, re-sharing what the decision needs; the municipality
//! records its decision; the broker keeps the clock and lists what is overdue.

use axum::extract::{Path, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::access::{organisations_by_id, own_case, seal_plan};
use super::shares::ShareRequestItem;
use super::steps::{Sendable, StepDone, access};
use super::{ApiError, ApiJson, AppState, Caller};
use crate::cases::application::{self, Application};
use crate::cases::sharing::{self, ShareInput};
use crate::cases::{Action, Notice, RecipientKeys, lifecycle};
use crate::form::{self, FieldValues};

/// The routes of this module.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/cases/{id}/applications",
            post(post_application).get(get_applications),
        )
        .route(
            "/v1/cases/{id}/applications/{application}/decision",
            post(post_decision),
        )
        .route("/v1/applications/overdue", get(get_overdue))
}

/// An application with where it stands on the broker's clock.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApplicationStatus {
    /// The application (codes and dates only).
    #[serde(flatten)]
    pub application: Application,
    /// Undecided past its last day.
    pub overdue: bool,
    /// Days from the application to the decision, once decided.
    pub decision_days: Option<i64>,
}

impl ApplicationStatus {
    fn of(application: Application, today: &str) -> Self {
        Self {
            overdue: application.overdue(today),
            decision_days: application.decision_days(),
            application,
        }
    }
}

/// What an application step answers: the step, and the application as recorded.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ApplicationDone {
    /// The step.
    #[serde(flatten)]
    pub step: StepDone,
    /// The application.
    pub application: ApplicationStatus,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ApplicationRequest {
    /// A kind of the policy's `[applications]`: `guidance` or `special_assistance`.
    kind: String,
    /// The application form's values (`application_request`, `application_attachment`),
    /// sealed to the municipality of the home, the coordinator and the care organisation.
    #[schema(value_type = Object)]
    fields: FieldValues,
    /// What the decision needs (the BSN, income, health and guidance, the perspective plan, …),
    /// opened by the care organisation's client and re-shared to the municipality applied to.
    #[serde(default)]
    shares: Vec<ShareRequestItem>,
}

#[utoipa::path(post, path = "/v1/cases/{id}/applications", tag = "lifecycle", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), request_body = ApplicationRequest, responses((status = 200, description = "Applied; the municipality's decision is due on `due_on`", body = ApplicationDone)))]
/// The care organisation applies to the municipality of the home (art. 9.7): the application
/// is sealed to it, the coordinator and the care organisation, and from now on that
/// municipality receives every category its role is granted (policy `[until_application]`).
pub(super) async fn post_application(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ApplicationRequest>,
) -> Result<Json<ApplicationDone>, ApiError> {
    let policy = &state.policy;
    let party = access(&state, &caller, &id, "guidance_decision").await?;
    let mut allowed = party.allow(&state, &caller, |_| Action::Apply).await?;
    let (now, today) = (state.store.clock().now_text(), state.store.clock().today());
    let ctx = &allowed.ctx;
    let home = ctx.case.facts.home_municipality.as_deref();
    let made =
        application::new_application(policy, &ctx.case.id, home, &ctx.parties, &req.kind, &now);
    let made = allowed.check(&state, &caller, made).await?;
    form::validate_form(policy, "application", &req.fields, true)
        .map_err(ApiError::invalid_fields)?;
    let inputs: Vec<ShareInput<'_>> = req.shares.iter().map(ShareRequestItem::input).collect();
    let mut items = sharing::share_items(&inputs);
    application::check_shares(policy, &items, &made.municipality)?;
    // The application itself must reach the municipality: consent covers it and every share.
    items.push(sharing::ShareItem {
        recipients: vec![made.municipality.clone()],
        fields: req.fields.0.iter().map(|(k, _)| k.clone()).collect(),
    });
    let orgs = organisations_by_id(&state).await?;
    let consent = allowed.ctx.consent()?;
    let covered = sharing::consent_covers_shares(policy, consent, &items, &orgs, &today);
    allowed.check(&state, &caller, covered).await?;
    for p in (allowed.ctx.parties.iter_mut()).filter(|p| p.org_id == made.municipality) {
        p.applied = true;
    }
    let (sealed, withheld) =
        (allowed.seal_to_parties(&state, &caller, &req.fields, Sendable::Any)).await?;
    let mut sealed = crate::cases::as_item(sealed, &made.id);
    let keys = RecipientKeys::of(orgs.values());
    let shared = sharing::plan_share_sealing(policy, &inputs, &keys)?;
    sealed.extend(seal_plan(shared, policy).await?.0);
    let mut step = allowed.step(&caller);
    step.sealed = sealed;
    let detail = format!(
        "application for {}, a decision due by {}",
        made.kind, made.due_on
    );
    step.notify = (allowed.ctx.parties.iter())
        .filter(|p| p.org_id == made.municipality || p.role == "coordinator")
        .map(|p| Notice::new(&p.org_id, "application", &detail))
        .collect();
    step.application = Some(made.clone());
    let Json(done) = allowed.finish_withheld(&state, step, withheld).await?;
    let application = ApplicationStatus::of(made, &today);
    Ok(Json(ApplicationDone {
        step: done,
        application,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct DecisionRequest {
    /// `granted`, `refused` or `partly`.
    outcome: String,
    /// The date of the decision, `YYYY-MM-DD`.
    #[schema(format = Date)]
    decided_on: String,
    /// The decision form's values (`decision_motivation`), sealed to the care organisation,
    /// the coordinator and the municipality.
    #[schema(value_type = Object)]
    fields: FieldValues,
}

#[utoipa::path(post, path = "/v1/cases/{id}/applications/{application}/decision", tag = "lifecycle", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)"), ("application" = String, Path, description = "Application id")), request_body = DecisionRequest, responses((status = 200, description = "Decision recorded", body = ApplicationDone)))]
/// The municipality applied to records its decision (art. 8.6, 9.7, 12), once.
pub(super) async fn post_decision(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, application_id)): Path<(String, String)>,
    ApiJson(req): ApiJson<DecisionRequest>,
) -> Result<Json<ApplicationDone>, ApiError> {
    let party = access(&state, &caller, &id, "guidance_decision").await?;
    let allowed = party.allow(&state, &caller, |_| Action::Decide).await?;
    let today = state.store.clock().today();
    let found = (state.store.applications(&allowed.ctx.case.id).await?)
        .into_iter()
        .find(|a| a.id == application_id)
        .ok_or_else(|| ApiError::not_found("no such application of this case"))?;
    let rule = application::check_decision(
        &found,
        &caller.org_id,
        &req.outcome,
        &req.decided_on,
        &today,
    );
    allowed.check(&state, &caller, rule).await?;
    form::validate_form(&state.policy, "decision", &req.fields, true)
        .map_err(ApiError::invalid_fields)?;
    let (sealed, withheld) =
        (allowed.seal_to_parties(&state, &caller, &req.fields, Sendable::Any)).await?;
    let mut step = allowed.step(&caller);
    step.sealed = crate::cases::as_item(sealed, &found.id);
    let decided = Application {
        outcome: Some(req.outcome.clone()),
        decided_on: Some(req.decided_on.clone()),
        decided_at: Some(state.store.clock().now_text()),
        ..found
    };
    let detail = format!("decision on {}: {}", decided.kind, req.outcome);
    step.notify =
        lifecycle::notices_to_recipients(&step.sealed, &caller.org_id, "decision", &detail);
    step.decision = Some(decided.clone());
    let Json(done) = allowed.finish_withheld(&state, step, withheld).await?;
    let application = ApplicationStatus::of(decided, &today);
    Ok(Json(ApplicationDone {
        step: done,
        application,
    }))
}

#[utoipa::path(get, path = "/v1/cases/{id}/applications", tag = "lifecycle", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), responses((status = 200, description = "The case's applications, oldest first", body = Vec<ApplicationStatus>)))]
/// A case's applications, to the parties whose role reads their content (the care
/// organisation, the coordinator, the municipality); a corporation is refused (403).
pub(super) async fn get_applications(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<ApplicationStatus>>, ApiError> {
    let mut event = caller.event("read", "allowed");
    event.purpose = Some("guidance_decision".into());
    event.reason = Some("applications of the case".into());
    let (case, _, event) = own_case(&state, &caller, &id, event).await?;
    let readers = (state.policy.categories.get(application::CATEGORY)).map(|c| &c.roles);
    if !(caller.acts_for_org() && readers.is_some_and(|r| r.contains(&caller.org_role))) {
        let reason = format!(
            "role `{}` does not see a case's applications",
            caller.org_role
        );
        return Err(caller
            .deny(&state, event, &reason, ApiError::forbidden(&reason))
            .await);
    }
    let today = state.store.clock().today();
    let list = state.store.applications(&case.id).await?;
    state.store.record(event).await?;
    Ok(Json(
        list.into_iter()
            .map(|a| ApplicationStatus::of(a, &today))
            .collect(),
    ))
}

#[utoipa::path(get, path = "/v1/applications/overdue", tag = "lifecycle", security(("bearer" = [])), responses((status = 200, description = "Undecided applications past their last day: every one for the coordinator, its own for a municipality", body = Vec<ApplicationStatus>)))]
/// The undecided applications past their last day (art. 12): the coordinator sees all, a
/// municipality those made to it.
pub(super) async fn get_overdue(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<ApplicationStatus>>, ApiError> {
    let only = match caller.org_role.as_str() {
        "coordinator" if caller.acts_for_org() => None,
        "municipality" if caller.acts_for_org() => Some(caller.org_id.as_str()),
        _ => {
            return Err(ApiError::forbidden(
                "the coordinator and the municipalities follow overdue applications",
            ));
        }
    };
    let mut event = caller.event("search", "allowed");
    event.reason = Some("overdue applications".into());
    state.store.record(event).await?;
    let today = state.store.clock().today();
    let rows = state.store.overdue_applications(&today, only).await?;
    Ok(Json(
        rows.into_iter()
            .map(|a| ApplicationStatus::of(a, &today))
            .collect(),
    ))
}
