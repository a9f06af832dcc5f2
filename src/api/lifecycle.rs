//! The lifecycle after submission (`domain.md`): assessment, referral, match, housing,
//! evaluations, change reports, lease conversion, ending, consent and its withdrawal, the
//! inbox and the referral queue. Each step is checked by the state machine in `cases`, checked
//! against consent, and stored in one transaction with its access event.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::cases::{
    ShareRequestItem, case_for, categories_of, consent_covers_shares, plan_sealing, recipient_keys,
    recipients_of, seal_off_thread, seal_shares, share_items, today,
};
use super::{ApiError, ApiJson, AppState, Caller};
use crate::audit::Event;
use crate::cases::{self, Action, Refusal, State as CaseState};
use crate::consent::ConsentRecord;
use crate::form::{self, FieldValues};
use crate::store::{Case, CaseFacts, CaseParty, Notification, Organisation, Step, StoreError};

/// What a step answers: the case's state afterwards, and what was sealed for whom.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StepDone {
    /// Case id.
    pub id: String,
    /// State after the step.
    pub state: String,
    /// Field id → organisations it was sealed to in this step.
    #[serde(default)]
    pub sealed: BTreeMap<String, Vec<String>>,
    /// Fields left out for parties that consent does not cover (`field for org`).
    #[serde(default)]
    pub withheld: Vec<String>,
}

/// The case, its parties and consent, once the caller is known to be a party and the step is
/// allowed for its role from the case's state. Refusals are recorded as denied events.
struct Context {
    case: Case,
    parties: Vec<CaseParty>,
    consent: Option<ConsentRecord>,
    from: CaseState,
    to: CaseState,
    event: Event,
}

/// A case the caller's organisation is a party to: established before any input is looked
/// at, so an outsider always gets the same 404 (and a denied event).
struct Party {
    case: Case,
    parties: Vec<CaseParty>,
    event: Event,
}

async fn party(
    state: &AppState,
    caller: &Caller,
    id: &str,
    purpose: &str,
) -> Result<Party, ApiError> {
    let mut event = caller.event("update", "allowed");
    event.purpose = Some(purpose.to_owned());
    let (case, parties) = case_for(state, caller, id, event.clone()).await?;
    event.case = Some(case.id.clone());
    event.client.clone_from(&case.client_pseudonym);
    Ok(Party {
        case,
        parties,
        event,
    })
}

impl Party {
    /// The step `action` picks from the case's state (a change report is an answer when the
    /// coordinator asked for more information), if the caller's role may take it from there.
    async fn allow(
        self,
        state: &AppState,
        caller: &Caller,
        action: impl Fn(CaseState) -> Action,
    ) -> Result<Context, ApiError> {
        let Party {
            case,
            parties,
            mut event,
        } = self;
        let from = CaseState::parse(&case.state).ok_or_else(|| {
            ApiError::internal(&StoreError::Corrupt(format!("case state `{}`", case.state)))
        })?;
        let action = action(from);
        event.reason = Some(action.as_str().to_owned());
        let role = if caller.acts_for_org() {
            caller.org_role.as_str()
        } else {
            caller.role.as_str()
        };
        let to = match cases::transition(from, action, role) {
            Ok(to) => to,
            Err(refusal @ Refusal::Role { .. }) => {
                let reason = refusal.to_string();
                return Err(caller
                    .deny(state, event, &reason, ApiError::forbidden(reason.clone()))
                    .await);
            }
            Err(refusal @ Refusal::State { .. }) => {
                let reason = refusal.to_string();
                return Err(caller
                    .deny(state, event, &reason, ApiError::conflict(reason.clone()))
                    .await);
            }
        };
        let consent = state.store.consent(&case.id).await?;
        event.consent = consent.as_ref().map(|c| c.id.clone());
        Ok(Context {
            case,
            parties,
            consent,
            from,
            to,
            event,
        })
    }
}

/// Party check and step check at once, for steps without input to validate in between.
async fn begin(
    state: &AppState,
    caller: &Caller,
    id: &str,
    action: impl Fn(CaseState) -> Action,
    purpose: &str,
) -> Result<Context, ApiError> {
    party(state, caller, id, purpose)
        .await?
        .allow(state, caller, action)
        .await
}

