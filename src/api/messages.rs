//! A case that talks both ways: messages sealed to the parties their writer picks, reports of
//! the consultations (art. 9, 15) and of the hand-over (art. 16) with each participant's
//! acknowledgement, and the thread each party sees.

use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::access::{own_case, seal_plan};
use super::steps::{Allowed, StepDone, begin};
use super::{ApiError, ApiJson, AppState, Caller};
use crate::cases::message::{self, Draft, MESSAGE, Message};
use crate::cases::{Action, NewSealedField, Notice, RecipientKeys, as_item, party_of};
use crate::form::{self, FieldValues};

/// The routes of this module.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/v1/cases/{id}/messages",
            post(post_message).get(get_thread),
        )
        .route("/v1/cases/{id}/reports", post(post_report))
        .route(
            "/v1/cases/{id}/reports/{report}/acknowledgement",
            post(post_acknowledgement),
        )
}

/// What writing a message or report answers: the step, and the message as recorded.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MessageDone {
    /// The step.
    #[serde(flatten)]
    pub step: StepDone,
    /// The message (routing metadata only); its text is the slice's item of this id.
    pub message: Message,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MessageRequest {
    /// The parties (organisation ids) it is for; the sender keeps its own copy.
    to: Vec<String>,
    /// The category it is about (default `message`: the case's progress). Only parties whose
    /// role the policy grants that category can be addressed, and consent must cover it.
    #[serde(default = "progress")]
    about: String,
    /// The message form's values (`message_text`, `message_attachment`), sealed.
    #[schema(value_type = Object)]
    fields: FieldValues,
    /// The id of the message it answers.
    reply_to: Option<String>,
}

fn progress() -> String {
    "message".into()
}

#[utoipa::path(post, path = "/v1/cases/{id}/messages", tag = "correspondence", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), request_body = MessageRequest, responses((status = 200, description = "Sealed to the addressees and the sender", body = MessageDone)))]
/// Any party writes to parties it picks, about a category each addressee's role may see
/// (403 otherwise); each addressee is notified (without content).
pub(super) async fn post_message(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<MessageRequest>,
) -> Result<Json<MessageDone>, ApiError> {
    let draft = Draft {
        kind: MESSAGE,
        about: &req.about,
        to: &req.to,
        held_on: None,
        reply_to: req.reply_to.as_deref(),
    };
    let writing = Writing {
        action: Action::Message,
        form: "message",
        purpose: "guidance",
    };
    write(&state, &caller, &id, writing, draft, &req.fields).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ReportRequest {
    /// `outflow_consultation` or `client_consultation` (the coordinator, art. 9, 15), or
    /// `handover` (the municipality of the home, art. 16).
    kind: String,
    /// The day the meeting was held, `YYYY-MM-DD`.
    #[schema(format = Date)]
    held_on: String,
    /// The parties that took part (organisation ids); each acknowledges the report.
    to: Vec<String>,
    /// The report form's values (`consultation_*` or `handover_*`), sealed.
    #[schema(value_type = Object)]
    fields: FieldValues,
}

#[utoipa::path(post, path = "/v1/cases/{id}/reports", tag = "correspondence", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), request_body = ReportRequest, responses((status = 200, description = "Sealed to the participants and the author; each is asked to acknowledge it", body = MessageDone)))]
/// The coordinator records the report of a consultation, the municipality of the home the
/// report of the hand-over (from `housed`), for the parties that took part.
pub(super) async fn post_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ReportRequest>,
) -> Result<Json<MessageDone>, ApiError> {
    let report = message::report(&req.kind)?;
    let draft = Draft {
        kind: report.kind,
        about: report.category,
        to: &req.to,
        held_on: Some(&req.held_on),
        reply_to: None,
    };
    let writing = Writing {
        action: if report.kind == "handover" {
            Action::HandOver
        } else {
            Action::Consult
        },
        form: report.form,
        purpose: "guidance",
    };
    write(&state, &caller, &id, writing, draft, &req.fields).await
}

/// The step a message or report is, with the form of its fields.
struct Writing {
    action: Action,
    form: &'static str,
    purpose: &'static str,
}

/// Checks, seals and stores a message or report as one step with its access event.
async fn write(
    state: &AppState,
    caller: &Caller,
    id: &str,
    writing: Writing,
    draft: Draft<'_>,
    fields: &FieldValues,
) -> Result<Json<MessageDone>, ApiError> {
    let allowed = begin(state, caller, id, |_| writing.action, writing.purpose).await?;
    let sealing = seal_message(state, caller, &allowed, writing.form, draft, fields);
    let (sealed, written) = sealing.await?;
    let mut step = allowed.step(caller);
    step.sealed = sealed;
    let (kind, detail) = if written.asks_acknowledgement() {
        let detail = format!("a report ({}) to acknowledge", written.kind);
        ("report", detail)
    } else {
        ("message", format!("a message about {}", written.about))
    };
    let detail = format!("{detail} from {}", caller.org_id);
    step.notify = (written.to.iter())
        .map(|a| Notice::new(&a.org, kind, &detail))
        .collect();
    step.message = Some(written.clone());
    let mut event = allowed.event.clone();
    event.reason = Some(format!("{} {}", writing.action.as_str(), written.id));
    let Json(done) = allowed.finish(state, step, event).await?;
    Ok(Json(MessageDone {
        step: done,
        message: written,
    }))
}

