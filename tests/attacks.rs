//! Attacks on identity: forged, expired and misdirected tokens, and tokens of accounts that
//! are gone. Every one is a 401 problem and a denied event; the rightful token still works.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use common::TestApp;
use sluis::audit::Event;
use sluis::auth::Claims;

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

async fn claims_of(app: &TestApp, org: &str) -> Claims {
    let token = app.token(org).await;
    app.state.signing.verify(&token).unwrap()
}

async fn every_forged_or_stale_token_is_refused(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let good = claims_of(&app, "intermaris").await;
    let key = &app.state.signing;
    let sign = |c: &Claims| key.sign_claims(c).unwrap();
    let header = |json: &str| B64URL.encode(json);
    let payload = B64URL.encode(serde_json::to_vec(&good).unwrap());

    let mut forged: Vec<(&str, String)> = vec![
        (
            "expired",
            sign(&Claims {
                iat: now() - 7200,
                nbf: now() - 7200,
                exp: now() - 3600,
                ..good.clone()
            }),
        ),
        (
            "not yet valid",
            sign(&Claims {
                nbf: now() + 3600,
                exp: now() + 7200,
                ..good.clone()
            }),
        ),
        (
            "wrong audience",
            sign(&Claims {
                aud: "another-api".into(),
                ..good.clone()
            }),
        ),
        (
            "wrong issuer",
            sign(&Claims {
                iss: "not-sluis".into(),
                ..good.clone()
            }),
        ),
        (
            "another organisation's role",
            sign(&Claims {
                role: "coordinator".into(),
                ..good.clone()
            }),
        ),
        (
            "unknown user",
            sign(&Claims {
                sub: uuid::Uuid::new_v4().to_string(),
                ..good.clone()
            }),
        ),
        (
            "alg none",
            format!("{}.{payload}.", header(r#"{"alg":"none","typ":"JWT"}"#)),
        ),
    ];
    // HS256 "signed" with the broker's public key (the classic algorithm confusion).
    let hs = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &good,
        &jsonwebtoken::EncodingKey::from_secret(&key.public_key()),
    )
    .unwrap();
    forged.push(("HS256 with the public key", hs));
    // A payload changed after signing.
    let genuine = sign(&good);
    let parts: Vec<&str> = genuine.split('.').collect();
    let changed = B64URL.encode(
        serde_json::to_vec(&Claims {
            org: "hoorn".into(),
            ..good.clone()
        })
        .unwrap(),
    );
    forged.push((
        "tampered payload",
        format!("{}.{changed}.{}", parts[0], parts[2]),
    ));
    // Another key altogether.
    forged.push((
        "foreign key",
        sluis::auth::SigningKey::ephemeral()
            .sign_claims(&good)
            .unwrap(),
    ));

    let before = app.store.audit_size().await.unwrap();
    for (what, token) in &forged {
        let (status, ct, _) = app.raw("GET", "/v1/cases", Some(token), None).await;
        assert_eq!(
            (status, ct.as_str()),
            (401, "application/problem+json"),
            "{backend}: {what}"
        );
    }
    let log = app.store.audit_log().await.unwrap();
    let denied = log[before as usize..]
        .iter()
        .filter(|s| s.event.action == "authenticate" && s.event.outcome == "denied")
        .count();
    assert_eq!(
        denied,
        forged.len(),
        "{backend}: one denied event per forged token"
    );
    let (status, _, _) = app.raw("GET", "/v1/cases", Some(&genuine), None).await;
    assert_eq!(status, 200, "{backend}: the genuine token still works");

    // A deleted user's and a disabled organisation's still-unexpired tokens stop working.
    app.store
        .delete_user("intermaris-system", Event::admin("test: delete".into()))
        .await
        .unwrap();
    let (status, _, _) = app.raw("GET", "/v1/cases", Some(&genuine), None).await;
    assert_eq!(status, 401, "{backend}: deleted user");
    let hoorn = app.token("hoorn").await;
    app.store
        .set_organisation_disabled("hoorn", true, Event::admin("test: disable".into()))
        .await
        .unwrap();
    let (status, _, _) = app.raw("GET", "/v1/cases", Some(&hoorn), None).await;
    assert_eq!(status, 401, "{backend}: disabled organisation");
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn every_forged_or_stale_token_is_refused);

async fn credential_stuffing_is_slowed_then_refused_and_the_rightful_user_gets_back_in(
    backend: &'static str,
) {
    let limits = sluis::auth::LoginLimits {
        window_secs: 2,
        slow_after: 3,
        refuse_after: 5,
        delay_ms: 300,
        address_factor: 10,
    };
    let app = TestApp::on(backend).limits(limits).start().await;
    let password = sluis::auth::Secret::new("het juiste wachtwoord 42".into());
    let user = sluis::store::User {
        id: uuid::Uuid::new_v4().to_string(),
        username: "m.jansen".into(),
        org_id: "leviaan".into(),
        role: "care".into(),
        password_hash: Some(sluis::auth::hash_password(&password).unwrap()),
        disabled: false,
    };
    app.store
        .add_user(&user, Event::admin("test: add user".into()))
        .await
        .unwrap();
    let attempt = |pw: &str| {
        let body = serde_json::json!({"username": "m.jansen", "password": pw}).to_string();
        let http = reqwest::Client::new();
        let url = format!("{}/v1/auth/token", app.broker.base_url);
        async move {
            let started = std::time::Instant::now();
            let resp = http
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            let retry = resp
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            (resp.status().as_u16(), retry, started.elapsed())
        }
    };
    for _ in 0..3 {
        assert_eq!(attempt("fout").await.0, 401);
    }
    // From the third failure on every attempt waits.
    let (status, _, took) = attempt("fout").await;
    assert_eq!(status, 401);
    assert!(
        took >= std::time::Duration::from_millis(300),
        "{backend}: slowed, took {took:?}"
    );
    assert_eq!(attempt("fout").await.0, 401);
    // Five failures: refused, even with the right password, and told when to come back.
    let (status, retry, _) = attempt("het juiste wachtwoord 42").await;
    assert_eq!((status, retry.as_deref()), (429, Some("2")), "{backend}");
    // Counted per user and per address apart: another account from the same address (an
    // office behind one NAT address) still gets in.
    let key = serde_json::json!({"api_key": app.party("hoorn").api_key.expose()}).to_string();
    let (status, _, _) = app
        .raw(
            "POST",
            "/v1/auth/token",
            None,
            Some(("application/json", key.into_bytes())),
        )
        .await;
    assert_eq!(
        status, 200,
        "{backend}: the rightful user of another account gets in"
    );
    let log = app.store.audit_log().await.unwrap();
    let refused = log
        .iter()
        .filter(|s| {
            s.event.action == "login"
                && s.event
                    .reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("too many"))
        })
        .count();
    assert_eq!(refused, 1, "{backend}: the refusal is on record");
    // Once the window has passed, the rightful user gets in.
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        attempt("het juiste wachtwoord 42").await.0,
        200,
        "{backend}"
    );
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn credential_stuffing_is_slowed_then_refused_and_the_rightful_user_gets_back_in);

