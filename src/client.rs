//! The organisations' side: an HTTP client for the broker, and opening a slice locally with
//! the organisation's own identity. The broker never sees what is opened here.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::Deserialize;
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::auth::Secret;
use crate::cases::{Slice, SliceField};
use crate::form;
use crate::policy::Policy;
use crate::sealing::{self, Identity};

/// What can go wrong talking to the broker or opening what it sent.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The broker could not be reached.
    #[error("cannot reach the broker: {0}")]
    Http(#[from] reqwest::Error),
    /// The broker answered with a problem document.
    #[error("{status}: {title}: {detail}")]
    Problem {
        /// HTTP status.
        status: u16,
        /// Problem title.
        title: String,
        /// Problem detail.
        detail: String,
        /// Per-field problems, if any.
        errors: Vec<form::FieldProblem>,
    },
    /// A field could not be opened or decoded.
    #[error("field `{0}` could not be opened with this identity")]
    Open(String),
    /// The broker sent something unexpected.
    #[error("unexpected answer from the broker: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The HTTP status of a problem answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Problem { status, .. } => Some(*status),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct ProblemDoc {
    #[serde(default)]
    title: String,
    #[serde(default)]
    detail: String,
    #[serde(default)]
    errors: Vec<FieldProblemDoc>,
}

#[derive(Deserialize)]
struct FieldProblemDoc {
    field: String,
    problem: String,
}

/// A logged-in connection to a broker.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Client({}, token: {})",
            self.base,
            if self.token.is_some() {
                "<redacted>"
            } else {
                "none"
            }
        )
    }
}

/// How a client proves who it is.
#[derive(Debug)]
pub enum Credentials {
    /// A system's API key.
    ApiKey(Secret),
    /// A person's user name and password.
    Password {
        /// Login name.
        username: String,
        /// Password.
        password: Secret,
    },
}

/// The client's `user-agent`, which the access log records for allowed requests.
pub const USER_AGENT: &str = concat!("sluis/", env!("CARGO_PKG_VERSION"));