impl Context {
    fn step(&self, caller: &Caller) -> Step {
        Step {
            case_id: self.case.id.clone(),
            from: self.from.as_str().to_owned(),
            to: self.to.as_str().to_owned(),
            by_org: caller.org_id.clone(),
            ..Step::default()
        }
    }

    /// Refuses (403, recorded) unless the caller's organisation is the corporation that
    /// reported the match.
    async fn by_matching_corporation(
        self,
        state: &AppState,
        caller: &Caller,
        reason: &str,
    ) -> Result<Self, ApiError> {
        if self.case.facts.matched_by.as_deref() == Some(caller.org_id.as_str()) {
            return Ok(self);
        }
        Err(caller
            .deny(
                state,
                self.event,
                reason,
                ApiError::forbidden(reason.to_owned()),
            )
            .await)
    }

    fn party_pairs(&self) -> Vec<(String, String)> {
        self.parties
            .iter()
            .map(|p| (p.org_id.clone(), p.role.clone()))
            .collect()
    }

    /// Every party but the caller, with a notification of `kind`.
    fn notify_others(
        &self,
        caller: &Caller,
        kind: &str,
        detail: &str,
    ) -> Vec<(String, String, String)> {
        self.parties
            .iter()
            .filter(|p| p.org_id != caller.org_id)
            .map(|p| (p.org_id.clone(), kind.to_owned(), detail.to_owned()))
            .collect()
    }

    fn consent(&self) -> Result<&ConsentRecord, ApiError> {
        self.consent
            .as_ref()
            .ok_or_else(|| ApiError::forbidden("the case has no consent record"))
    }

