//! Downloads: an organisation's slice of a case — only the age files sealed to it, and only
//! what consent still lets it download — read in one transaction with its access event.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;

use super::access::own_case;
use super::{ApiError, AppState, Caller};
use crate::cases::{Case, SealedField, Slice, SliceField, lifecycle};
use crate::consent::ReleaseRule;
use crate::policy::Policy;

/// The routes of this module.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/cases/{id}/slice", get(get_slice))
        .route("/v1/cases/names", get(get_names))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct SliceQuery {
    purpose: Option<String>,
}

/// The purpose the caller states for opening a slice: one of the policy's purposes.
fn slice_purpose(
    policy: &Policy,
    query: Result<Query<SliceQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<String, ApiError> {
    let known = || {
        policy
            .purposes
            .keys()
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    };
    match query {
        Ok(Query(SliceQuery { purpose: Some(p) })) if policy.purposes.contains_key(&p) => Ok(p),
        Ok(Query(SliceQuery { purpose: Some(_) })) => Err(ApiError::bad_request(format!(
            "unknown purpose; one of: {}",
            known()
        ))),
        _ => Err(ApiError::bad_request(format!(
            "say why you open this slice: `?purpose=` one of: {}",
            known()
        ))),
    }
}

/// The slice as served: the files consent lets the organisation download, base64, and the
/// categories held back with why.
fn served(case: Case, organisation: String, rule: &ReleaseRule, files: Vec<SealedField>) -> Slice {
    let withheld = rule.withheld(files.iter().map(|f| f.category.as_str()));
    let held: BTreeSet<&str> = withheld.iter().map(|w| w.category.as_str()).collect();
    let fields = files
        .into_iter()
        .filter(|f| !held.contains(f.category.as_str()))
        .map(|f| SliceField {
            id: f.id,
            field: f.field_id,
            category: f.category,
            policy_version: f.policy_version,
            sealed_at: f.sealed_at,
            sealed_by: f.sealed_by,
            item: f.item,
            age: BASE64.encode(&f.ciphertext),
        })
        .collect();
    Slice {
        case: case.id,
        organisation,
        state: case.state,
        fields,
        withheld,
    }
}

#[utoipa::path(get, path = "/v1/cases/{id}/slice", tag = "cases", security(("bearer" = [])), params(("id" = String, Path, description = "Case id (a UUID)"), SliceQuery), responses((status = 200, description = "The caller's sealed fields", body = Slice)))]
pub(super) async fn get_slice(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    query: Result<Query<SliceQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Slice>, ApiError> {
    let purpose = slice_purpose(&state.policy, query)?;
    Ok(Json(slice_of(&state, &caller, &id, purpose, None).await?))
}

/// The caller's slice of case `id` opened for `purpose` (with `only`, that one field alone),
/// read in one transaction with its access event: refused (and recorded) for an outsider, a
/// closed case past its access, or what consent no longer covers.
async fn slice_of(
    state: &AppState,
    caller: &Caller,
    id: &str,
    purpose: String,
    only: Option<&str>,
) -> Result<Slice, ApiError> {
    let mut attempt = caller.event("read", "allowed");
    attempt.purpose = Some(purpose);
    let (case, _, mut attempt) = own_case(state, caller, id, attempt).await?;
    caller
        .require_org(state, &attempt, "sees no field values")
        .await?;
    let today = state.store.clock().today();
    if let Some(reason) = lifecycle::closed_refusal(&state.policy, &case, &caller.org_role, &today)
    {
        return Err(caller
            .deny(state, attempt, &reason, ApiError::gone(reason.clone()))
            .await);
    }
    let consent = state.store.consent(&case.id).await?;
    attempt.consent = consent.as_ref().map(|c| c.id.clone());
    let rule = Arc::new(ReleaseRule {
        today,
        org_role: caller.org_role.clone(),
        retained: state.policy.consent.retained_after_withdrawal.clone(),
        policy_version: state.policy.version.clone(),
        consent,
    });
    // One read, in the transaction of its event: what consent no longer lets the organisation
    // download is held back, and if that is everything the event is a denial.
    let (files, event) = state
        .store
        .slice_recorded(id, &caller.org_id, Arc::clone(&rule), attempt, only)
        .await?;
    if event.outcome == "denied" {
        return Err(ApiError::forbidden(event.reason.unwrap_or_default()));
    }
    crate::telemetry::record_slice_served(event.fields.len());
    Ok(served(case, caller.org_id.clone(), &rule, files))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub(super) struct NamesQuery {
    /// Why the lists are opened: one of the policy's purposes.
    purpose: Option<String>,
    /// The field that names a client in a list (e.g. `full_name`).
    field: String,
}

/// One case's copy of the naming field, sealed to the caller's organisation.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct NameFile {
    case: String,
    id: String,
    field: String,
    age: String,
}

/// Every naming field of the caller's cases.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(super) struct Names {
    names: Vec<NameFile>,
}

#[utoipa::path(get, path = "/v1/cases/names", tag = "cases", security(("bearer" = [])), params(NamesQuery), responses((status = 200, description = "The caller's copy of one field of each of its cases, for a list", body = Names)))]
/// The naming field of every case of the caller's organisation in one request, for a list of
/// cases opened in the browser: for each case exactly what its slice would give of that field,
/// with one access event per case (naming that field alone), written in one group. Cases it
/// may not open now (closed, consent) are left out, their refusals recorded.
pub(super) async fn get_names(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<NamesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Names>, ApiError> {
    let Ok(Query(q)) = query else {
        return Err(ApiError::bad_request(
            "name the field: `?field=` and `&purpose=`",
        ));
    };
    if state.policy.field(&q.field).is_none() {
        return Err(ApiError::bad_request(
            "`field` is not a field of the policy",
        ));
    }
    let purpose = slice_purpose(&state.policy, Ok(Query(SliceQuery { purpose: q.purpose })))?;
    let cases = state.store.cases_of(&caller.org_id).await?;
    let slices = futures_util::future::join_all(cases.iter().map(|case| {
        slice_of(
            &state,
            &caller,
            &case.id,
            purpose.clone(),
            Some(q.field.as_str()),
        )
    }))
    .await;
    let names = (slices.into_iter().filter_map(Result::ok))
        .flat_map(|slice| {
            let case = slice.case;
            slice.fields.into_iter().map(move |f| NameFile {
                case: case.clone(),
                id: f.id,
                field: f.field,
                age: f.age,
            })
        })
        .collect();
    Ok(Json(Names { names }))
}