impl Client {
    /// A client for the broker at `base` (e.g. `http://127.0.0.1:8080`), not yet logged in.
    #[expect(
        clippy::expect_used,
        reason = "start-up of a client: rustls with its bundled roots always builds"
    )]
    pub fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(120))
                .user_agent(USER_AGENT)
                .build()
                .expect("HTTP client builds"),
            base: base.trim_end_matches('/').to_owned(),
            token: None,
        }
    }

    /// A client that also trusts the CA certificates (PEM) of `ca_pem`: a broker serving TLS
    /// under an organisation's own CA. The public roots and the system's are trusted anyway.
    pub fn with_ca(base: &str, ca_pem: &[u8]) -> Result<Self, ClientError> {
        let mut builder = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(120))
            .user_agent(USER_AGENT);
        let certificates = reqwest::Certificate::from_pem_bundle(ca_pem)
            .map_err(|_| ClientError::Protocol("the CA file holds no PEM certificate".into()))?;
        if certificates.is_empty() {
            return Err(ClientError::Protocol(
                "the CA file holds no PEM certificate".into(),
            ));
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
        let http = builder
            .build()
            .map_err(|_| ClientError::Protocol("the HTTP client could not be built".into()))?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: None,
        })
    }

    /// The same login against another broker (a replica sharing the signing key).
    pub fn with_base(&self, base: &str) -> Self {
        Self {
            http: self.http.clone(),
            base: base.trim_end_matches('/').to_owned(),
            token: self.token.clone(),
        }
    }

    /// Exchanges credentials for a token and keeps it.
    pub async fn login(mut self, credentials: &Credentials) -> Result<Self, ClientError> {
        let body = match credentials {
            Credentials::ApiKey(key) => json!({ "api_key": key.expose() }),
            Credentials::Password { username, password } => {
                // The broker sees the login credential stretched from the password, never the
                // password (from which the person's own identity also follows).
                let secrets = crate::auth::PersonSecrets::derive(username, password)
                    .map_err(|e| ClientError::Protocol(e.to_string()))?;
                json!({ "username": username, "password": secrets.login.expose() })
            }
        };
        let answer: Value = self
            .send(self.http.post(self.url("/v1/auth/token")).json(&body))
            .await?;
        let token = answer["access_token"]
            .as_str()
            .ok_or_else(|| ClientError::Protocol("no access_token".into()))?;
        self.token = Some(token.to_owned());
        Ok(self)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn authed(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => req.bearer_auth(t),
            None => req,
        }
    }

    async fn send<T: for<'de> Deserialize<'de>>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ClientError> {
        let bytes = self.send_raw(req).await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    async fn send_raw(&self, req: reqwest::RequestBuilder) -> Result<bytes::Bytes, ClientError> {
        let resp = self.authed(req).send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if !status.is_success() {
            let doc: ProblemDoc = serde_json::from_slice(&bytes).unwrap_or(ProblemDoc {
                title: status.canonical_reason().unwrap_or("error").into(),
                detail: String::new(),
                errors: Vec::new(),
            });
            return Err(ClientError::Problem {
                status: status.as_u16(),
                title: doc.title,
                detail: doc.detail,
                errors: doc
                    .errors
                    .into_iter()
                    .map(|e| form::FieldProblem {
                        field: e.field,
                        problem: e.problem,
                    })
                    .collect(),
            });
        }
        Ok(bytes)
    }

    /// `GET` a text document (CSV, JSON Lines, a checkpoint note).
    pub async fn get_text(&self, path: &str) -> Result<String, ClientError> {
        let bytes = self.send_raw(self.http.get(self.url(path))).await?;
        String::from_utf8(bytes.to_vec()).map_err(|_| ClientError::Protocol("not UTF-8".into()))
    }

    /// `GET` a JSON document.
    pub async fn get_json(&self, path: &str) -> Result<Value, ClientError> {
        self.send(self.http.get(self.url(path))).await
    }

    /// `POST` a JSON document; the answer as JSON.
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    /// `PUT` a JSON document; the answer as JSON (`null` for an empty one).
    pub async fn put_json(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let bytes = self
            .send_raw(self.http.put(self.url(path)).json(body))
            .await?;
        if bytes.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// Gives the colleague `username` the organisation's `identity`, sealed here to their own
    /// recipient (`PUT /v1/members/{id}/identity`). The identity must be the organisation's
    /// registered key; the colleague must have chosen their own password.
    pub async fn grant_identity(
        &self,
        identity: &Identity,
        username: &str,
    ) -> Result<(), ClientError> {
        let me = self.get_json("/v1/me").await?;
        let orgs = self.get_json("/v1/organisations").await?;
        let registered = (orgs.as_array().into_iter().flatten())
            .find(|o| o["id"] == me["organisation"])
            .and_then(|o| o["recipient"].as_str());
        if registered != Some(identity.recipient().to_string().as_str()) {
            return Err(ClientError::Protocol(format!(
                "this identity is not the key {} registered",
                me["organisation"].as_str().unwrap_or_default()
            )));
        }
        let members = self.get_json("/v1/me/members").await?;
        let member = (members.as_array().into_iter().flatten())
            .find(|m| m["username"] == username)
            .ok_or_else(|| ClientError::Protocol(format!("no colleague `{username}`")))?;
        let recipient: sealing::Recipient = (member["recipient"].as_str())
            .ok_or_else(|| {
                ClientError::Protocol(format!(
                    "{username} has not chosen their own password yet (first login in the browser)"
                ))
            })?
            .parse()
            .map_err(|_| ClientError::Protocol("a colleague's recipient is not age1…".into()))?;
        let sealed = identity
            .wrapped_for(&recipient, &crate::clock::now_text())
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let id = member["id"].as_str().unwrap_or_default();
        self.put_json(
            &format!("/v1/members/{id}/identity"),
            &json!({ "wrapped_identity": BASE64.encode(sealed) }),
        )
        .await
        .map(drop)
    }

    /// Submits a form with the client's consent declaration; returns the broker's answer
    /// (`id`, `parties`, `sealed`).
    pub async fn submit(
        &self,
        form: &str,
        fields: &Value,
        consent: &Value,
    ) -> Result<Value, ClientError> {
        self.post_json(
            "/v1/cases",
            &json!({ "form": form, "fields": fields, "consent": consent }),
        )
        .await
    }

    /// Downloads the caller's slice of a case.
    /// The purpose must be one of the policy's purposes; the access log records it.
    pub async fn slice(&self, case: &str, purpose: &str) -> Result<Slice, ClientError> {
        self.send(
            self.http
                .get(self.url(&format!("/v1/cases/{case}/slice")))
                .query(&[("purpose", purpose)]),
        )
        .await
    }

    /// Fetches the policy the broker enforces.
    pub async fn policy_json(&self) -> Result<Value, ClientError> {
        self.get_json("/v1/policy").await
    }

    /// The coordinator's client side of a re-share (`design.md` §1): opens its own slice
    /// locally and, for each recipient, picks exactly the fields the policy grants the
    /// recipient's role. Recipients of one role share one age file per field.
    async fn shares_for(
        &self,
        case: &str,
        identity: &Identity,
        policy: &Policy,
        recipients: &[String],
    ) -> Result<Vec<Value>, ClientError> {
        let mut by_role: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in recipients {
            let role = policy
                .parties
                .get(r)
                .map(|p| p.role.clone())
                .ok_or_else(|| ClientError::Protocol(format!("unknown organisation `{r}`")))?;
            by_role.entry(role).or_default().push(r.clone());
        }
        let opened = open_slice(&self.slice(case, "referral").await?, identity, policy)?;
        let mut shares = Vec::new();
        for (role, orgs) in by_role {
            let fields: serde_json::Map<String, Value> = opened
                .fields
                .iter()
                // What a role receives before an application to it (policy
                // `[until_application]`); the rest follows with the application.
                .filter(|(id, _)| policy.may_receive(&role, false, id))
                .map(|(id, v)| (id.clone(), v.clone()))
                .collect();
            if !fields.is_empty() {
                shares.push(json!({ "recipients": orgs, "fields": fields }));
            }
        }
        Ok(shares)
    }

    /// Re-shares the case's fields to organisations that are already parties.
    pub async fn reshare(
        &self,
        case: &str,
        identity: &Identity,
        policy: &Policy,
        recipients: &[String],
    ) -> Result<Value, ClientError> {
        let shares = self.shares_for(case, identity, policy, recipients).await?;
        self.post_json(
            &format!("/v1/cases/{case}/shares"),
            &json!({ "shares": shares }),
        )
        .await
    }

    /// Refers a case (coordinator): the municipalities and the corporations with homes there
    /// (the policy's allocation) become parties, each sent what its role may see.
    pub async fn refer(
        &self,
        case: &str,
        identity: &Identity,
        policy: &Policy,
        municipalities: &[String],
    ) -> Result<Value, ClientError> {
        let recipients = crate::cases::referral_recipients(policy, municipalities)
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        let recipients: Vec<String> = recipients.into_iter().collect();
        let shares = self.shares_for(case, identity, policy, &recipients).await?;
        self.post_json(
            &format!("/v1/cases/{case}/referral"),
            &json!({ "municipalities": municipalities, "shares": shares }),
        )
        .await
    }

    /// Applies to the municipality of the home (care organisation, art. 9.7) with the
    /// application form's `fields`: opens its own slice and re-shares to that municipality
    /// what its decision needs — every field its role is granted beyond what it received at
    /// referral (policy `[until_application]`).
    pub async fn apply(
        &self,
        case: &str,
        identity: &Identity,
        policy: &Policy,
        kind: &str,
        fields: &Value,
    ) -> Result<Value, ClientError> {
        let meta = self.get_json(&format!("/v1/cases/{case}")).await?;
        let home = (meta["home_municipality"].as_str()).ok_or_else(|| {
            ClientError::Protocol("the case has no municipality of the home yet".into())
        })?;
        let role = (policy.parties.get(home)).map_or("municipality", |p| p.role.as_str());
        let opened = open_slice(
            &self.slice(case, "guidance_decision").await?,
            identity,
            policy,
        )?;
        let needed: serde_json::Map<String, Value> = (opened.fields.iter())
            .filter(|(id, _)| policy.may_receive(role, true, id))
            .filter(|(id, _)| !policy.may_receive(role, false, id))
            .map(|(id, v)| (id.clone(), v.clone()))
            .collect();
        let shares = if needed.is_empty() {
            Vec::new()
        } else {
            vec![json!({ "recipients": [home], "fields": needed })]
        };
        let body = json!({ "kind": kind, "fields": fields, "shares": shares });
        self.post_json(&format!("/v1/cases/{case}/applications"), &body)
            .await
    }

    /// The case's messages and reports as the organisation takes part in them (routing
    /// metadata from the broker), each with its `fields` opened from the organisation's slice.
    pub async fn thread(
        &self,
        case: &str,
        identity: &Identity,
        policy: &Policy,
    ) -> Result<OpenedThread, ClientError> {
        let thread = self.get_json(&format!("/v1/cases/{case}/messages")).await?;
        let opened = open_slice(&self.slice(case, "guidance").await?, identity, policy)?;
        let mut messages = Vec::new();
        for mut message in thread.as_array().cloned().unwrap_or_default() {
            let fields = (message["id"].as_str()).and_then(|id| opened.items.get(id));
            message["fields"] = json!(fields.cloned().unwrap_or_default());
            messages.push(message);
        }
        Ok(OpenedThread(messages))
    }

    /// Seals the caller's copies of a case again to its organisation's current recipient (after
    /// `org set-recipient`): downloads the slice, skips what `new` already opens, opens the rest
    /// with `old` and sends the values back to be sealed to the new key alone. Safe to repeat.
    pub async fn rekey(
        &self,
        case: &str,
        old: &Identity,
        new: &Identity,
        policy: &Policy,
    ) -> Result<RekeyOutcome, ClientError> {
        /// Values per request, so that large documents stay under the body limit.
        const BATCH_BYTES: usize = 8 * 1024 * 1024;
        let slice = self.slice(case, "key_rotation").await?;
        let mut outcome = RekeyOutcome {
            case: case.to_owned(),
            rekeyed: 0,
            already: 0,
            withheld: slice.withheld.len(),
        };
        let mut batch = Vec::new();
        let mut batch_bytes = 0;
        for f in &slice.fields {
            let sealed = ciphertext(f)?;
            if sealing::open(&sealed, new).is_ok() {
                outcome.already += 1;
                continue;
            }
            let spec = policy.field(&f.field).ok_or_else(|| {
                ClientError::Protocol(format!("field `{}` is not in the policy", f.field))
            })?;
            let plain =
                sealing::open(&sealed, old).map_err(|_| ClientError::Open(f.field.clone()))?;
            let value = form::from_plaintext(&spec.kind, &plain)
                .ok_or_else(|| ClientError::Open(f.field.clone()))?;
            if batch_bytes + sealed.len() > BATCH_BYTES && !batch.is_empty() {
                outcome.rekeyed += self.send_rekey(case, std::mem::take(&mut batch)).await?;
                batch_bytes = 0;
            }
            batch_bytes += sealed.len();
            batch.push(json!({ "id": f.id, "field": f.field, "value": value }));
        }
        if !batch.is_empty() {
            outcome.rekeyed += self.send_rekey(case, batch).await?;
        }
        Ok(outcome)
    }

    async fn send_rekey(&self, case: &str, items: Vec<Value>) -> Result<usize, ClientError> {
        let count = items.len();
        self.post_json(
            &format!("/v1/cases/{case}/rekey"),
            &json!({ "fields": items }),
        )
        .await?;
        Ok(count)
    }

    /// Uploads a document field later (streamed to the broker, which seals it as it arrives).
    pub async fn upload(
        &self,
        case: &str,
        field: &str,
        bytes: Vec<u8>,
    ) -> Result<Value, ClientError> {
        self.send(
            self.http
                .put(self.url(&format!("/v1/cases/{case}/documents/{field}")))
                .header("content-type", "application/octet-stream")
                .body(bytes),
        )
        .await
    }

    /// Takes a lifecycle step: `POST /v1/cases/{case}/{step}` with `body`.
    pub async fn step(&self, case: &str, step: &str, body: &Value) -> Result<Value, ClientError> {
        self.post_json(&format!("/v1/cases/{case}/{step}"), body)
            .await
    }
}

/// What a rekey did to one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RekeyOutcome {
    /// Case id.
    pub case: String,
    /// Files sealed again to the new key.
    pub rekeyed: usize,
    /// Files the new key already opened.
    pub already: usize,
    /// Categories consent now withholds (left as they are).
    pub withheld: usize,
}