    async fn finish(
        self,
        state: &AppState,
        step: Step,
        mut event: Event,
    ) -> Result<Json<StepDone>, ApiError> {
        let mut sealed: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in &step.sealed {
            let to = sealed.entry(f.field_id.clone()).or_default();
            to.extend(f.recipients.iter().cloned());
            to.sort();
        }
        event.fields = step
            .sealed
            .iter()
            .map(|f| f.field_id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        event.categories = categories_of(&state.policy, &event.fields);
        event.recipients = step
            .sealed
            .iter()
            .flat_map(|f| f.recipients.iter().cloned())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        state.store.apply(&step, event).await?;
        Ok(Json(StepDone {
            id: step.case_id,
            state: step.to,
            sealed,
            withheld: Vec::new(),
        }))
    }
}

/// Seals `values` anew to every entitled party that consent covers (change reports,
/// evaluations, assessment notes); returns the step's sealed fields and what was withheld.
async fn seal_to_parties(
    state: &AppState,
    ctx: &Context,
    values: &FieldValues,
    only_categories: Option<&[String]>,
) -> Result<(Vec<crate::store::NewSealedField>, Vec<String>), ApiError> {
    let policy = &state.policy;
    let plaintexts = form::validate_fields(policy, values).map_err(ApiError::invalid_fields)?;
    if let Some(allowed) = only_categories {
        for (field, _) in &plaintexts {
            let category = &policy.fields[field].category;
            if !allowed.contains(category) {
                return Err(ApiError::unprocessable(format!(
                    "field `{field}` (category `{category}`) cannot be reported as a change; categories: {}",
                    allowed.join(", ")
                )));
            }
        }
    }
    let orgs = state.store.organisations().await?;
    let keys = recipient_keys(&orgs);
    let (jobs, meta, withheld) = plan_sealing(
        policy,
        &ctx.party_pairs(),
        ctx.consent()?,
        plaintexts,
        &keys,
        false,
        &today(state),
    )?;
    Ok((seal_off_thread(jobs, meta, policy).await?, withheld))
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
    let party = party(&state, &caller, &id, "assessment").await?;
    let action = match req.decision.as_str() {
        "accept" => Action::Accept,
        "reject" => Action::Reject,
        "request_info" => Action::RequestInfo,
        _ => {
            return Err(ApiError::unprocessable(
                "`decision` is one of: accept, reject, request_info",
            ));
        }
    };
    if action == Action::Reject && !req.fields.0.iter().any(|(k, _)| k == "decision_reason") {
        return Err(ApiError::unprocessable(
            "a rejection needs the `decision_reason` field",
        ));
    }
    let ctx = party.allow(&state, &caller, move |_| action).await?;
    let mut step = ctx.step(&caller);
    let mut withheld = Vec::new();
    if !req.fields.0.is_empty() {
        let assessment = vec!["assessment".to_owned()];
        let (sealed, w) = seal_to_parties(&state, &ctx, &req.fields, Some(&assessment)).await?;
        step.sealed = sealed;
        withheld = w;
    }
    step.notify = ctx.notify_others(&caller, "state", &format!("assessment: {}", req.decision));
    let event = ctx.event.clone();
    let mut done = ctx.finish(&state, step, event).await?;
    done.withheld = withheld;
    Ok(done)
}

// ---- referral --------------------------------------------------------------------------------

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ReferralRequest {
    /// The municipalities (organisation ids) the client may live in (art. 9.4).
    municipalities: Vec<String>,
    /// Queue position among referred cases (art. 8.4), if the coordinator sets it now.
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
    let ctx = begin(&state, &caller, &id, |_| Action::Refer, "referral").await?;
    let mut attempt = ctx.event.clone();
    attempt.action = "share".into();
    let joining = cases::referral_recipients(policy, &req.municipalities)?;
    let items = share_items(&req.shares);
    attempt.fields = items
        .iter()
        .flat_map(|i| i.fields.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    attempt.categories = categories_of(policy, &attempt.fields);
    attempt.recipients = joining.iter().cloned().collect();
    let orgs: BTreeMap<String, Organisation> = state
        .store
        .organisations()
        .await?
        .into_iter()
        .map(|o| (o.id.clone(), o))
        .collect();
    let consent = ctx.consent()?;
    if let Err(reason) = consent_covers_shares(policy, consent, &items, &orgs, &today(&state)) {
        return Err(caller
            .deny(
                &state,
                attempt,
                &reason,
                ApiError::forbidden(reason.clone()),
            )
            .await);
    }
    let plan = match cases::plan_share(
        policy,
        &caller.org_role,
        &ctx.parties,
        &items,
        &orgs,
        &joining,
    ) {
        Ok(plan) => plan,
        Err(e @ cases::CaseError::Forbidden(_)) => {
            return Err(caller.deny(&state, attempt, &e.to_string(), e.into()).await);
        }
        Err(e) => return Err(e.into()),
    };
    let receiving: BTreeSet<&String> = items.iter().flat_map(|i| i.recipients.iter()).collect();
    for org in &joining {
        if !receiving.contains(org) && cases::party_of(&ctx.parties, org).is_none() {
            return Err(ApiError::unprocessable(format!(
                "a referral to {} goes to `{org}` too: include its share",
                req.municipalities.join(", ")
            )));
        }
    }
    let sealed = seal_shares(policy, &req.shares, &recipient_keys(orgs.values())).await?;
    let now = state.store.clock().now_text();
    let mut step = ctx.step(&caller);
    step.facts = CaseFacts {
        queue_position: req.queue_position,
        referred_at: Some(now.clone()),
        ..CaseFacts::default()
    };
    step.new_parties = plan
        .new_parties
        .iter()
        .map(|(org_id, role)| CaseParty {
            org_id: org_id.clone(),
            role: role.clone(),
            added_at: now.clone(),
            added_by: caller.org_id.clone(),
        })
        .collect();
    step.notify = plan
        .new_parties
        .iter()
        .map(|(org, _)| {
            (
                org.clone(),
                "referred".to_owned(),
                "a case was referred to you".to_owned(),
            )
        })
        .collect();
    step.notify.extend(ctx.notify_others(
        &caller,
        "state",
        &format!("referred to {}", req.municipalities.join(", ")),
    ));
    step.sealed = sealed;
    attempt.policy_rule = Some(format!(
        "referral by role `{}` ({})",
        caller.org_role, policy.version
    ));
    ctx.finish(&state, step, attempt).await
}

// ---- match, housing, lease, end -------------------------------------------------------------

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MatchRequest {
    /// The municipality of the home.
    home_municipality: String,
    /// `regular`, `youth_room` or `youth_studio`.
    home_kind: String,
}

#[utoipa::path(post, path = "/v1/cases/{id}/match", tag = "lifecycle", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), request_body = MatchRequest, responses((status = 200, description = "Matched", body = StepDone)))]
pub(super) async fn post_match(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<MatchRequest>,
) -> Result<Json<StepDone>, ApiError> {
    let ctx = begin(&state, &caller, &id, |_| Action::Match, "matching").await?;
    if !matches!(
        req.home_kind.as_str(),
        "regular" | "youth_room" | "youth_studio"
    ) {
        return Err(ApiError::unprocessable(
            "`home_kind` is one of: regular, youth_room, youth_studio",
        ));
    }
    let has_homes = state
        .policy
        .allocation
        .municipalities
        .get(&req.home_municipality)
        .is_some_and(|m| m.corporations.contains(&caller.org_id));
    if !has_homes {
        return Err(ApiError::unprocessable(format!(
            "{} is not a municipality where your corporation has homes (allocation)",
            crate::form::describe_org(&req.home_municipality)
        )));
    }
    let mut step = ctx.step(&caller);
    step.facts = CaseFacts {
        matched_at: Some(state.store.clock().now_text()),
        matched_by: Some(caller.org_id.clone()),
        home_municipality: Some(req.home_municipality.clone()),
        home_kind: Some(req.home_kind),
        ..CaseFacts::default()
    };
    step.notify = ctx
        .parties
        .iter()
        .filter(|p| matches!(p.role.as_str(), "care" | "coordinator"))
        .map(|p| {
            (
                p.org_id.clone(),
                "matched".to_owned(),
                format!(
                    "a home in {} was found by {}",
                    req.home_municipality, caller.org_id
                ),
            )
        })
        .collect();
    let event = ctx.event.clone();
    ctx.finish(&state, step, event).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct HousedRequest {
    /// Key handover date, `YYYY-MM-DD`.
    key_handover: String,
}

fn months_later(date: time::Date, months: u8) -> time::Date {
    let total = date.month() as u8 - 1 + months;
    let year = date.year() + i32::from(total / 12);
    let month = time::Month::try_from(total % 12 + 1).expect("1 to 12");
    let day = date.day().min(month.length(year));
    time::Date::from_calendar_date(year, month, day).expect("a valid date")
}

#[utoipa::path(post, path = "/v1/cases/{id}/housed", tag = "lifecycle", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), request_body = HousedRequest, responses((status = 200, description = "Housed", body = StepDone)))]
pub(super) async fn post_housed(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<HousedRequest>,
) -> Result<Json<StepDone>, ApiError> {
    let ctx = begin(&state, &caller, &id, |_| Action::Housed, "matching").await?;
    let handover = time::Date::parse(
        &req.key_handover,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| ApiError::unprocessable("`key_handover` must be a date as YYYY-MM-DD"))?;
    let ctx = ctx
        .by_matching_corporation(
            &state,
            &caller,
            "only the corporation that reported the match reports the housing",
        )
        .await?;
    let mut step = ctx.step(&caller);
    step.facts = CaseFacts {
        key_handover: Some(req.key_handover.clone()),
        ..CaseFacts::default()
    };
    step.evaluations_due = vec![
        (1, months_later(handover, 6).to_string()),
        (2, months_later(handover, 12).to_string()),
    ];
    step.notify = ctx.notify_others(
        &caller,
        "state",
        &format!("housed; key handover {}", req.key_handover),
    );
    let event = ctx.event.clone();
    ctx.finish(&state, step, event).await
}

#[utoipa::path(post, path = "/v1/cases/{id}/lease-conversion", tag = "lifecycle", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), responses((status = 200, description = "Lease converted", body = StepDone)))]
pub(super) async fn post_lease_conversion(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<StepDone>, ApiError> {
    let ctx = begin(&state, &caller, &id, |_| Action::ConvertLease, "guidance").await?;
    let ctx = ctx
        .by_matching_corporation(
            &state,
            &caller,
            "only the corporation that housed the client converts the lease",
        )
        .await?;
    let mut step = ctx.step(&caller);
    step.notify = ctx.notify_others(&caller, "state", "lease converted to a regular lease");
    let event = ctx.event.clone();
    ctx.finish(&state, step, event).await
}

#[utoipa::path(post, path = "/v1/cases/{id}/end", tag = "lifecycle", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), responses((status = 200, description = "Ended", body = StepDone)))]
pub(super) async fn post_end(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<StepDone>, ApiError> {
    let ctx = begin(&state, &caller, &id, |_| Action::End, "guidance").await?;
    let mut step = ctx.step(&caller);
    step.notify = ctx.notify_others(&caller, "state", "case ended");
    let event = ctx.event.clone();
    ctx.finish(&state, step, event).await
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
    let ctx = begin(&state, &caller, &id, answer_or_change, "change_report").await?;
    let categories = state.policy.changes.categories.clone();
    let (sealed, withheld) = seal_to_parties(&state, &ctx, &req.fields, Some(&categories)).await?;
    let mut step = ctx.step(&caller);
    let mut per_org: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in &sealed {
        for org in f.recipients.iter().filter(|o| **o != caller.org_id) {
            per_org
                .entry(org.clone())
                .or_default()
                .push(f.field_id.clone());
        }
    }
    step.notify = per_org
        .into_iter()
        .map(|(org, fields)| {
            (
                org,
                "slice_changed".to_owned(),
                format!("changed: {}", fields.join(", ")),
            )
        })
        .collect();
    step.sealed = sealed;
    let event = ctx.event.clone();
    let mut done = ctx.finish(&state, step, event).await?;
    done.withheld = withheld;
    Ok(done)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct EvaluationRequest {
    /// Which half-year: 1 or 2.
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
    let ctx = begin(&state, &caller, &id, |_| Action::Evaluate, "evaluation").await?;
    form::validate_form(&state.policy, "evaluation", &req.fields, true)
        .map_err(ApiError::invalid_fields)?;
    let (sealed, withheld) = seal_to_parties(&state, &ctx, &req.fields, None).await?;
    let mut step = ctx.step(&caller);
    step.evaluation_received = Some(req.period);
    step.notify = sealed
        .iter()
        .flat_map(|f| f.recipients.iter())
        .filter(|o| **o != caller.org_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(|o| {
            (
                o.clone(),
                "slice_changed".to_owned(),
                format!("evaluation {}", req.period),
            )
        })
        .collect();
    step.sealed = sealed;
    let event = ctx.event.clone();
    let mut done = ctx.finish(&state, step, event).await?;
    done.withheld = withheld;
    Ok(done)
}

/// An evaluation that is due and not received.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Overdue {
    /// Case id.
    pub case: String,
    /// Half-year 1 or 2.
    pub period: i64,
    /// Due date.
    pub due_on: String,
}

#[utoipa::path(get, path = "/v1/evaluations/overdue", tag = "lifecycle", security(("bearer" = [])), responses((status = 200, description = "Evaluations past due", body = Vec<Overdue>)))]
pub(super) async fn get_overdue(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Overdue>>, ApiError> {
    if !(caller.acts_for_org() && caller.org_role == "coordinator") {
        return Err(ApiError::forbidden(
            "the coordinator follows overdue evaluations",
        ));
    }
    let mut event = caller.event("search", "allowed");
    event.reason = Some("overdue evaluations".into());
    state.store.record(event).await?;
    let rows = state.store.overdue_evaluations(&today(&state)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|(case, period, due_on)| Overdue {
                case,
                period,
                due_on,
            })
            .collect(),
    ))
}

#[utoipa::path(put, path = "/v1/cases/{id}/documents/{field}", tag = "lifecycle", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)"), ("field" = String, Path, description = "A document field id")), request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The raw document, streamed"), responses((status = 200, description = "Sealed", body = StepDone)))]
/// A document uploaded later (the perspective plan, art. 7.1), streamed: sealed as it arrives
/// to the entitled parties that consent covers, refused (413) the moment it passes the field's
/// `max_bytes`; nothing is stored unless the whole document arrived.
pub(super) async fn put_document(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, field)): Path<(String, String)>,
    body: axum::body::Body,
) -> Result<Json<StepDone>, ApiError> {
    let ctx = begin(
        &state,
        &caller,
        &id,
        |_| Action::ReportChange,
        "change_report",
    )
    .await?;
    let policy = state.policy.clone();
    let spec = match policy.field(&field) {
        Some(spec) if policy.changes.categories.contains(&spec.category) => spec.clone(),
        _ => {
            return Err(ApiError::not_found(format!(
                "no document field {} that can be uploaded later",
                crate::form::describe_id(&field)
            )));
        }
    };
    let crate::policy::FieldKind::Document { max_bytes } = spec.kind else {
        return Err(ApiError::unprocessable(format!(
            "field `{field}` is not a document"
        )));
    };
    let consent = ctx.consent()?;
    let today = today(&state);
    let parties = ctx.party_pairs();
    let orgs: Vec<String> = policy
        .entitled(&field, &parties)
        .into_iter()
        .filter(|org| {
            let role = &parties.iter().find(|(o, _)| o == org).expect("a party").1;
            consent.covers(role, &spec.category, &today)
        })
        .map(str::to_owned)
        .collect();
    let all = state.store.organisations().await?;
    let recipients = recipients_of(&orgs, &recipient_keys(&all))?;
    let sealer =
        crate::sealing::StreamSealer::new(&recipients).map_err(|e| ApiError::internal(&e))?;
    let id = uuid::Uuid::new_v4().to_string();
    let upload = Upload {
        state: &state,
        id: &id,
        field: &field,
        max_bytes,
    };
    let pieces = match upload.store(sealer, body).await {
        Ok(pieces) => pieces,
        Err(e) => {
            // Nothing of an upload that did not complete stays stored.
            if let Err(cleanup) = state.store.drop_chunks(&id).await {
                tracing::warn!(error = %cleanup, "could not delete the pieces of a broken upload");
            }
            return Err(e);
        }
    };
    crate::telemetry::record_sealed(1);
    tracing::debug!(pieces, "document sealed in pieces");
    let mut step = ctx.step(&caller);
    step.sealed = vec![crate::store::NewSealedField {
        id: id.clone(),
        field_id: field.clone(),
        category: spec.category.clone(),
        ciphertext: Vec::new(),
        chunked: true,
        policy_version: policy.version.clone(),
        recipients: orgs.clone(),
    }];
    step.notify = orgs
        .iter()
        .filter(|o| **o != caller.org_id)
        .map(|o| {
            (
                o.clone(),
                "slice_changed".to_owned(),
                format!("changed: {field}"),
            )
        })
        .collect();
    let event = ctx.event.clone();
    let done = ctx.finish(&state, step, event).await;
    if done.is_err()
        && let Err(cleanup) = state.store.drop_chunks(&id).await
    {
        tracing::warn!(error = %cleanup, "could not delete the pieces of a refused upload");
    }
    done
}

/// Bytes of age file stored per piece while a document streams in: the broker holds about
/// this much of it at a time (small enough that the copies on the way into the database stay
/// well under the 10 MiB a 20 MiB upload may add).
const PIECE_BYTES: usize = 256 * 1024;

/// A document streaming in, sealed and stored piece by piece under sealed field `id`.
struct Upload<'a> {
    state: &'a AppState,
    id: &'a str,
    field: &'a str,
    max_bytes: usize,
}

impl Upload<'_> {
    /// Seals the body as it arrives and stores the age file in pieces; the number of pieces.
    async fn store(
        &self,
        mut sealer: crate::sealing::StreamSealer,
        body: axum::body::Body,
    ) -> Result<i64, ApiError> {
        use futures_util::StreamExt as _;
        let mut stream = body.into_data_stream();
        let mut pieces = 0i64;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|_| ApiError::bad_request("the upload broke off"))?;
            if sealer.written() + chunk.len() > self.max_bytes {
                return Err(ApiError::payload_too_large(format!(
                    "`{}` is larger than {} bytes",
                    self.field, self.max_bytes
                )));
            }
            sealer.write(&chunk).map_err(|e| ApiError::internal(&e))?;
            while sealer.sealed_len() >= PIECE_BYTES {
                let piece = sealer.take_sealed(PIECE_BYTES);
                self.state.store.put_chunk(self.id, pieces, &piece).await?;
                pieces += 1;
            }
        }
        if sealer.written() == 0 {
            return Err(ApiError::unprocessable(format!(
                "`{}` is an empty document",
                self.field
            )));
        }
        let rest = sealer.finish().map_err(|e| ApiError::internal(&e))?;
        for piece in rest.chunks(PIECE_BYTES) {
            self.state.store.put_chunk(self.id, pieces, piece).await?;
            pieces += 1;
        }
        Ok(pieces)
    }
}

