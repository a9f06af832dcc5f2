//! Case endpoints: submit, read metadata, re-share, download a slice. Every one authorises per
//! case and writes its access event — in the same transaction as what it records.

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, AppState, Caller};
use crate::audit::Event;
use crate::cases::{self, ShareItem};
use crate::form::{self, FieldValues};
use crate::policy::Policy;
use crate::sealing::{self, Plaintext, Recipient, SealJob};
use crate::store::{Case, CaseParty, NewSealedField, Organisation, now_text};

pub(super) async fn get_policy(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.policy.to_json())
}

pub(super) async fn get_organisations(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<Organisation>>, ApiError> {
    Ok(Json(state.store.organisations().await?))
}

/// Looks up a case the caller's organisation is a party to. Anything else — a case that does
/// not exist, or one the caller is no party to — is the same 404, and a denied event.
async fn case_for(
    state: &AppState,
    caller: &Caller,
    id: &str,
    attempt: Event,
) -> Result<(Case, Vec<CaseParty>), ApiError> {
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(ApiError::bad_request("a case id is a UUID"));
    }
    let not_found = || {
        ApiError::not_found(format!(
            "no case `{id}` that your organisation is a party to"
        ))
    };
    let mut attempt = attempt;
    attempt.case = Some(id.to_owned());
    let Some(case) = state.store.case(id).await? else {
        return Err(caller
            .deny(state, attempt, "no such case", not_found())
            .await);
    };
    let parties = state.store.parties(id).await?;
    if cases::party_of(&parties, &caller.org_id).is_none() {
        attempt.client.clone_from(&case.client_pseudonym);
        return Err(caller
            .deny(state, attempt, "not a party to the case", not_found())
            .await);
    }
    Ok((case, parties))
}

#[derive(Serialize)]
pub(super) struct CaseView {
    #[serde(flatten)]
    case: Case,
    parties: Vec<CaseParty>,
}

