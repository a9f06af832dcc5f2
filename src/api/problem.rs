//! Errors as `application/problem+json` (RFC 9457), and the JSON body extractor whose
//! rejections name the problem without echoing what was sent.

use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::cases::CaseError;
use crate::form::FieldProblem;
use crate::policy::is_id;
use crate::store::StoreError;

/// Media type of problem documents.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An error answer. `detail` and `errors` are written for the caller and never hold a value.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    errors: Vec<FieldProblem>,
    retry_after: Option<u64>,
    /// The `WWW-Authenticate` challenge of a 401 (RFC 9110 §11.6.1, RFC 6750 §3).
    challenge: Option<&'static str>,
}

#[derive(Serialize)]
struct ProblemBody<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [FieldProblem],
}

impl ApiError {
    fn new(
        status: StatusCode,
        slug: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            slug,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            challenge: None,
        }
    }

    /// 400: the request cannot be parsed.
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Malformed request",
            detail,
        )
    }

    /// 422: well-formed, but fields are invalid; each problem names its field.
    pub fn invalid_fields(errors: Vec<FieldProblem>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("field `{}` {}", one.field, one.problem),
            many => format!("{} fields are invalid; see `errors`", many.len()),
        };
        let mut e = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-fields",
            "Invalid field values",
            detail,
        );
        e.errors = errors;
        e
    }

    /// 422: the request is well-formed but cannot be carried out as asked.
    pub fn unprocessable(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "unprocessable",
            "Request cannot be carried out",
            detail,
        )
    }

    /// 401: no credentials, or wrong ones at login; challenges for a bearer token.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Not authenticated",
            detail,
        );
        e.challenge = Some("Bearer realm=\"sluis\"");
        e
    }

    /// 401: a bearer token was sent and is not valid (forged, expired, or its user or
    /// organisation is gone).
    pub fn invalid_token() -> Self {
        let mut e = Self::unauthorized("the token is invalid or expired");
        e.challenge = Some("Bearer realm=\"sluis\", error=\"invalid_token\"");
        e
    }

    /// 403: authenticated, but the policy does not allow it.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Not allowed by the policy",
            detail,
        )
    }

    /// 404: no such thing — or not one the caller is a party to; the two look the same.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 410: it was there, and is no longer served.
    pub fn gone(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::GONE, "gone", "No longer served", detail)
    }

    /// 409: it exists already.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }

    /// 413: the body (or a document in it) is larger than allowed.
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Body too large",
            detail,
        )
    }

    /// 429: too many attempts; try again after `retry_after_secs` (sent as `Retry-After`).
    pub fn too_many(detail: impl Into<String>, retry_after_secs: u64) -> Self {
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too-many-requests",
            "Too many requests",
            detail,
        );
        e.retry_after = Some(retry_after_secs);
        e
    }

    /// 503: a dependency (the database) is unavailable; try again.
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Service unavailable",
            "the database cannot be reached; try again shortly",
        )
    }

    /// 507: the database's disk is full; the request was not stored and may be repeated once
    /// an operator has made room.
    pub fn storage_full() -> Self {
        tracing::error!("the database's disk is full: requests that write are refused");
        let mut e = Self::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "storage-full",
            "Insufficient storage",
            "the database has no space left; nothing of this request was stored — try again later",
        );
        e.retry_after = Some(60);
        e
    }

    /// 500: a fault on our side. The cause goes to the log, not to the caller.
    pub fn internal(cause: &dyn std::error::Error) -> Self {
        tracing::error!(error = %cause, source = ?cause.source().map(ToString::to_string), "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
            "an internal error occurred; it has been logged",
        )
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ProblemBody {
            kind: format!("urn:sluis:problem:{}", self.slug),
            title: self.title,
            status: self.status.as_u16(),
            detail: &self.detail,
            errors: &self.errors,
        };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut response =
            (self.status, [(header::CONTENT_TYPE, PROBLEM_JSON)], json).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, secs.into());
        }
        if let Some(challenge) = self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::not_found("not found"),
            StoreError::Conflict(what) => Self::conflict(format!("already exists ({what})")),
            StoreError::Refused(why) => Self::conflict(why),
            StoreError::Unavailable(_) => Self::unavailable(),
            StoreError::Full(_) => Self::storage_full(),
            other => Self::internal(&other),
        }
    }
}

impl From<CaseError> for ApiError {
    fn from(e: CaseError) -> Self {
        match e {
            CaseError::Forbidden(m) => Self::forbidden(m),
            CaseError::Conflict(m) => Self::conflict(m),
            CaseError::Invalid(m) => Self::unprocessable(m),
            CaseError::Fields(problems) => Self::invalid_fields(problems),
            e @ CaseError::Corrupt(_) => Self::internal(&e),
            CaseError::Refused { cause, .. } => Self::from(*cause),
        }
    }
}

/// A query string as extracted, or why it could not be.
pub(super) type QueryResult<T> =
    Result<axum::extract::Query<T>, axum::extract::rejection::QueryRejection>;