/// A case's messages and reports as an organisation opened them: the broker's routing metadata
/// of each, with its `fields` in the clear.
pub struct OpenedThread(pub Vec<Value>);

impl OpenedThread {
    /// The messages as pretty JSON (plaintext: for the organisation's own use).
    pub fn to_json(&self) -> Zeroizing<String> {
        Zeroizing::new(serde_json::to_string_pretty(&self.0).unwrap_or_default())
    }
}

impl std::fmt::Debug for OpenedThread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "OpenedThread({} messages, fields redacted)",
            self.0.len()
        )
    }
}

/// A slice opened on the organisation's own side.
pub struct OpenedSlice {
    /// Case id.
    pub case: String,
    /// The organisation that opened it.
    pub organisation: String,
    /// Field id → value in the clear (documents as base64).
    pub fields: BTreeMap<String, Value>,
    /// The case's items (applications, decisions, signals): item id → field id → value.
    pub items: BTreeMap<String, BTreeMap<String, Value>>,
}

impl std::fmt::Debug for OpenedSlice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "OpenedSlice({}, {}, fields: {:?}, items: {})",
            self.case,
            self.organisation,
            self.fields.keys().collect::<Vec<_>>(),
            self.items.len()
        )
    }
}

impl OpenedSlice {
    /// As JSON: `{"case", "organisation", "fields": {id: value}, "items": {item: {id: value}}}`.
    /// Holds values in the clear.
    #[expect(
        clippy::expect_used,
        reason = "opened values are strings, numbers and lists, which serde_json always writes"
    )]
    pub fn to_json(&self) -> Zeroizing<String> {
        Zeroizing::new(
            serde_json::to_string_pretty(&json!({
                "case": self.case,
                "organisation": self.organisation,
                "fields": self.fields,
                "items": self.items,
            }))
            .expect("JSON values serialise"),
        )
    }
}

