//! Access log endpoints: the privacy officer's queries, reports and verification (each one a
//! recorded read of the log), and the public checkpoint, key and proof endpoints that let
//! anyone holding a checkpoint check the log.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::problem::{QueryResult, query};
use super::{ApiError, ApiJson, AppState, Caller};
use crate::audit::{self, Checkpoint, Event, VerifyReport};
use crate::store::EventFilter;

/// Only roles the policy marks `audits = true` (the privacy officer) read the log.
async fn auditor(state: &AppState, caller: &Caller, action: &str) -> Result<(), ApiError> {
    if state
        .policy
        .roles
        .get(&caller.role)
        .is_some_and(|r| r.audits)
    {
        return Ok(());
    }
    let reason = format!("role `{}` does not read the access log", caller.role);
    Err(caller
        .deny(
            state,
            caller.event(action, "denied"),
            &reason,
            ApiError::forbidden(reason.clone()),
        )
        .await)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct EventsQuery {
    org: Option<String>,
    /// A user id or login name.
    user: Option<String>,
    case: Option<String>,
    client: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    from: Option<String>,
    to: Option<String>,
    after: Option<i64>,
    limit: Option<i64>,
    /// `json` (default), `jsonl` or `csv`.
    format: Option<String>,
}

/// The routes of this module.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/audit/events", get(get_events))
        .route("/v1/audit/pseudonyms", axum::routing::post(post_pseudonym))
        .route(
            "/v1/audit/clients/{pseudonym}/report",
            get(get_client_report),
        )
        .route("/v1/audit/verify", get(get_verify))
        .route("/v1/audit/signals", get(get_signals))
        .route("/v1/audit/checkpoint", get(get_checkpoint))
        .route(
            "/v1/audit/checkpoints",
            get(get_checkpoints).post(post_checkpoint),
        )
        .route("/v1/audit/vkey", get(get_vkey))
        .route("/v1/audit/proofs/inclusion", get(get_inclusion_proof))
        .route("/v1/audit/proofs/consistency", get(get_consistency_proof))
}

#[utoipa::path(get, path = "/v1/audit/events", tag = "audit", security(("bearer" = [])), params(EventsQuery), responses((status = 200, description = "Events (JSON array, JSON lines or CSV by `format`)", content((Vec<Object> = "application/json"), (String = "application/x-ndjson"), (String = "text/csv")))))]
pub(super) async fn get_events(
    State(state): State<AppState>,
    caller: Caller,
    q: QueryResult<EventsQuery>,
) -> Result<Response, ApiError> {
    let q = query(
        q,
        "only org, user, case, client, action, outcome, from, to (RFC 3339 times), after and limit (whole numbers), format",
    )?;
    let (filter, format) = q.into_filter()?;
    let action = if format == "json" { "search" } else { "export" };
    auditor(&state, &caller, action).await?;
    let mut event = caller.event(action, "allowed");
    event.purpose = Some("supervision".into());
    event.case.clone_from(&filter.case);
    event.client.clone_from(&filter.client);
    event.reason = Some(format!("access log query ({format})"));
    state.store.record(event).await?;
    let names = state.store.user_names().await?;
    let mut filter = filter;
    // `user` is a user id or a login name.
    if let Some(user) = filter.user.as_mut() {
        if let Some((id, _)) = names.iter().find(|(_, name)| *name == user) {
            user.clone_from(id);
        }
    }
    let events = state.store.events(&filter).await?;
    Ok(events_answer(&format, &events, &names))
}

/// An event as the log's readers get it: with the user's login name beside the user id
/// (absent for a user deleted since).
#[derive(Serialize)]
struct Listed<'a> {
    #[serde(flatten)]
    event: &'a Event,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<&'a str>,
}

fn listed<'a>(events: &'a [Event], names: &'a BTreeMap<String, String>) -> Vec<Listed<'a>> {
    events
        .iter()
        .map(|event| Listed {
            event,
            user_name: event
                .user
                .as_ref()
                .and_then(|u| names.get(u))
                .map(String::as_str),
        })
        .collect()
}