// ---- consent ---------------------------------------------------------------------------------

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsentQuery {
    format: Option<String>,
}

#[utoipa::path(get, path = "/v1/cases/{id}/consent", tag = "consent", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)"), ConsentQuery), responses((status = 200, description = "The consent record, or a FHIR R5 Consent", body = Object)))]
pub(super) async fn get_consent(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: super::problem::QueryResult<ConsentQuery>,
) -> Result<Json<Value>, ApiError> {
    let q = super::problem::query(q, "only format=fhir")?;
    let mut event = caller.event("read", "allowed");
    event.purpose = Some("registration".into());
    event.reason = Some("consent record".into());
    let (case, _) = case_for(&state, &caller, &id, event.clone()).await?;
    let consent = state
        .store
        .consent(&case.id)
        .await?
        .ok_or_else(|| ApiError::not_found("the case has no consent record"))?;
    event.case = Some(case.id.clone());
    event.client.clone_from(&case.client_pseudonym);
    event.consent = Some(consent.id.clone());
    state.store.record(event).await?;
    Ok(Json(match q.format.as_deref() {
        Some("fhir") => consent.to_fhir(),
        None | Some("json") => {
            serde_json::to_value(&consent).map_err(|e| ApiError::internal(&e))?
        }
        Some(_) => return Err(ApiError::bad_request("format is one of: json, fhir")),
    }))
}