/// The raw age file of a slice field.
pub fn ciphertext(field: &SliceField) -> Result<Vec<u8>, ClientError> {
    BASE64
        .decode(&field.age)
        .map_err(|_| ClientError::Protocol(format!("field `{}` is not base64", field.field)))
}

/// Opens every field of a slice with `identity`.
pub fn open_slice(
    slice: &Slice,
    identity: &Identity,
    policy: &Policy,
) -> Result<OpenedSlice, ClientError> {
    let mut fields = BTreeMap::new();
    let mut items: BTreeMap<String, BTreeMap<String, Value>> = BTreeMap::new();
    for f in &slice.fields {
        let spec = policy.field(&f.field).ok_or_else(|| {
            ClientError::Protocol(format!("field `{}` is not in the policy", f.field))
        })?;
        let plain = sealing::open(&ciphertext(f)?, identity)
            .map_err(|_| ClientError::Open(f.field.clone()))?;
        let value = form::from_plaintext(&spec.kind, &plain)
            .ok_or_else(|| ClientError::Open(f.field.clone()))?;
        match &f.item {
            Some(item) => items.entry(item.clone()).or_default(),
            None => &mut fields,
        }
        .insert(f.field.clone(), value);
    }
    Ok(OpenedSlice {
        case: slice.case.clone(),
        organisation: slice.organisation.clone(),
        fields,
        items,
    })
}
