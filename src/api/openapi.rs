//! The OpenAPI 3.1 document served at `/v1/openapi.json`, generated from the handlers'
//! annotations and the request and response types. Every operation also lists the problem
//! answers any request can get (RFC 9457 `application/problem+json`).

use std::sync::OnceLock;

use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};

use axum::Router;
use axum::routing::get;

use super::{
    applications, audit, cases, consent, documents, identity, inbox, keys, lifecycle, messages,
    monitor, operations, people, shares, slices,
};

/// A problem answer (RFC 9457). `detail` and `errors` name what is wrong, never a value.
#[derive(ToSchema)]
#[schema(as = Problem)]
#[allow(dead_code)]
struct ProblemDoc {
    /// `urn:sluis:problem:<slug>` (or `about:blank` for routing errors).
    #[schema(rename = "type")]
    kind: String,
    /// Short summary of the status.
    title: String,
    /// The HTTP status.
    status: u16,
    /// What is wrong, for a person.
    detail: String,
    /// Per-field problems, when fields were invalid.
    errors: Option<Vec<FieldProblemDoc>>,
}

/// One invalid field.
#[derive(ToSchema)]
#[schema(as = FieldProblem)]
#[allow(dead_code)]
struct FieldProblemDoc {
    /// The field id (or a description of a malformed one).
    field: String,
    /// What is wrong with it.
    problem: String,
}

/// The route of this document.
pub(super) fn router() -> Router<super::AppState> {
    Router::new().route("/v1/openapi.json", get(get_openapi))
}

/// This document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "operations", responses((status = 200, description = "The OpenAPI document", body = Object)))]
pub(super) async fn get_openapi() -> Result<Response, super::ApiError> {
    static DOCUMENT: OnceLock<Result<String, String>> = OnceLock::new();
    let json = DOCUMENT.get_or_init(|| ApiDoc::openapi().to_json().map_err(|e| e.to_string()));
    match json {
        Ok(json) => Ok((
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            json.as_str(),
        )
            .into_response()),
        Err(e) => Err(super::ApiError::internal(&std::io::Error::other(e.clone()))),
    }
}

/// Every property name of the document's schemas: the keys the API itself defines, which a
/// problem may name (a key the caller made up is never repeated back).
pub(super) fn request_keys() -> std::collections::BTreeSet<String> {
    fn collect(value: &serde_json::Value, keys: &mut std::collections::BTreeSet<String>) {
        match value {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    if let (true, Some(props)) = (k == "properties", v.as_object()) {
                        keys.extend(props.keys().cloned());
                    }
                    collect(v, keys);
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| collect(v, keys)),
            _ => {}
        }
    }
    let mut keys = std::collections::BTreeSet::new();
    if let Ok(doc) = serde_json::to_value(ApiDoc::openapi()) {
        collect(&doc, &mut keys);
    }
    keys
}

/// The document's definition: every operation of the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sluis",
        description = "Privacy-first exchange of the Westfriesland outflow arrangement: the broker seals each field per entitled party and never opens.",
        license(name = "EUPL-1.2")
    ),
    paths(
        operations::healthz,
        get_openapi,
        operations::readyz,
        operations::metrics,
        cases::get_policy,
        identity::post_token,
        people::get_me,
        people::put_my_password,
        people::get_members,
        people::put_member_identity,
        people::get_users,
        cases::get_organisations,
        cases::get_cases,
        cases::post_case,
        cases::get_case,
        shares::post_shares,
        slices::get_slice,
        slices::get_names,
        keys::post_rekey,
        lifecycle::post_assessment,
        lifecycle::post_referral,
        lifecycle::post_match,
        lifecycle::post_housed,
        lifecycle::post_lease_conversion,
        lifecycle::post_end,
        lifecycle::post_changes,
        lifecycle::post_evaluation,
        lifecycle::post_signal,
        applications::post_application,
        applications::get_applications,
        applications::post_decision,
        applications::get_overdue,
        messages::post_message,
        messages::get_thread,
        messages::post_report,
        messages::post_acknowledgement,
        documents::put_document,
        consent::get_consent,
        consent::post_withdraw,
        consent::post_renewal,
        consent::get_consents,
        consent::post_erasure,
        consent::get_receipts,
        inbox::get_inbox,
        inbox::post_read,
        inbox::put_queue,
        inbox::get_overdue,
        inbox::get_expiring,
        monitor::get_monitor,
        monitor::post_report,
        audit::get_events,
        audit::post_pseudonym,
        audit::get_client_report,
        audit::get_verify,
        audit::get_signals,
        audit::get_checkpoint,
        audit::get_checkpoints,
        audit::post_checkpoint,
        audit::get_vkey,
        audit::get_inclusion_proof,
        audit::get_consistency_proof,
    ),
    components(schemas(ProblemDoc, FieldProblemDoc)),
    modifiers(&Problems)
)]
pub struct ApiDoc;

/// Adds the bearer scheme and, to every operation, the problem answers it can give.
struct Problems;

/// Statuses every operation may answer with a problem document, and why.
const PROBLEMS: [(&str, &str); 13] = [
    (
        "400",
        "Malformed request: bad JSON, unknown or missing keys, a malformed id",
    ),
    ("401", "No valid access token"),
    ("403", "Not allowed for this role, step or consent"),
    (
        "404",
        "No such case that the caller's organisation is a party to, or no such thing",
    ),
    ("405", "Method not allowed on this path"),
    ("409", "Not possible in the case's current state"),
    ("413", "Body or document over its limit"),
    ("415", "Wrong content type"),
    ("422", "Invalid field values (each named in `errors`)"),
    (
        "429",
        "Too many requests or failed logins; see `Retry-After`",
    ),
    ("500", "An internal error (logged; no detail given)"),
    ("503", "The database cannot be reached"),
    ("507", "The database's disk is full; nothing was stored"),
];

impl Modify for Problems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ]
            .into_iter()
            .flatten()
            {
                for (status, why) in PROBLEMS {
                    let response = ResponseBuilder::new()
                        .description(why)
                        .content(
                            "application/problem+json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("Problem")))
                                .build(),
                        )
                        .build();
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert(response.into());
                }
            }
        }
    }
}
