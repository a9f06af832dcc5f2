//! Hostile input, round 2: nothing a caller sends is echoed or kept, no unverified claim steers
//! the broker, a user acts only in its organisation's role, numbers have their ranges, and every
//! rejection is a problem document. Each scenario runs on both backends.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use common::TestApp;
use serde_json::{Value, json};
use sluis::demo::{fictional_consent, fictional_registration};

/// Made-up text in three shapes: free text, a field id and an organisation id. None of them
/// is a name the policy or the API defines.
const CANARY: &str = "CANARYqz7";
const CANARY_ID: &str = "canary_qz7";
const CANARY_ORG: &str = "canary-qz7";

/// A request as a hostile caller sends it, with the answer's status, headers and body.
struct Answer {
    status: u16,
    headers: String,
    body: String,
}

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<String>,
) -> Answer {
    let mut req = reqwest::Client::new()
        .request(
            method.parse().unwrap(),
            format!("{}{path}", app.broker.base_url),
        )
        .header("user-agent", format!("agent {CANARY}"))
        .header("x-request-id", format!("req-{CANARY}"))
        .header("traceparent", format!("00-{CANARY}-01"));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.header("content-type", "application/json").body(b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = format!("{:?}", resp.headers());
    Answer {
        status,
        headers,
        body: resp.text().await.unwrap(),
    }
}

fn assert_clean(what: &str, text: &str) {
    for canary in [CANARY, CANARY_ID, CANARY_ORG] {
        assert!(!text.contains(canary), "{what} holds `{canary}`: {text}");
    }
}

async fn caller_text_is_never_echoed_or_kept(backend: &'static str) {
    let logs = common::capture_all_logs();
    let app = TestApp::start(backend).await;
    let case = app
        .submit_and_refer("leviaan", &fictional_registration(), &["hoorn"])
        .await;
    let care = app.token("leviaan").await;
    let coordinator = app.token("bct-westfriesland").await;
    let outsider = app.token("de-woonschakel").await;
    let officer = app.token("fg-westfriesland").await;
    let huge = format!("{CANARY_ORG}{}", "x".repeat(100_000));
    let forged = format!("{CANARY}.{CANARY}.{CANARY}");
    let mut answers: Vec<(String, Answer)> = Vec::new();
    let mut fields_with_keys = fictional_registration();
    fields_with_keys[CANARY_ID] = json!("v");
    fields_with_keys[format!("x[{CANARY}")] = json!("v");
    let mut consent = fictional_consent();
    consent["roles"] = json!(["care", CANARY_ID]);
    let tries: Vec<(&str, String, Option<&str>, Option<String>)> = vec![
        ("POST", "/v1/auth/token".into(), None, Some(json!({format!("[{CANARY}"): 1}).to_string())),
        ("POST", "/v1/auth/token".into(), None, Some(json!({CANARY_ID: 1}).to_string())),
        (
            "POST",
            "/v1/cases".into(),
            Some(&care),
            Some(json!({"form": "registration", "fields": fields_with_keys, "consent": fictional_consent()}).to_string()),
        ),
        (
            "POST",
            "/v1/cases".into(),
            Some(&care),
            Some(json!({"form": "registration", "fields": fictional_registration(), "consent": consent}).to_string()),
        ),
        (
            "POST",
            "/v1/cases".into(),
            Some(&care),
            Some(json!({"form": CANARY_ID, "fields": {}, "consent": fictional_consent()}).to_string()),
        ),
        (
            "POST",
            format!("/v1/cases/{case}/shares"),
            Some(&outsider),
            Some(json!({"shares": [{"recipients": [CANARY_ORG, huge], "fields": {CANARY_ID: "v"}}]}).to_string()),
        ),
        (
            "POST",
            format!("/v1/cases/{case}/shares"),
            Some(&coordinator),
            Some(json!({"shares": [{"recipients": [CANARY_ORG], "fields": {"full_name": "v"}}]}).to_string()),
        ),
        (
            "POST",
            format!("/v1/cases/{case}/shares"),
            Some(&coordinator),
            Some(json!({"shares": [{"recipients": ["intermaris"], "fields": {CANARY_ID: "v"}}]}).to_string()),
        ),
        (
            "POST",
            format!("/v1/cases/{case}/referral"),
            Some(&coordinator),
            Some(json!({"municipalities": [CANARY_ORG], "shares": []}).to_string()),
        ),
        (
            "POST",
            format!("/v1/cases/{case}/rekey"),
            Some(&care),
            Some(json!({"fields": [{"id": uuid::Uuid::new_v4().to_string(), "field": CANARY_ID, "value": "v"}]}).to_string()),
        ),
        (
            "POST",
            "/v1/monitor/reports".into(),
            Some(&care),
            Some(json!({"period": "2025", "counts": {CANARY_ID: 1}}).to_string()),
        ),
        ("GET", format!("/v1/monitor?period={CANARY_ID}"), Some(&coordinator), None),
        ("GET", format!("/v1/cases/{case}/slice?purpose={CANARY_ID}"), Some(&care), None),
        ("GET", format!("/v1/cases/%FF{CANARY}"), Some(&care), None),
        ("GET", format!("/v1/cases/{CANARY}"), Some(&care), None),
        ("GET", format!("/v1/cases/{}", uuid::Uuid::new_v4()), Some(&outsider), None),
        ("GET", format!("/v1/cases/{case}"), Some(&outsider), None),
        ("PUT", format!("/v1/cases/{case}/documents/{CANARY_ID}"), Some(&care), None),
        ("GET", format!("/v1/cases/{case}/consent?format={CANARY}"), Some(&care), None),
        ("GET", "/v1/cases".into(), Some(&forged), None),
        ("GET", format!("/v1/{CANARY}"), None, None),
        ("GET", format!("/v1/audit/events?case={CANARY}"), Some(&officer), None),
        ("GET", format!("/v1/audit/events?client={CANARY_ID}"), Some(&officer), None),
        ("GET", format!("/v1/audit/clients/{CANARY_ID}/report"), Some(&officer), None),
    ];
    for (method, path, token, body) in tries {
        let answer = send(&app, method, &path, token, body).await;
        assert!(
            (400..500).contains(&answer.status),
            "{backend}: {method} {path} answered {}: {}",
            answer.status,
            answer.body
        );
        assert!(
            answer
                .headers
                .contains("\"content-type\": \"application/problem+json\""),
            "{backend}: {method} {path}: {}",
            answer.headers
        );
        answers.push((format!("{method} {path}"), answer));
    }
    for (what, answer) in &answers {
        assert_clean(&format!("{backend}: the answer to {what}"), &answer.body);
        assert_clean(
            &format!("{backend}: the headers of {what}"),
            &answer.headers,
        );
    }
    // Nothing of it was kept: not in any table, not in the database's files, not in a log line.
    assert_clean(
        &format!("{backend}: the database"),
        &app.store.dump_text().await.unwrap(),
    );
    if let Some(file) = &app.db.sqlite_file {
        let dir = file.parent().unwrap();
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            for canary in [CANARY, CANARY_ID, CANARY_ORG] {
                assert!(
                    memchr::memmem::find(&bytes, canary.as_bytes()).is_none(),
                    "{backend}: `{canary}` in a database file"
                );
            }
        }
    }
    let logged = logs.text();
    assert_clean(&format!("{backend}: the log lines"), &logged);
    // The refusals that were about a case are on record, with what the broker knows.
    let events = app.store.audit_log().await.unwrap();
    let denied_shares: Vec<_> = events
        .iter()
        .map(|e| &e.event)
        .filter(|e| e.action == "share" && e.outcome == "denied")
        .collect();
    assert!(
        !denied_shares.is_empty(),
        "{backend}: the outsider's share is on record"
    );
    for e in &denied_shares {
        assert!(
            e.user_agent.is_none(),
            "{backend}: a denied event keeps no user agent"
        );
        assert!(
            e.recipients.iter().all(|r| r == "intermaris"),
            "{backend}: {:?}",
            e.recipients
        );
    }
}
crate::per_backend!(#[tokio::test] async fn caller_text_is_never_echoed_or_kept);

async fn a_refused_read_is_on_record_as_denied(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let case = app.submit("leviaan", &fictional_registration()).await;
    let care = app.token("leviaan").await;
    let before = app.store.audit_log().await.unwrap().len();
    let (status, ct, _) = app
        .raw(
            "GET",
            &format!("/v1/cases/{case}/consent?format=bogus"),
            Some(&care),
            None,
        )
        .await;
    assert_eq!((status, ct.as_str()), (400, "application/problem+json"));
    let events = app.store.audit_log().await.unwrap();
    let new: Vec<_> = events[before..]
        .iter()
        .map(|e| &e.event)
        .filter(|e| e.case.as_deref() == Some(case.as_str()))
        .collect();
    assert_eq!(new.len(), 1, "{backend}: {new:?}");
    assert_eq!(new[0].action, "read");
    assert_eq!(
        new[0].outcome, "denied",
        "{backend}: a refused read is not logged as allowed"
    );
    assert_eq!(
        new[0].reason.as_deref(),
        Some("format is one of: json, fhir")
    );
}
crate::per_backend!(#[tokio::test] async fn a_refused_read_is_on_record_as_denied);

/// An unsigned token (`alg: none`) naming `org`.
fn unsigned_token(org: &str, n: usize) -> String {
    let header = B64URL.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "sub": format!("forged-{n}"), "org": org, "role": "corporation",
        "iss": "sluis", "aud": "sluis", "iat": now, "nbf": now, "exp": now + 600,
    });
    format!("{header}.{}.", B64URL.encode(claims.to_string()))
}