async fn each_organisation_has_its_own_request_budget(backend: &'static str) {
    let rate = sluis::api::RateLimit {
        per_second: 2,
        burst: 5,
    };
    let app = TestApp::on(backend).rate(rate).start().await;
    let busy = app.token("intermaris").await;
    let quiet = app.token("hoorn").await;
    let http = reqwest::Client::new();
    let mut answers = Vec::new();
    for _ in 0..12 {
        let resp = http
            .get(format!("{}/v1/cases", app.broker.base_url))
            .bearer_auth(&busy)
            .send()
            .await
            .unwrap();
        let retry = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned());
        answers.push((resp.status().as_u16(), retry, ct));
    }
    let limited: Vec<_> = answers.iter().filter(|(s, _, _)| *s == 429).collect();
    assert!(!limited.is_empty(), "{backend}: {answers:?}");
    assert!(
        answers.iter().take(5).all(|(s, _, _)| *s == 200),
        "the burst passes: {answers:?}"
    );
    for (_, retry, ct) in &limited {
        assert!(
            retry
                .as_deref()
                .is_some_and(|r| r.parse::<u64>().unwrap() >= 1)
        );
        assert_eq!(ct.as_deref(), Some("application/problem+json"));
    }
    // Another organisation is not held back by the first one's burst.
    let (status, _, _) = app.raw("GET", "/v1/cases", Some(&quiet), None).await;
    assert_eq!(status, 200, "{backend}");
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn each_organisation_has_its_own_request_budget);