/// Checks a message or report `draft` of the step `allowed` against the policy, the consent
/// and the thread, and seals its `fields` (of `form`) to its audience as one item: the age
/// files and the message to store with the step.
pub(super) async fn seal_message(
    state: &AppState,
    caller: &Caller,
    allowed: &Allowed,
    form: &str,
    draft: Draft<'_>,
    fields: &FieldValues,
) -> Result<(Vec<NewSealedField>, Message), ApiError> {
    let policy = &state.policy;
    let ctx = &allowed.ctx;
    let thread = state.store.messages(&ctx.case.id).await?;
    let sender = party_of(&ctx.parties, &caller.org_id)
        .ok_or_else(|| ApiError::not_found("no such case"))?;
    let clock = state.store.clock();
    let now = (clock.now_text(), clock.today());
    let rule = message::new_message(policy, ctx, sender, draft, &thread, (&now.0, &now.1));
    let (written, audience) = allowed.check(state, caller, rule).await?;
    let plaintexts =
        form::validate_form(policy, form, fields, true).map_err(ApiError::invalid_fields)?;
    let keys = RecipientKeys::of(&state.store.organisations().await?);
    let plan = message::sealing_plan(policy, &written, &audience, plaintexts, &keys)?;
    let sealed = as_item(seal_plan(plan, policy).await?.0, &written.id);
    Ok((sealed, written))
}

/// The coordinator's question (information requested) or reason (rejection) as a message to
/// the care organisation in the case's thread, sealed under `assessment` (art. 8.3); none for
/// another step or without the text.
pub(super) async fn assessment_to_thread(
    state: &AppState,
    caller: &Caller,
    allowed: &Allowed,
    fields: &FieldValues,
) -> Result<Option<(Vec<NewSealedField>, Message)>, ApiError> {
    let action = match allowed.ctx.to {
        crate::cases::State::InfoRequested => Action::RequestInfo,
        crate::cases::State::Rejected => Action::Reject,
        _ => return Ok(None),
    };
    let Some(text) = message::assessment_message(action, fields) else {
        return Ok(None);
    };
    // Where consent leaves the assessment out, the step seals it to no one (it is withheld)
    // and the thread gets no copy either.
    let today = state.store.clock().today();
    let consent = allowed.ctx.consent()?;
    let Some(readers) = (state.policy.categories.get("assessment")).map(|c| &c.roles) else {
        return Ok(None);
    };
    let left_out = (allowed.ctx.parties.iter())
        .filter(|p| readers.contains(&p.role))
        .any(|p| consent.missing(&p.role, "assessment", &today).is_some());
    if left_out {
        return Ok(None);
    }
    let care: Vec<String> = (allowed.ctx.parties.iter())
        .filter(|p| p.role == "care")
        .map(|p| p.org_id.clone())
        .collect();
    let draft = Draft {
        kind: MESSAGE,
        about: "assessment",
        to: &care,
        held_on: None,
        reply_to: None,
    };
    let sealed = seal_message(state, caller, allowed, "message", draft, &text).await?;
    Ok(Some(sealed))
}

#[utoipa::path(post, path = "/v1/cases/{id}/reports/{report}/acknowledgement", tag = "correspondence", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)"), ("report" = String, Path, description = "Report id")), responses((status = 200, description = "Acknowledged; the author is notified", body = Message)))]
/// A participant acknowledges a report (the approval and signature of art. 15 and 16), once;
/// the access log keeps an event of it.
pub(super) async fn post_acknowledgement(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, report_id)): Path<(String, String)>,
) -> Result<Json<Message>, ApiError> {
    let allowed = begin(&state, &caller, &id, |_| Action::Acknowledge, "guidance").await?;
    let mut report = (state.store.messages(&allowed.ctx.case.id).await?)
        .into_iter()
        .find(|m| m.id == report_id && m.involves(&caller.org_id))
        .ok_or_else(|| ApiError::not_found("no such report of this case"))?;
    let rule = message::check_acknowledgement(&report, &caller.org_id);
    allowed.check(&state, &caller, rule).await?;
    let mut step = allowed.step(&caller);
    step.acknowledged = Some(report.id.clone());
    let detail = format!("report ({}) acknowledged by {}", report.kind, caller.org_id);
    step.notify = vec![Notice::new(&report.sender, "acknowledged", &detail)];
    let now = state.store.clock().now_text();
    for a in report.to.iter_mut().filter(|a| a.org == caller.org_id) {
        a.acknowledged_at = Some(now.clone());
    }
    let mut event = allowed.event.clone();
    event.reason = Some(format!("acknowledge {}", report.id));
    let _stored: Json<StepDone> = allowed.finish(&state, step, event).await?;
    Ok(Json(report))
}

#[utoipa::path(get, path = "/v1/cases/{id}/messages", tag = "correspondence", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), responses((status = 200, description = "The messages and reports the caller's organisation wrote or was addressed, oldest first (routing metadata; the texts are its slice's items)", body = Vec<Message>)))]
/// The thread of a case as the caller's organisation takes part in it: what it wrote and
/// what was addressed to it, with the acknowledgements of each report.
pub(super) async fn get_thread(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<Message>>, ApiError> {
    let mut event = caller.event("read", "allowed");
    event.purpose = Some("guidance".into());
    event.reason = Some("messages of the case".into());
    let (case, _, event) = own_case(&state, &caller, &id, event).await?;
    caller
        .require_org(&state, &event, "does not take part in a case's messages")
        .await?;
    let thread = state.store.messages(&case.id).await?;
    state.store.record(event).await?;
    Ok(Json(
        thread
            .into_iter()
            .filter(|m| m.involves(&caller.org_id))
            .collect(),
    ))
}
