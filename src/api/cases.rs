//! Case endpoints: submit, read metadata, re-share, download a slice. Every one authorises per
//! case and writes its access event — in the same transaction as what it records.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson, AppState, Caller};
use crate::audit::Event;
use crate::cases::{self, ShareItem, State as CaseState};
use crate::consent::{ConsentRecord, Declaration};
use crate::form::{self, FieldValue, FieldValues};
use crate::policy::Policy;
use crate::sealing::{self, Plaintext, Recipient, SealJob};
use crate::store::{
    Case, CaseFacts, CaseParty, MonitorDeclaration, NewSealedField, Organisation, SealedField,
};

/// The field that holds the signed consent declaration.
pub(super) const CONSENT_DOCUMENT: &str = "consent_document";

#[utoipa::path(get, path = "/v1/policy", tag = "policy", responses((status = 200, description = "The policy the broker enforces (as `sluis policy show --json`)", body = Object)))]
pub(super) async fn get_policy(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(state.policy.to_json())
}

#[utoipa::path(get, path = "/v1/organisations", tag = "organisations", security(("bearer" = [])), responses((status = 200, description = "Enrolled organisations with role and recipient", body = Vec<Organisation>)))]
pub(super) async fn get_organisations(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<Organisation>>, ApiError> {
    Ok(Json(state.store.organisations().await?))
}

/// Looks up a case the caller's organisation is a party to. Anything else — a case that does
/// not exist, or one the caller is no party to — is the same 404, and a denied event.
pub(super) async fn case_for(
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

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct CaseView {
    #[serde(flatten)]
    case: Case,
    parties: Vec<CaseParty>,
    /// The states the case passed, in order.
    states: Vec<String>,
}

#[utoipa::path(get, path = "/v1/cases", tag = "cases", security(("bearer" = [])), responses((status = 200, description = "Cases the caller's organisation is a party to", body = Vec<Case>)))]
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

#[utoipa::path(get, path = "/v1/cases/{id}", tag = "cases", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), responses((status = 200, description = "Case metadata, parties and states", body = CaseView)))]
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
    let states = state.store.states(&case.id).await?;
    Ok(Json(CaseView {
        case,
        parties,
        states,
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SubmitRequest {
    form: String,
    /// Field id → value (string, whole number, boolean or list of strings; documents base64).
    #[schema(value_type = Object)]
    fields: FieldValues,
    consent: ConsentInput,
    /// The coded facts for the annual monitor (art. 17); kept unsealed, shown only in
    /// suppressed aggregates.
    #[serde(default)]
    monitor: Option<MonitorInput>,
}

/// The coded facts a care organisation declares for the monitor.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MonitorInput {
    /// One of the policy's `[monitor] client_groups` (e.g. `mo`, `bw`, `jeugd_18plus`, `oud_amv`).
    client_group: Option<String>,
    /// A municipality of the region (organisation id) or the policy's `origin_elsewhere`.
    origin_municipality: Option<String>,
}

impl MonitorInput {
    /// Checks the codes against the policy; names the key that is wrong, never its value.
    fn declaration(self, policy: &Policy) -> Result<MonitorDeclaration, ApiError> {
        let mut problems = Vec::new();
        if let Some(g) = &self.client_group
            && !policy.monitor.client_groups.contains(g)
        {
            problems.push(form::FieldProblem {
                field: "monitor.client_group".into(),
                problem: format!(
                    "must be one of: {}",
                    policy.monitor.client_groups.join(", ")
                ),
            });
        }
        if let Some(o) = &self.origin_municipality
            && *o != policy.monitor.origin_elsewhere
            && policy
                .parties
                .get(o)
                .is_none_or(|p| p.role != "municipality")
        {
            problems.push(form::FieldProblem {
                field: "monitor.origin_municipality".into(),
                problem: format!(
                    "must be a municipality of the region (an organisation id) or `{}`",
                    policy.monitor.origin_elsewhere
                ),
            });
        }
        if problems.is_empty() {
            Ok(MonitorDeclaration {
                client_group: self.client_group,
                origin_municipality: self.origin_municipality,
            })
        } else {
            Err(ApiError::invalid_fields(problems))
        }
    }
}

/// The consent declaration sent with a submission: what the client signed, and the scan.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsentInput {
    signed_on: String,
    valid_until: String,
    roles: Vec<String>,
    categories: Vec<String>,
    /// The signed declaration (PDF or image), base64.
    #[schema(value_type = String)]
    document: FieldValue,
}

/// Today's date in UTC by the store's clock, `YYYY-MM-DD`.
pub(super) fn today(state: &AppState) -> String {
    state.store.clock().now_text()[..10].to_owned()
}

/// Seal jobs, with each job's field and recipient organisations, and what was withheld.
pub(super) type SealingPlan = (Vec<SealJob>, Vec<(String, Vec<String>)>, Vec<String>);

/// Which entitled parties get each field: the policy's entitled organisations whose role the
/// consent covers for the field's category. `strict` refuses (403, naming the missing consent)
/// when an entitled party is not covered; otherwise such parties are left out and listed.
pub(super) fn plan_sealing(
    policy: &Policy,
    parties: &[(String, String)],
    consent: &ConsentRecord,
    plaintexts: Vec<(String, Plaintext)>,
    keys: &BTreeMap<&str, &str>,
    strict: bool,
    today: &str,
) -> Result<SealingPlan, ApiError> {
    let mut jobs = Vec::with_capacity(plaintexts.len());
    let mut meta = Vec::with_capacity(plaintexts.len());
    let mut withheld = Vec::new();
    for (field, plaintext) in plaintexts {
        let category = &policy.fields[&field].category;
        let mut orgs = Vec::new();
        for org in policy.entitled(&field, parties) {
            let role = &parties
                .iter()
                .find(|(o, _)| o == org)
                .expect("entitled orgs are parties")
                .1;
            match consent.missing(role, category, today) {
                None => orgs.push(org.to_owned()),
                Some(reason) if strict => {
                    return Err(ApiError::forbidden(format!(
                        "field `{field}` cannot be sealed for `{org}`: {reason}"
                    )));
                }
                Some(_) => withheld.push(format!("{field} for {org}")),
            }
        }
        if orgs.is_empty() {
            continue;
        }
        let recipients = recipients_of(&orgs, keys)?;
        jobs.push(SealJob {
            plaintext,
            recipients,
        });
        meta.push((field, orgs));
    }
    Ok((jobs, meta, withheld))
}

#[derive(Serialize, utoipa::ToSchema)]
pub(super) struct Submitted {
    id: String,
    state: String,
    parties: Vec<CaseParty>,
    /// Field id → the organisations it was sealed to.
    sealed: BTreeMap<String, Vec<String>>,
}

pub(super) fn categories_of(policy: &Policy, fields: &[String]) -> Vec<String> {
    let set: BTreeSet<&str> = fields
        .iter()
        .filter_map(|f| policy.field(f))
        .map(|f| f.category.as_str())
        .collect();
    set.into_iter().map(str::to_owned).collect()
}

#[utoipa::path(post, path = "/v1/cases", tag = "cases", security(("bearer" = [])), request_body = SubmitRequest, responses((status = 201, description = "Registered: sealed per entitled party", body = Submitted)))]
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
    let monitor = match req.monitor {
        Some(m) => m.declaration(policy)?,
        None => MonitorDeclaration::default(),
    };
    let mut plaintexts = form::validate_form(policy, &req.form, &req.fields, true)
        .map_err(ApiError::invalid_fields)?;
    drop(req.fields);
    let declaration = Declaration {
        signed_on: req.consent.signed_on,
        valid_until: req.consent.valid_until,
        roles: req.consent.roles,
        categories: req.consent.categories,
    };
    declaration
        .validate(policy, &today(&state))
        .map_err(ApiError::unprocessable)?;
    let document_spec = policy
        .field(CONSENT_DOCUMENT)
        .ok_or_else(|| ApiError::unprocessable("the policy has no `consent_document` field"))?;
    let document = form::to_plaintext(document_spec, &req.consent.document).map_err(|mut p| {
        p.field = "consent.document".into();
        ApiError::invalid_fields(vec![p])
    })?;
    drop(req.consent.document);
    let document_sha256 = hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        document.expose(),
    ));
    plaintexts.push((CONSENT_DOCUMENT.to_owned(), document));
    let client = plaintexts
        .iter()
        .find(|(id, _)| *id == policy.audit.client_identifier)
        .map(|(_, p)| state.pseudonyms.pseudonym(p.expose()));
    let now = state.store.clock().now_text();
    let case_id = uuid::Uuid::new_v4().to_string();
    let consent = ConsentRecord {
        id: uuid::Uuid::new_v4().to_string(),
        case_id: case_id.clone(),
        client: client.clone(),
        signed_on: declaration.signed_on,
        valid_until: declaration.valid_until,
        purpose: policy.consent.purpose.clone(),
        roles: declaration.roles,
        categories: declaration.categories,
        document_sha256,
        status: "active".into(),
        recorded_at: now.clone(),
        recorded_by_user: caller.user_id.clone(),
        recorded_by_org: caller.org_id.clone(),
        withdrawn_at: None,
        withdrawn_by_user: None,
        withdrawn_by_org: None,
    };
    let keys = recipient_keys(&enrolled);
    let (jobs, meta, _) = match plan_sealing(
        policy,
        &parties,
        &consent,
        plaintexts,
        &keys,
        true,
        &today(&state),
    ) {
        Ok(plan) => plan,
        Err(e) => {
            return Err(caller
                .deny(&state, attempt, "consent does not cover the submission", e)
                .await);
        }
    };
    let sealed = seal_off_thread(jobs, meta, policy).await?;

    let case = Case {
        id: case_id,
        form: req.form,
        state: CaseState::Registered.as_str().to_owned(),
        created_by: caller.org_id.clone(),
        created_at: now.clone(),
        updated_at: now.clone(),
        client_pseudonym: client.clone(),
        facts: CaseFacts::default(),
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
    event.fields = sealed.iter().map(|f| f.field_id.clone()).collect();
    event.categories = categories_of(policy, &event.fields);
    event.recipients = party_rows.iter().map(|p| p.org_id.clone()).collect();
    event.policy_rule = Some(format!(
        "submission of `{}` by role `{}` ({})",
        case.form, caller.org_role, policy.version
    ));
    event.consent = Some(consent.id.clone());
    state
        .store
        .create_case(&case, &party_rows, &sealed, &consent, &monitor, event)
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

pub(super) fn recipient_keys<'a>(
    orgs: impl IntoIterator<Item = &'a Organisation>,
) -> BTreeMap<&'a str, &'a str> {
    orgs.into_iter()
        .filter_map(|o| o.recipient.as_deref().map(|r| (o.id.as_str(), r)))
        .collect()
}

pub(super) fn recipients_of(
    orgs: &[String],
    keys: &BTreeMap<&str, &str>,
) -> Result<Vec<Recipient>, ApiError> {
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
pub(super) async fn seal_off_thread(
    jobs: Vec<SealJob>,
    meta: Vec<(String, Vec<String>)>,
    policy: &Policy,
) -> Result<Vec<NewSealedField>, ApiError> {
    let count = jobs.len();
    let ciphertexts = tokio::task::spawn_blocking(move || sealing::seal_all(jobs))
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))?;
    crate::telemetry::record_sealed(count);
    Ok(meta
        .into_iter()
        .zip(ciphertexts)
        .map(|((field_id, recipients), ciphertext)| NewSealedField {
            id: uuid::Uuid::new_v4().to_string(),
            category: policy.fields[&field_id].category.clone(),
            field_id,
            ciphertext,
            chunked: false,
            policy_version: policy.version.clone(),
            recipients,
        })
        .collect())
}