async fn every_case_endpoint_answers_outsiders_404_and_logs_the_attempt(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let case = app
        .submit_and_refer(
            "leviaan",
            &sluis::demo::fictional_registration(),
            &["hoorn"],
        )
        .await;
    let endpoints: Vec<(&str, String, Option<serde_json::Value>)> = vec![
        ("GET", format!("/v1/cases/{case}"), None),
        (
            "GET",
            format!("/v1/cases/{case}/slice?purpose=matching"),
            None,
        ),
        ("GET", format!("/v1/cases/{case}/consent"), None),
        (
            "POST",
            format!("/v1/cases/{case}/shares"),
            Some(
                serde_json::json!({"shares": [{"recipients": ["hoorn"], "fields": {"full_name": "x y"}}]}),
            ),
        ),
        (
            "POST",
            format!("/v1/cases/{case}/assessment"),
            Some(serde_json::json!({"decision": "accept"})),
        ),
        (
            "POST",
            format!("/v1/cases/{case}/referral"),
            Some(serde_json::json!({"municipalities": ["hoorn"], "shares": []})),
        ),
        (
            "POST",
            format!("/v1/cases/{case}/match"),
            Some(
                serde_json::json!({"home_municipality": "hoorn", "home_kind": "regular", "offer": sluis::demo::fictional_offer("2026-03-20")}),
            ),
        ),
        (
            "POST",
            format!("/v1/cases/{case}/housed"),
            Some(serde_json::json!({"key_handover": "2026-11-01"})),
        ),
        (
            "POST",
            format!("/v1/cases/{case}/lease-conversion"),
            Some(sluis::demo::fictional_conversion("2026-11-02")),
        ),
        (
            "POST",
            format!("/v1/cases/{case}/end"),
            Some(serde_json::json!({"reason": "moved_on"})),
        ),
        (
            "POST",
            format!("/v1/cases/{case}/changes"),
            Some(serde_json::json!({"fields": {"net_monthly_income": 1}})),
        ),
        (
            "POST",
            format!("/v1/cases/{case}/evaluations"),
            Some(
                serde_json::json!({"period": 1, "fields": {"evaluation_period": "x", "evaluation_report": "eA=="}}),
            ),
        ),
        (
            "POST",
            format!("/v1/cases/{case}/consent/withdraw"),
            Some(serde_json::json!({})),
        ),
    ];
    // Every organisation that is not a party: other care organisations, corporations and
    // municipalities not referred, the privacy officer and the admin organisation.
    let parties = [
        "leviaan",
        "bct-westfriesland",
        "hoorn",
        "intermaris",
        "het-grootslag",
        "wooncompagnie",
    ];
    let outsiders: Vec<String> = app
        .policy
        .parties
        .keys()
        .filter(|o| !parties.contains(&o.as_str()))
        .cloned()
        .collect();
    assert_eq!(outsiders.len(), 16);
    let before = app.store.audit_size().await.unwrap();
    let mut tries = 0;
    for org in &outsiders {
        let token = app.token(org).await;
        for (method, path, body) in &endpoints {
            let body = body
                .as_ref()
                .map(|b| ("application/json", b.to_string().into_bytes()));
            let (status, ct, text) = app.raw(method, path, Some(&token), body).await;
            assert_eq!(
                (status, ct.as_str()),
                (404, "application/problem+json"),
                "{backend}: {org} {method} {path}: {text}"
            );
            tries += 1;
        }
    }
    // The upload endpoint streams its body; it is guarded the same way.
    let token = app.token("de-woonschakel").await;
    let (status, _, _) = app
        .raw(
            "PUT",
            &format!("/v1/cases/{case}/documents/perspective_plan"),
            Some(&token),
            Some(("application/pdf", b"%PDF".to_vec())),
        )
        .await;
    assert_eq!(status, 404);
    tries += 1;
    let log = app.store.audit_log().await.unwrap();
    let denied: Vec<_> = log[before as usize..]
        .iter()
        .filter(|s| s.event.outcome == "denied" && s.event.case.as_deref() == Some(case.as_str()))
        .collect();
    assert_eq!(
        denied.len(),
        tries,
        "{backend}: one denied event per attempt"
    );
    assert!(
        denied
            .iter()
            .all(|s| s.event.reason.as_deref() == Some("not a party to the case"))
    );
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn every_case_endpoint_answers_outsiders_404_and_logs_the_attempt);