impl EventsQuery {
    /// The store's filter and the answer's format. The filters name a case and a client only
    /// in the shapes the broker makes them, so a query cannot put other text into the log.
    fn into_filter(self) -> Result<(EventFilter, String), ApiError> {
        let format = self.format.unwrap_or_else(|| "json".to_owned());
        if !matches!(format.as_str(), "json" | "jsonl" | "csv") {
            return Err(ApiError::bad_request("format is one of: json, jsonl, csv"));
        }
        if (self.case.as_deref()).is_some_and(|c| uuid::Uuid::parse_str(c).is_err()) {
            return Err(ApiError::bad_request("`case` is a case id (a UUID)"));
        }
        if (self.client.as_deref()).is_some_and(|c| !crate::audit::is_pseudonym(c)) {
            return Err(ApiError::bad_request(
                "`client` is a client pseudonym: `p-` and 32 hex digits",
            ));
        }
        let filter = EventFilter {
            org: self.org,
            user: self.user,
            case: self.case,
            client: self.client,
            action: self.action,
            outcome: self.outcome,
            from: self.from,
            to: self.to,
            after: self.after,
            limit: self.limit,
        };
        Ok((filter, format))
    }
}

/// The events as JSON, JSON Lines or CSV.
fn events_answer(format: &str, events: &[Event], names: &BTreeMap<String, String>) -> Response {
    let events = listed(events, names);
    match format {
        "jsonl" => (
            [(header::CONTENT_TYPE, "application/jsonl")],
            events
                .iter()
                .map(|e| serde_json::to_string(e).unwrap_or_default() + "\n")
                .collect::<String>(),
        )
            .into_response(),
        "csv" => (
            [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
            to_csv(&events),
        )
            .into_response(),
        _ => Json(events).into_response(),
    }
}

/// Events as CSV (RFC 4180), one row each; lists joined with `;`.
fn to_csv(events: &[Listed<'_>]) -> String {
    let cell = |s: &str| {
        if s.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_owned()
        }
    };
    let opt = |s: &Option<String>| cell(s.as_deref().unwrap_or(""));
    let mut out = String::from(
        "seq,time,action,outcome,reason,user,user_name,role,org,on_behalf_of,purpose,case,client,fields,categories,recipients,consent,policy_rule,request_id,source,user_agent\n",
    );
    for listed in events {
        let e = listed.event;
        let row = [
            e.seq.to_string(),
            cell(&e.time),
            cell(&e.action),
            cell(&e.outcome),
            opt(&e.reason),
            opt(&e.user),
            cell(listed.user_name.unwrap_or("")),
            opt(&e.role),
            opt(&e.org),
            opt(&e.on_behalf_of),
            opt(&e.purpose),
            opt(&e.case),
            opt(&e.client),
            cell(&e.fields.join(";")),
            cell(&e.categories.join(";")),
            cell(&e.recipients.join(";")),
            opt(&e.consent),
            opt(&e.policy_rule),
            opt(&e.request_id),
            opt(&e.source),
            opt(&e.user_agent),
        ];
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ReportQuery {
    from: Option<String>,
    to: Option<String>,
}

/// One event of an access report with its inclusion proof.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ReportEntry {
    /// The event.
    #[schema(value_type = Object)]
    pub event: Event,
    /// Inclusion proof against the report's checkpoint, hex hashes.
    pub proof: Vec<String>,
    /// The login name of the event's user (absent for a user deleted since, or no user).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
}

/// The access report of one client (AVG art. 15): every access, provably from the log.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AccessReport {
    /// The client pseudonym.
    pub client: String,
    /// The checkpoint every proof is against.
    #[schema(value_type = Object)]
    pub checkpoint: Checkpoint,
    /// The events, oldest first.
    pub events: Vec<ReportEntry>,
}

#[utoipa::path(get, path = "/v1/audit/clients/{pseudonym}/report", tag = "audit", security(("bearer" = [])), params(("pseudonym" = String, Path, description = "Client pseudonym"), ReportQuery), responses((status = 200, description = "The client's access report with inclusion proofs", body = AccessReport)))]
pub(super) async fn get_client_report(
    State(state): State<AppState>,
    caller: Caller,
    Path(pseudonym): Path<String>,
    q: QueryResult<ReportQuery>,
) -> Result<Json<AccessReport>, ApiError> {
    let q = query(q, "only from and to (RFC 3339 times)")?;
    if !crate::audit::is_pseudonym(&pseudonym) {
        return Err(ApiError::bad_request(
            "a client pseudonym is `p-` and 32 hex digits",
        ));
    }
    auditor(&state, &caller, "export").await?;
    let mut event = caller.event("export", "allowed");
    event.client = Some(pseudonym.clone());
    event.purpose = Some("supervision".into());
    event.reason = Some("access report (AVG art. 15)".into());
    state.store.record(event).await?;
    let checkpoint = state.checkpoint().await?;
    let found = state
        .store
        .client_events(
            &pseudonym,
            checkpoint.size,
            q.from.as_deref(),
            q.to.as_deref(),
        )
        .await?;
    let seqs: Vec<u64> = found.iter().map(|e| e.seq as u64).collect();
    let proofs = state.store.inclusion_proofs(&seqs, checkpoint.size).await?;
    let names = state.store.user_names().await?;
    let events = found
        .into_iter()
        .zip(proofs)
        .map(|(event, proof)| ReportEntry {
            proof: proof.iter().map(hex::encode).collect(),
            user_name: event.user.as_ref().and_then(|u| names.get(u)).cloned(),
            event,
        })
        .collect();
    Ok(Json(AccessReport {
        client: pseudonym,
        checkpoint,
        events,
    }))
}

#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit", security(("bearer" = [])), responses((status = 200, description = "Verification of the whole log", body = Object)))]
pub(super) async fn get_verify(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<VerifyReport>, ApiError> {
    auditor(&state, &caller, "verify").await?;
    let mut event = caller.event("verify", "allowed");
    event.purpose = Some("supervision".into());
    state.store.record(event).await?;
    Ok(Json(state.store.verify_log(&state.verifier_keys()).await?))
}

#[utoipa::path(get, path = "/v1/audit/signals", tag = "audit", security(("bearer" = [])), responses((status = 200, description = "Signals for the privacy officer", body = Object)))]
pub(super) async fn get_signals(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<audit::Signals>, ApiError> {
    auditor(&state, &caller, "search").await?;
    let mut event = caller.event("search", "allowed");
    event.purpose = Some("supervision".into());
    event.reason = Some("access log signals".into());
    state.store.record(event).await?;
    let spec = &state.policy.audit;
    let mut signals = audit::SignalsBuilder::new(spec.office_hours, spec.distinct_clients_per_day);
    // A page at a time: memory stays flat however long the log is.
    let mut after = 0;
    loop {
        let page = state.store.audit_page(after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = last.event.seq;
        page.iter().for_each(|s| signals.add(&s.event));
    }
    Ok(Json(signals.finish()))
}

#[utoipa::path(post, path = "/v1/audit/checkpoints", tag = "audit", security(("bearer" = [])), responses((status = 200, description = "A checkpoint signed now", body = Object)))]
pub(super) async fn post_checkpoint(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Checkpoint>, ApiError> {
    auditor(&state, &caller, "checkpoint").await?;
    state
        .store
        .record(caller.event("checkpoint", "allowed"))
        .await?;
    Ok(Json(state.checkpoint().await?))
}

#[utoipa::path(get, path = "/v1/audit/checkpoint", tag = "audit", responses((status = 200, description = "The latest checkpoint note", body = String, content_type = "text/plain")))]
pub(super) async fn get_checkpoint(State(state): State<AppState>) -> Result<Response, ApiError> {
    let notes = state.store.checkpoint_notes().await?;
    let keys = state.verifier_keys();
    let latest = notes
        .iter()
        .filter_map(|n| audit::open_checkpoint_any(n, &keys).ok())
        .max_by_key(|cp| (cp.size, cp.time))
        .ok_or_else(|| ApiError::not_found("no checkpoint has been signed yet"))?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        latest.note,
    )
        .into_response())
}

#[utoipa::path(get, path = "/v1/audit/checkpoints", tag = "audit", responses((status = 200, description = "Every checkpoint note", body = Vec<String>)))]
pub(super) async fn get_checkpoints(
    State(state): State<AppState>,
) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(state.store.checkpoint_notes().await?))
}

#[utoipa::path(get, path = "/v1/audit/vkey", tag = "audit", responses((status = 200, description = "The log's note verifier key", body = String, content_type = "text/plain")))]
pub(super) async fn get_vkey(State(state): State<AppState>) -> Response {
    let key = state.signing.verifier_key(&state.log_origin).to_vkey();
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{key}\n"),
    )
        .into_response()
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct InclusionQuery {
    seq: u64,
    size: u64,
}

/// A proof as served: hex hashes.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ProofBody {
    /// Sequence number (inclusion) or old size (consistency).
    pub from: u64,
    /// Tree size the proof is against.
    pub size: u64,
    /// Root of that tree, hex.
    pub root: String,
    /// The proof's hashes, hex.
    pub hashes: Vec<String>,
}