pub(super) async fn get_cases(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<Case>>, ApiError> {
    let cases = state.store.cases_of(&caller.org_id).await?;
    let mut event = caller.event("search", "allowed");
    event.reason = Some(format!("listed {} cases", cases.len()));
    state.store.record(event).await?;
    Ok(Json(cases))
}

pub(super) async fn get_case(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<CaseView>, ApiError> {
    let (case, parties) = case_for(&state, &caller, &id, caller.event("read", "allowed")).await?;
    let mut event = caller.event("read", "allowed");
    event.case = Some(case.id.clone());
    event.client.clone_from(&case.client_pseudonym);
    event.reason = Some("case metadata".into());
    state.store.record(event).await?;
    Ok(Json(CaseView { case, parties }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SubmitRequest {
    form: String,
    fields: FieldValues,
}

#[derive(Serialize)]
pub(super) struct Submitted {
    id: String,
    state: String,
    parties: Vec<CaseParty>,
    /// Field id → the organisations it was sealed to.
    sealed: BTreeMap<String, Vec<String>>,
}

fn categories_of(policy: &Policy, fields: &[String]) -> Vec<String> {
    let set: BTreeSet<&str> = fields
        .iter()
        .filter_map(|f| policy.field(f))
        .map(|f| f.category.as_str())
        .collect();
    set.into_iter().map(str::to_owned).collect()
}

pub(super) async fn post_case(
    State(state): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<SubmitRequest>,
) -> Result<(StatusCode, Json<Submitted>), ApiError> {
    let policy = &state.policy;
    let mut attempt = caller.event("create", "allowed");
    attempt.purpose = Some("registration".into());
    attempt.fields = req
        .fields
        .0
        .iter()
        .map(|(k, _)| k.clone())
        .filter(|k| policy.field(k).is_some())
        .collect();
    attempt.categories = categories_of(policy, &attempt.fields);
    if !caller.acts_for_org() {
        let reason = format!("role `{}` does not submit cases", caller.role);
        return Err(caller
            .deny(
                &state,
                attempt,
                &reason,
                ApiError::forbidden(reason.clone()),
            )
            .await);
    }
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
    let parties = match cases::submission_parties(policy, &req.form, submitter, &enrolled) {
        Ok(p) => p,
        Err(e @ cases::CaseError::Forbidden(_)) => {
            return Err(caller.deny(&state, attempt, &e.to_string(), e.into()).await);
        }
        Err(e) => return Err(e.into()),
    };
    let plaintexts = form::validate_form(policy, &req.form, &req.fields, true)
        .map_err(ApiError::invalid_fields)?;
    drop(req.fields);
    let client = plaintexts
        .iter()
        .find(|(id, _)| *id == policy.audit.client_identifier)
        .map(|(_, p)| state.pseudonyms.pseudonym(p.expose()));

    let keys = recipient_keys(&enrolled);
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
    let sealed = seal_off_thread(jobs, meta, policy).await?;

    let now = now_text();
    let case = Case {
        id: uuid::Uuid::new_v4().to_string(),
        form: req.form,
        state: cases::REGISTERED.to_owned(),
        created_by: caller.org_id.clone(),
        created_at: now.clone(),
        updated_at: now.clone(),
        client_pseudonym: client.clone(),
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
    let mut event = attempt;
    event.case = Some(case.id.clone());
    event.client = client;
    event.recipients = party_rows.iter().map(|p| p.org_id.clone()).collect();
    event.policy_rule = Some(format!(
        "submission of `{}` by role `{}` ({})",
        case.form, caller.org_role, policy.version
    ));
    state
        .store
        .create_case(&case, &party_rows, &sealed, event)
        .await?;
    tracing::info!(case = %case.id, org = %caller.org_id, fields = sealed.len(), "case submitted");
    Ok((
        StatusCode::CREATED,
        Json(Submitted {
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

fn recipient_keys<'a>(
    orgs: impl IntoIterator<Item = &'a Organisation>,
) -> BTreeMap<&'a str, &'a str> {
    orgs.into_iter()
        .filter_map(|o| o.recipient.as_deref().map(|r| (o.id.as_str(), r)))
        .collect()
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
pub(super) struct ShareRequest {
    shares: Vec<ShareRequestItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ShareRequestItem {
    recipients: Vec<String>,
    fields: FieldValues,
}

#[derive(Serialize)]
pub(super) struct Shared {
    id: String,
    new_parties: Vec<CaseParty>,
    sealed: Vec<SharedField>,
}

#[derive(Serialize)]
pub(super) struct SharedField {
    field: String,
    recipients: Vec<String>,
}

pub(super) async fn post_shares(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ShareRequest>,
) -> Result<Json<Shared>, ApiError> {
    let policy = &state.policy;
    let items: Vec<ShareItem> = req
        .shares
        .iter()
        .map(|s| ShareItem {
            recipients: s.recipients.clone(),
            fields: s.fields.0.iter().map(|(k, _)| k.clone()).collect(),
        })
        .collect();
    let mut attempt = caller.event("share", "allowed");
    attempt.purpose = Some("referral".into());
    let field_ids: BTreeSet<String> = items
        .iter()
        .flat_map(|i| i.fields.iter())
        .filter(|f| policy.field(f).is_some())
        .cloned()
        .collect();
    attempt.fields = field_ids.into_iter().collect();
    attempt.categories = categories_of(policy, &attempt.fields);
    let recipients: BTreeSet<String> = items
        .iter()
        .flat_map(|i| i.recipients.iter())
        .cloned()
        .collect();
    attempt.recipients = recipients.into_iter().collect();

    let (case, parties) = case_for(&state, &caller, &id, attempt.clone()).await?;
    attempt.client.clone_from(&case.client_pseudonym);
    attempt.case = Some(case.id.clone());
    if !caller.acts_for_org() {
        let reason = format!("role `{}` does not share case content", caller.role);
        return Err(caller
            .deny(
                &state,
                attempt,
                &reason,
                ApiError::forbidden(reason.clone()),
            )
            .await);
    }
    let orgs: BTreeMap<String, Organisation> = state
        .store
        .organisations()
        .await?
        .into_iter()
        .map(|o| (o.id.clone(), o))
        .collect();
    let plan = match cases::plan_share(policy, &caller.org_role, &parties, &items, &orgs) {
        Ok(plan) => plan,
        Err(e @ cases::CaseError::Forbidden(_)) => {
            return Err(caller.deny(&state, attempt, &e.to_string(), e.into()).await);
        }
        Err(e) => return Err(e.into()),
    };

    let keys = recipient_keys(orgs.values());
    let mut jobs = Vec::new();
    let mut meta = Vec::new();
    for item in &req.shares {
        let plaintexts: Vec<(String, Plaintext)> =
            form::validate_fields(policy, &item.fields).map_err(ApiError::invalid_fields)?;
        let mut to: Vec<String> = item.recipients.clone();
        to.sort();
        to.dedup();
        let keys_for = recipients_of(&to, &keys)?;
        for (field, plaintext) in plaintexts {
            jobs.push(SealJob {
                plaintext,
                recipients: keys_for.clone(),
            });
            meta.push((field, to.clone()));
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
    attempt.policy_rule = Some(format!(
        "re-share by role `{}` ({})",
        caller.org_role, policy.version
    ));
    state
        .store
        .add_share(&id, &caller.org_id, &new_parties, &sealed, attempt)
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SliceQuery {
    purpose: Option<String>,
}

pub(super) async fn get_slice(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<SliceQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Slice>, ApiError> {
    let known = || {
        state
            .policy
            .purposes
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    let purpose = match query {
        Ok(Query(SliceQuery { purpose: Some(p) })) if state.policy.purposes.contains_key(&p) => p,
        Ok(Query(SliceQuery { purpose: Some(_) })) => {
            return Err(ApiError::bad_request(format!(
                "unknown purpose; one of: {}",
                known()
            )));
        }
        _ => {
            return Err(ApiError::bad_request(format!(
                "say why you open this slice: `?purpose=` one of: {}",
                known()
            )));
        }
    };
    let mut attempt = caller.event("read", "allowed");
    attempt.purpose = Some(purpose);
    let (case, _) = case_for(&state, &caller, &id, attempt.clone()).await?;
    attempt.case = Some(case.id.clone());
    attempt.client.clone_from(&case.client_pseudonym);
    if !caller.acts_for_org() {
        let reason = format!("role `{}` sees no field values", caller.role);
        return Err(caller
            .deny(
                &state,
                attempt,
                &reason,
                ApiError::forbidden(reason.clone()),
            )
            .await);
    }
    let policy_version = state.policy.version.clone();
    let (fields, _) = state
        .store
        .slice_recorded(
            &id,
            &caller.org_id,
            |fields, mut event| {
                event.fields = fields.iter().map(|f| f.field_id.clone()).collect();
                let cats: BTreeSet<&str> = fields.iter().map(|f| f.category.as_str()).collect();
                event.categories = cats.into_iter().map(str::to_owned).collect();
                event.policy_rule = Some(format!(
                    "slice sealed to the organisation ({policy_version})"
                ));
                event
            },
            attempt,
        )
        .await?;
    let fields = fields
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