async fn forged_tokens_spend_their_address_budget_not_an_organisations(backend: &'static str) {
    let app = TestApp::on(backend)
        .rate(sluis::api::RateLimit {
            per_second: 1,
            burst: 40,
        })
        .start()
        .await;
    let real = app.token("wooncompagnie").await;
    let before = app.store.audit_log().await.unwrap().len();
    let mut limited = 0;
    for n in 0..120 {
        let (status, ct, _) = app
            .raw(
                "GET",
                "/v1/cases",
                Some(&unsigned_token("wooncompagnie", n)),
                None,
            )
            .await;
        assert_eq!(ct, "application/problem+json");
        match status {
            401 => {}
            429 => limited += 1,
            other => panic!("{backend}: a forged token answered {other}"),
        }
    }
    assert!(
        limited >= 80,
        "{backend}: only {limited} of 120 forged requests were throttled"
    );
    // The organisation's own budget is untouched: its real user gets in.
    let (status, _, body) = app.raw("GET", "/v1/cases", Some(&real), None).await;
    assert_eq!(status, 200, "{backend}: {body}");
    // At most the address's budget of failures reached the access log.
    let written = app.store.audit_log().await.unwrap()[before..]
        .iter()
        .filter(|e| e.event.action == "authenticate")
        .count();
    assert!(
        (1..=40).contains(&written),
        "{backend}: {written} events for 120 forged tokens"
    );
}
crate::per_backend!(#[tokio::test] async fn forged_tokens_spend_their_address_budget_not_an_organisations);

async fn a_user_acts_only_in_its_organisations_role(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let case = app.submit("leviaan", &fictional_registration()).await;
    // The CLI refuses to enrol a user in another role than its organisation's.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sluis"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "user",
            "add",
            "coordinator-at-leviaan",
            "--org",
            "leviaan",
            "--role",
            "coordinator",
        ])
        .env("DATABASE_URL", &app.db.url)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "{backend}: the CLI enrolled a mismatched role"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("its organisation's role"),
        "{backend}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A user stored with another role (older data, or written around the CLI) gets no token
    // and no step.
    let password = sluis::auth::Secret::new("een heel lang wachtwoord".into());
    let user = sluis::store::User {
        id: uuid::Uuid::new_v4().to_string(),
        username: "mismatch".into(),
        org_id: "leviaan".into(),
        role: "coordinator".into(),
        password_hash: Some(sluis::auth::hash_password(&password).unwrap()),
        disabled: false,
    };
    app.store
        .add_user(&user, sluis::audit::Event::admin("test".into()))
        .await
        .unwrap();
    let body = json!({"username": "mismatch", "password": password.expose()}).to_string();
    let (status, _, _) = app
        .raw(
            "POST",
            "/v1/auth/token",
            None,
            Some(("application/json", body.into_bytes())),
        )
        .await;
    assert_eq!(status, 401, "{backend}: a mismatched user got a token");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let token = app
        .state
        .signing
        .issue(&user.id, "leviaan", "coordinator", now)
        .unwrap();
    let body = json!({"decision": "accept"}).to_string();
    let (status, _, text) = app
        .raw(
            "POST",
            &format!("/v1/cases/{case}/assessment"),
            Some(&token),
            Some(("application/json", body.into_bytes())),
        )
        .await;
    assert_eq!(status, 401, "{backend}: {text}");
    let case_now: Value = serde_json::from_str(
        &app.raw(
            "GET",
            &format!("/v1/cases/{case}"),
            Some(&app.token("leviaan").await),
            None,
        )
        .await
        .2,
    )
    .unwrap();
    assert_eq!(case_now["state"], "registered", "{backend}");
}
crate::per_backend!(#[tokio::test] async fn a_user_acts_only_in_its_organisations_role);

async fn numbers_outside_their_range_are_refused(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let case = app.submit("leviaan", &fictional_registration()).await;
    let coordinator = app.token("bct-westfriesland").await;
    let accept =
        json!({"decision": "accept", "fields": sluis::demo::checklist_all_met(&app.policy)})
            .to_string();
    let (status, _, _) = app
        .raw(
            "POST",
            &format!("/v1/cases/{case}/assessment"),
            Some(&coordinator),
            Some(("application/json", accept.into_bytes())),
        )
        .await;
    assert_eq!(status, 200);
    for position in [-1, 0, 10_001] {
        let body = json!({"municipalities": ["hoorn"], "queue_position": position, "shares": []});
        let (status, _, text) = app
            .raw(
                "POST",
                &format!("/v1/cases/{case}/referral"),
                Some(&coordinator),
                Some(("application/json", body.to_string().into_bytes())),
            )
            .await;
        assert_eq!(status, 422, "{backend}: queue_position {position}: {text}");
        assert!(
            text.contains("queue_position") && text.contains("from 1 to 10000"),
            "{text}"
        );
    }
    let meta: Value = serde_json::from_str(
        &app.raw(
            "GET",
            &format!("/v1/cases/{case}"),
            Some(&coordinator),
            None,
        )
        .await
        .2,
    )
    .unwrap();
    assert_eq!(meta["state"], "assessed", "{backend}: nothing was referred");
    let (status, _, text) = app
        .raw(
            "PUT",
            "/v1/referrals/queue",
            Some(&coordinator),
            Some((
                "application/json",
                json!({"order": vec![case.clone(); 10_001]})
                    .to_string()
                    .into_bytes(),
            )),
        )
        .await;
    assert_eq!(status, 422, "{backend}: {text}");
}
crate::per_backend!(#[tokio::test] async fn numbers_outside_their_range_are_refused);

async fn every_rejection_is_a_problem_document_and_401_challenges(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let care = app.token("leviaan").await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", app.broker.base_url);
    // Path parameters that are not UTF-8, for every path with one.
    for path in [
        "/v1/cases/%FF%FE",
        "/v1/cases/%FF/slice?purpose=matching",
        "/v1/cases/%C3%28/consent",
        "/v1/audit/clients/%FF/report",
    ] {
        let resp = http.get(url(path)).bearer_auth(&care).send().await.unwrap();
        let status = resp.status().as_u16();
        let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(
            (400..500).contains(&status),
            "{backend}: {path} answered {status}"
        );
        assert_eq!(ct, "application/problem+json", "{backend}: {path}");
    }
    // A query that cannot be read.
    let resp = http
        .get(url("/v1/monitor?period=%FF"))
        .bearer_auth(&care)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "application/problem+json");
    // No token: a bearer challenge; a bad one: the same with error="invalid_token".
    let resp = http.get(url("/v1/cases")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer realm=\"sluis\"");
    let resp = http
        .get(url("/v1/cases"))
        .bearer_auth("not.a.token")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer realm=\"sluis\", error=\"invalid_token\""
    );
    let resp = http
        .post(url("/v1/auth/token"))
        .json(&json!({"username": "nobody", "password": "wrong password here"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
}
crate::per_backend!(#[tokio::test] async fn every_rejection_is_a_problem_document_and_401_challenges);

async fn metrics_answer_only_their_scraper(backend: &'static str) {
    let token = "een-lang-geheim-voor-de-prometheus-scraper";
    let app = TestApp::on(backend).metrics_token(token).start().await;
    let http = reqwest::Client::new();
    let url = format!("{}/metrics", app.broker.base_url);
    for bearer in [None, Some("wrong"), Some(&app.token("leviaan").await[..])] {
        let mut req = http.get(&url);
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 404, "{backend}: {bearer:?}");
        assert_eq!(resp.headers()["content-type"], "application/problem+json");
    }
    let resp = http.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{backend}");
    assert!(resp.text().await.unwrap().contains("sluis_audit_events"));
    // Without a token configured, the machine itself (this test, on 127.0.0.1) may scrape.
    let open = TestApp::start(backend).await;
    let resp = reqwest::get(format!("{}/metrics", open.broker.base_url))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200, "{backend}");
}
crate::per_backend!(#[tokio::test] async fn metrics_answer_only_their_scraper);