/// Refuses a tree size the log has not reached.
async fn check_size(state: &AppState, size: u64) -> Result<(), ApiError> {
    let have = state.store.audit_size().await?;
    if size == 0 || size > have {
        return Err(ApiError::unprocessable(format!(
            "the log has {have} events; size must be 1 to that"
        )));
    }
    Ok(())
}

#[utoipa::path(get, path = "/v1/audit/proofs/inclusion", tag = "audit", params(InclusionQuery), responses((status = 200, description = "An inclusion proof", body = ProofBody)))]
pub(super) async fn get_inclusion_proof(
    State(state): State<AppState>,
    q: QueryResult<InclusionQuery>,
) -> Result<Json<ProofBody>, ApiError> {
    let q = query(q, "seq and size, both whole numbers")?;
    check_size(&state, q.size).await?;
    if q.seq == 0 || q.seq > q.size {
        return Err(ApiError::unprocessable("seq must be from 1 to size"));
    }
    let hashes = state.store.inclusion_proof(q.seq, q.size).await?;
    Ok(Json(ProofBody {
        from: q.seq,
        size: q.size,
        root: hex::encode(state.store.tree_root(q.size).await?),
        hashes: hashes.iter().map(hex::encode).collect(),
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsistencyQuery {
    from: u64,
    to: u64,
}

#[utoipa::path(get, path = "/v1/audit/proofs/consistency", tag = "audit", params(ConsistencyQuery), responses((status = 200, description = "A consistency proof", body = ProofBody)))]
pub(super) async fn get_consistency_proof(
    State(state): State<AppState>,
    q: QueryResult<ConsistencyQuery>,
) -> Result<Json<ProofBody>, ApiError> {
    let q = query(q, "from and to, both whole numbers")?;
    check_size(&state, q.to).await?;
    if q.from == 0 || q.from > q.to {
        return Err(ApiError::unprocessable("from must be from 1 to `to`"));
    }
    let hashes = state.store.consistency_proof(q.from, q.to).await?;
    Ok(Json(ProofBody {
        from: q.from,
        size: q.to,
        root: hex::encode(state.store.tree_root(q.to).await?),
        hashes: hashes.iter().map(hex::encode).collect(),
    }))
}

/// A client's identifier (the BSN), to be turned into the pseudonym the access log keys the
/// client by.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct PseudonymRequest {
    /// The client identifier as the registration form takes it (policy `[audit]
    /// client_identifier`, the BSN); it is never logged or stored.
    #[schema(value_type = String)]
    identifier: crate::form::FieldValue,
}

/// The pseudonym of a client identifier.
#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct PseudonymAnswer {
    /// `p-` and 32 hex digits: what `GET /v1/audit/clients/{pseudonym}/report` takes.
    pseudonym: String,
}

#[utoipa::path(post, path = "/v1/audit/pseudonyms", tag = "audit", security(("bearer" = [])), request_body = PseudonymRequest, responses((status = 200, description = "The client's pseudonym (the identifier is not logged)", body = PseudonymAnswer)))]
/// The privacy officer looks a client up by the identifier typed in (the BSN): the broker turns
/// it into the pseudonym with the same secret and the same form as at registration. The
/// look-up is an event of its own, naming the pseudonym; the identifier is never logged.
pub(super) async fn post_pseudonym(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<PseudonymRequest>,
) -> Result<Json<PseudonymAnswer>, ApiError> {
    auditor(&state, &caller, "search").await?;
    let id_field = &state.policy.audit.client_identifier;
    let spec = (state.policy.field(id_field))
        .ok_or_else(|| ApiError::unprocessable("the policy names no client identifier field"))?;
    let plaintext = crate::form::to_plaintext(spec, &req.identifier).map_err(|mut p| {
        p.field = "identifier".into();
        ApiError::invalid_fields(vec![p])
    })?;
    drop(req);
    let pseudonym = state.pseudonyms.pseudonym(plaintext.expose());
    let mut event = caller.event("search", "allowed");
    event.purpose = Some("supervision".into());
    event.client = Some(pseudonym.clone());
    event.reason = Some("client pseudonym look-up".into());
    state.store.record(event).await?;
    Ok(Json(PseudonymAnswer { pseudonym }))
}