#[tokio::test]
async fn responses_carry_security_headers_and_cors_stays_closed() {
    let app = TestApp::start("sqlite").await;
    let resp = reqwest::Client::new()
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/v1/cases", app.broker.base_url),
        )
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(
        resp.headers().get("access-control-allow-origin").is_none(),
        "no CORS grant"
    );
    let resp = reqwest::get(format!("{}/v1/policy", app.broker.base_url))
        .await
        .unwrap();
    let h = resp.headers();
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("cache-control", "no-store"),
        ("referrer-policy", "no-referrer"),
        (
            "content-security-policy",
            "default-src 'none'; frame-ancestors 'none'",
        ),
    ] {
        assert_eq!(
            h.get(name).and_then(|v| v.to_str().ok()),
            Some(value),
            "{name}"
        );
    }
    assert!(h.get("x-request-id").is_some());
    let ready: serde_json::Value = reqwest::get(format!("{}/readyz", app.broker.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["status"], "ready");
    assert_eq!(ready["database"], "sqlite");
    // A body over the global limit is refused, and the broker stays up.
    let token = app.token("leviaan").await;
    let huge = vec![b' '; sluis::api::BODY_LIMIT + 1];
    let (status, ct, _) = app
        .raw(
            "POST",
            "/v1/cases",
            Some(&token),
            Some(("application/json", huge)),
        )
        .await;
    assert_eq!((status, ct.as_str()), (413, "application/problem+json"));
    let (status, _, _) = app.raw("GET", "/v1/cases", Some(&token), None).await;
    assert_eq!(status, 200);
    app.broker.stop().await.unwrap();
}

#[tokio::test]
async fn a_rotated_signing_key_keeps_its_tokens_and_checkpoints_valid() {
    let app = TestApp::start("sqlite").await;
    let old_token = app.token("intermaris").await;
    let officer = app.client("fg-westfriesland").await;
    officer
        .post_json("/v1/audit/checkpoints", &serde_json::Value::Null)
        .await
        .unwrap();
    // The broker restarts with a new key; the old one verifies only.
    let old_key = sluis::auth::SigningKey::from_pkcs8_der(&app.state.signing.pkcs8()).unwrap();
    let mut rotated = sluis::api::AppState::ephemeral(app.store.clone(), app.policy.clone());
    rotated.previous_keys = std::sync::Arc::new(vec![old_key]);
    rotated.rate = sluis::api::RateLimit {
        per_second: 100_000,
        burst: 100_000,
    };
    let broker = sluis::api::RunningBroker::start(rotated.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let get = |token: String| {
        let url = format!("{}/v1/cases", broker.base_url);
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(
        get(old_token.clone()).await,
        200,
        "a token of the previous key until it expires"
    );
    let new_token = rotated
        .signing
        .issue(
            &claims_of(&app, "hoorn").await.sub,
            "hoorn",
            "municipality",
            now(),
        )
        .unwrap();
    assert_eq!(get(new_token).await, 200);
    assert_eq!(
        get(sluis::auth::SigningKey::ephemeral()
            .sign_claims(&claims_of(&app, "hoorn").await)
            .unwrap())
        .await,
        401
    );
    // Checkpoints of both keys verify.
    rotated.checkpoint().await.unwrap();
    let log = app.store.audit_log().await.unwrap();
    let notes = app.store.checkpoint_notes().await.unwrap();
    assert_eq!(notes.len(), 2);
    let report = sluis::audit::verify(&log, &notes, &rotated.verifier_keys());
    assert!(report.ok, "{:?}", report.first_problem);
    let only_new = sluis::audit::verify(&log, &notes, &rotated.verifier_keys()[..1]);
    assert!(!only_new.ok, "the old checkpoint needs the old key");
    broker.stop().await.unwrap();
    app.broker.stop().await.unwrap();
}

#[tokio::test]
async fn with_a_certificate_the_broker_speaks_only_tls() {
    let app = TestApp::start("sqlite").await;
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tls = sluis::api::TlsFiles {
        cert: dir.path().join("cert.pem"),
        key: dir.path().join("key.pem"),
    };
    std::fs::write(&tls.cert, cert.cert.pem()).unwrap();
    std::fs::write(&tls.key, cert.key_pair.serialize_pem()).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let state = app.state.clone();
    let server = tokio::spawn(async move {
        sluis::api::serve_tls(listener, state, &tls, async {
            let _ = stopped.await;
        })
        .await
    });
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let mut answer = None;
    for _ in 0..100 {
        if let Ok(resp) = client
            .get(format!("https://localhost:{port}/v1/policy"))
            .send()
            .await
        {
            answer = Some(resp);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let resp = answer.expect("the TLS broker answers");
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers().get("strict-transport-security").unwrap(),
        "max-age=31536000"
    );
    // Plain HTTP to the TLS port gets no answer.
    let plain = reqwest::get(format!("http://127.0.0.1:{port}/v1/policy")).await;
    assert!(plain.map_or(true, |r| !r.status().is_success()));
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    app.broker.stop().await.unwrap();
}