#[utoipa::path(post, path = "/v1/cases/{id}/consent/withdraw", tag = "consent", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), responses((status = 200, description = "Consent withdrawn; ciphertexts deleted", body = StepDone)))]
/// Withdrawal (AVG art. 7(3)): one call, at once. The consent stops covering anyone, every
/// age file of the case is deleted except the declaration itself (kept to demonstrate the
/// consent that was given), and the case moves to `withdrawn`.
pub(super) async fn post_withdraw(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<StepDone>, ApiError> {
    let ctx = begin(&state, &caller, &id, |_| Action::Withdraw, "registration").await?;
    ctx.consent()?;
    let mut step = ctx.step(&caller);
    step.withdraw_consent = Some((caller.user_id.clone(), caller.org_id.clone()));
    step.delete_sealed_except = Some(state.policy.consent.retained_after_withdrawal.clone());
    step.notify = ctx.notify_others(
        &caller,
        "withdrawn",
        "the client withdrew consent; the case's ciphertexts were deleted",
    );
    let mut event = ctx.event.clone();
    event.reason = Some("consent withdrawn".into());
    ctx.finish(&state, step, event).await
}

// ---- inbox and queue -------------------------------------------------------------------------

#[utoipa::path(get, path = "/v1/inbox", tag = "lifecycle", security(("bearer" = [])), responses((status = 200, description = "The organisation's notifications", body = Vec<Notification>)))]
pub(super) async fn get_inbox(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Notification>>, ApiError> {
    Ok(Json(state.store.inbox(&caller.org_id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct QueueRequest {
    /// Referred case ids, first in line first.
    order: Vec<String>,
}

#[utoipa::path(put, path = "/v1/referrals/queue", tag = "lifecycle", security(("bearer" = [])), request_body = QueueRequest, responses((status = 200, description = "Queue order set", body = Object)))]
pub(super) async fn put_queue(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<QueueRequest>,
) -> Result<Json<Value>, ApiError> {
    let mut event = caller.event("update", "allowed");
    event.purpose = Some("referral".into());
    event.reason = Some("queue order of referred cases (art. 8.4)".into());
    if !(caller.acts_for_org() && caller.org_role == "coordinator") {
        let reason = "the coordinator sets the queue order".to_owned();
        return Err(caller
            .deny(&state, event, &reason, ApiError::forbidden(reason.clone()))
            .await);
    }
    for case in &req.order {
        if uuid::Uuid::parse_str(case).is_err() {
            return Err(ApiError::bad_request("the order lists case ids (UUIDs)"));
        }
    }
    state.store.set_queue(&req.order, event).await?;
    Ok(Json(serde_json::json!({ "queued": req.order.len() })))
}