/// Checks that active consent covers every recipient's role for every shared field.
pub(super) fn consent_covers_shares(
    policy: &Policy,
    consent: &ConsentRecord,
    items: &[ShareItem],
    orgs: &BTreeMap<String, Organisation>,
    today: &str,
) -> Result<(), String> {
    for item in items {
        for org in &item.recipients {
            let Some(role) = orgs.get(org).map(|o| o.role.as_str()) else {
                continue;
            };
            for field in &item.fields {
                let Some(spec) = policy.field(field) else {
                    continue;
                };
                if let Some(reason) = consent.missing(role, &spec.category, today) {
                    return Err(format!(
                        "field `{field}` cannot be shared with `{org}`: {reason}"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The field ids and recipients of share items, for the policy check.
pub(super) fn share_items(shares: &[ShareRequestItem]) -> Vec<ShareItem> {
    shares
        .iter()
        .map(|s| ShareItem {
            recipients: s.recipients.clone(),
            fields: s.fields.0.iter().map(|(k, _)| k.clone()).collect(),
        })
        .collect()
}

/// Validates each share item's values and seals each field to exactly that item's recipients.
pub(super) async fn seal_shares(
    policy: &Policy,
    shares: &[ShareRequestItem],
    keys: &BTreeMap<&str, &str>,
) -> Result<Vec<NewSealedField>, ApiError> {
    let mut jobs = Vec::new();
    let mut meta = Vec::new();
    for item in shares {
        let plaintexts =
            form::validate_fields(policy, &item.fields).map_err(ApiError::invalid_fields)?;
        let mut to = item.recipients.clone();
        to.sort();
        to.dedup();
        let keys_for = recipients_of(&to, keys)?;
        for (field, plaintext) in plaintexts {
            jobs.push(SealJob {
                plaintext,
                recipients: keys_for.clone(),
            });
            meta.push((field, to.clone()));
        }
    }
    seal_off_thread(jobs, meta, policy).await
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

#[utoipa::path(post, path = "/v1/cases/{id}/shares", tag = "cases", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)")), request_body = ShareRequest, responses((status = 200, description = "Re-shared", body = Shared)))]
pub(super) async fn post_shares(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<ShareRequest>,
) -> Result<Json<Shared>, ApiError> {
    let policy = &state.policy;
    let items = share_items(&req.shares);
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
    if CaseState::parse(&case.state).is_none_or(CaseState::is_final) {
        let reason = format!(
            "a case in state `{}` is shared with nobody any more",
            case.state
        );
        return Err(caller
            .deny(&state, attempt, &reason, ApiError::conflict(reason.clone()))
            .await);
    }
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
    let Some(consent) = state.store.consent(&case.id).await? else {
        return Err(caller
            .deny(
                &state,
                attempt,
                "no consent record",
                ApiError::forbidden("the case has no consent record"),
            )
            .await);
    };
    if let Err(reason) = consent_covers_shares(policy, &consent, &items, &orgs, &today(&state)) {
        return Err(caller
            .deny(
                &state,
                attempt,
                &reason,
                ApiError::forbidden(reason.clone()),
            )
            .await);
    }
    attempt.consent = Some(consent.id.clone());
    let plan = match cases::plan_share(
        policy,
        &caller.org_role,
        &parties,
        &items,
        &orgs,
        &BTreeSet::new(),
    ) {
        Ok(plan) => plan,
        Err(e @ cases::CaseError::Forbidden(_)) => {
            return Err(caller.deny(&state, attempt, &e.to_string(), e.into()).await);
        }
        Err(e) => return Err(e.into()),
    };

    let sealed = seal_shares(policy, &req.shares, &recipient_keys(orgs.values())).await?;
    drop(req);
    let now = state.store.clock().now_text();
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
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SliceField {
    /// The age file's id (what a rekey names).
    #[serde(default)]
    pub id: String,
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
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Slice {
    /// Case id.
    pub case: String,
    /// The caller's organisation.
    pub organisation: String,
    /// The case's state.
    pub state: String,
    /// The sealed fields, by field id.
    pub fields: Vec<SliceField>,
    /// Categories sealed to the organisation that consent no longer lets it download.
    #[serde(default)]
    pub withheld: Vec<Withheld>,
}

/// A category held back from a slice, and why.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Withheld {
    /// The category.
    pub category: String,
    /// The missing consent.
    pub reason: String,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct SliceQuery {
    purpose: Option<String>,
}

/// What consent lets an organisation download of a case's slice.
struct SliceRule {
    consent: Option<ConsentRecord>,
    today: String,
    org_role: String,
    /// Categories that stay downloadable after withdrawal (policy).
    retained: Vec<String>,
    policy_version: String,
}

impl SliceRule {
    /// Why consent holds back a category, if it does. The declaration itself stays
    /// downloadable for its holders after withdrawal: its basis then is AVG art. 7(1)
    /// (demonstrating the consent that was given), not the consent.
    fn missing(&self, category: &str) -> Option<String> {
        match &self.consent {
            _ if self.retained.iter().any(|r| r == category) => None,
            Some(c) => c.missing(&self.org_role, category, &self.today),
            None => Some("the case has no consent record".to_owned()),
        }
    }

    /// The categories of `fields` held back, with the reason.
    fn withheld(&self, fields: &[SealedField]) -> Vec<Withheld> {
        let cats: BTreeSet<&str> = fields.iter().map(|f| f.category.as_str()).collect();
        cats.into_iter()
            .filter_map(|c| {
                self.missing(c).map(|reason| Withheld {
                    category: c.to_owned(),
                    reason,
                })
            })
            .collect()
    }

    /// Why nothing at all may be served to the organisation, if so.
    fn blocked(&self) -> Option<String> {
        match &self.consent {
            None => Some("the case has no consent record".to_owned()),
            Some(c) if c.status != "active" => {
                Some(format!("the client's consent {} was withdrawn", c.id))
            }
            Some(c) if !c.roles.contains(&self.org_role) => Some(format!(
                "the client's consent does not cover recipient role `{}`",
                self.org_role
            )),
            Some(_) => None,
        }
    }

    /// The download's event for what was read: the fields served, or a denial if nothing
    /// may be (nothing left to serve because consent no longer covers the organisation at
    /// all, e.g. withdrawn and its ciphertexts deleted, is a refusal, not an empty slice).
    fn describe(&self, fields: &[SealedField], mut event: Event) -> Event {
        let withheld = self.withheld(fields);
        let served: Vec<&SealedField> = fields
            .iter()
            .filter(|f| !withheld.iter().any(|w| w.category == f.category))
            .collect();
        let blocked = withheld
            .first()
            .map(|w| w.reason.clone())
            .or_else(|| self.blocked());
        if served.is_empty() && blocked.is_some() {
            event.outcome = "denied".into();
            event.reason = blocked;
            return event;
        }
        event.fields = served.iter().map(|f| f.field_id.clone()).collect();
        let served_cats: BTreeSet<&str> = served.iter().map(|f| f.category.as_str()).collect();
        event.categories = served_cats.into_iter().map(str::to_owned).collect();
        event.policy_rule = Some(format!(
            "slice sealed to the organisation ({})",
            self.policy_version
        ));
        event
    }
}

#[utoipa::path(get, path = "/v1/cases/{id}/slice", tag = "cases", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)"), SliceQuery), responses((status = 200, description = "The caller's sealed fields", body = Slice)))]
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
    let consent = state.store.consent(&case.id).await?;
    attempt.consent = consent.as_ref().map(|c| c.id.clone());
    let rule = Arc::new(SliceRule {
        today: today(&state),
        org_role: caller.org_role.clone(),
        retained: state.policy.consent.retained_after_withdrawal.clone(),
        policy_version: state.policy.version.clone(),
        consent,
    });
    // One read, in the transaction of its event: what consent no longer lets the organisation
    // download is held back, and if that is everything the event is a denial.
    let (fields, event) = state
        .store
        .slice_recorded(
            &id,
            &caller.org_id,
            Box::new({
                let rule = Arc::clone(&rule);
                move |fields, event| rule.describe(fields, event)
            }),
            attempt,
        )
        .await?;
    if event.outcome == "denied" {
        return Err(ApiError::forbidden(event.reason.unwrap_or_default()));
    }
    crate::telemetry::record_slice_served(event.fields.len());
    let withheld = rule.withheld(&fields);
    let withheld_categories: BTreeSet<String> =
        withheld.iter().map(|w| w.category.clone()).collect();
    let fields = fields
        .into_iter()
        .filter(|f| !withheld_categories.contains(&f.category))
        .map(|f| SliceField {
            id: f.id,
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
        withheld,
    }))
}