/// The parsed query, or a 400 that says what is expected — never what was sent.
pub(super) fn query<T>(q: QueryResult<T>, expected: &str) -> Result<T, ApiError> {
    q.map(|axum::extract::Query(v)| v)
        .map_err(|_| ApiError::bad_request(format!("invalid query string; expected {expected}")))
}

/// The keys the API itself defines (every property name of its OpenAPI schemas), which a
/// problem may name; set once when the router is built.
static API_KEYS: std::sync::OnceLock<std::collections::BTreeSet<String>> =
    std::sync::OnceLock::new();

/// Makes `keys` the names a problem may give a body's keys by (the first call counts).
pub(super) fn know_api_keys(keys: impl FnOnce() -> std::collections::BTreeSet<String>) {
    API_KEYS.get_or_init(keys);
}

/// A JSON body, parsed strictly (unknown keys, wrong types and trailing data are refused)
/// with an error that says where the problem is and what was expected, never what was sent.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<super::AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &super::AppState) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || m.ends_with("+json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "send the body as application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(inner)
                if inner.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload-too-large",
                    "Body too large",
                    "the request body is larger than the server accepts",
                )
            }
            _ => ApiError::bad_request("the request body could not be read"),
        })?;
        let policy = &state.policy;
        let api_keys = API_KEYS.get();
        let known =
            |key: &str| policy.field(key).is_some() || api_keys.is_some_and(|k| k.contains(key));
        parse_json(&bytes, known).map(ApiJson)
    }
}

/// Parses JSON strictly; errors never contain the input. A problem names the place by the
/// keys `known` accepts (the API's own keys and the policy's field ids) and positions, never
/// by a key the caller chose.
pub fn parse_json<T: DeserializeOwned>(
    bytes: &[u8],
    known: impl Fn(&str) -> bool,
) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = path_name(e.path(), &known);
        let inner = e.into_inner();
        describe_json_error(&path, &inner)
    })?;
    de.end()
        .map_err(|_| ApiError::bad_request("unexpected data after the JSON body"))?;
    Ok(value)
}

fn describe_json_error(path: &str, e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let at = format!("line {} column {}", e.line(), e.column());
    match e.classify() {
        Category::Syntax => ApiError::bad_request(format!("malformed JSON at {at}")),
        Category::Eof => ApiError::bad_request("the JSON body ends too early"),
        Category::Io => ApiError::bad_request("the request body could not be read"),
        Category::Data => {
            let message = sanitize(&e.to_string());
            let field = if path.is_empty() {
                "body".to_owned()
            } else {
                path.to_owned()
            };
            ApiError::invalid_fields(vec![FieldProblem {
                field,
                problem: message,
            }])
        }
    }
}

/// `shares[0].fields.full_name`: keys only where `known`, else `?`; positions as `[i]`.
fn path_name(path: &serde_path_to_error::Path, known: &impl Fn(&str) -> bool) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(if is_id(key) && known(key) { key } else { "?" });
            }
            Segment::Unknown => out.push_str(".?"),
        }
    }
    out
}

/// Keeps serde's description of what was expected, drops what was found.
fn sanitize(message: &str) -> String {
    let message = message.split(" at line ").next().unwrap_or(message);
    if message.starts_with("invalid type") || message.starts_with("invalid value") {
        let expected = message
            .rsplit(", expected ")
            .next()
            .unwrap_or("another value");
        return format!("has the wrong type or value: expected {expected}");
    }
    if message.starts_with("unknown field `") {
        // serde names what was expected from the type: the API's own keys.
        return match message.split_once("`, expected ") {
            Some((_, expected)) => format!("has an unknown key; expected {expected}"),
            None => "has an unknown key".to_owned(),
        };
    }
    if message.starts_with("unknown variant") {
        let expected = message
            .rsplit(", expected ")
            .next()
            .unwrap_or("a known value");
        return format!("has an unknown value: expected {expected}");
    }
    message.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[expect(dead_code, reason = "fields exist to be parsed")]
    struct Body {
        form: String,
        count: u32,
    }

    fn detail(body: &str) -> (StatusCode, String) {
        let e = parse_json::<Body>(body.as_bytes(), |k| k == "form" || k == "count").unwrap_err();
        let json = serde_json::to_string(&ProblemBody {
            kind: String::new(),
            title: e.title,
            status: e.status.as_u16(),
            detail: &e.detail,
            errors: &e.errors,
        })
        .unwrap();
        (e.status, json)
    }

    #[test]
    fn json_errors_name_the_place_not_the_value() {
        let (status, text) = detail(r#"{"form": "x", "count": "geheim-waarde"}"#);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            text.contains("count") && text.contains("expected u32"),
            "{text}"
        );
        assert!(!text.contains("geheim-waarde"));

        let (status, text) = detail(r#"{"form": "x", "count": 1, "Jan de Vries": 2}"#);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            text.contains("has an unknown key") && !text.contains("Jan de Vries"),
            "{text}"
        );

        let (status, _) = detail(r#"{"form": "x""#);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let (status, text) = detail(r#"{"form": "x"}"#);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(text.contains("missing field `count`"), "{text}");
        let (status, _) = detail(r#"{"form": "x", "count": 1} trailing"#);
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
