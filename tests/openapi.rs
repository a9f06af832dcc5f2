//! The OpenAPI document: served at /v1/openapi.json, it lists exactly the broker's operations,
//! each with the problem answers, and the bearer scheme on every operation that needs a token.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use common::TestApp;
use serde_json::Value;

/// Every operation of the router, written out.
const OPERATIONS: [(&str, &str); 61] = [
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
    ("get", "/v1/openapi.json"),
    ("get", "/v1/policy"),
    ("post", "/v1/auth/token"),
    ("get", "/v1/me"),
    ("put", "/v1/me/password"),
    ("get", "/v1/me/members"),
    ("put", "/v1/members/{user}/identity"),
    ("get", "/v1/users"),
    ("get", "/v1/organisations"),
    ("get", "/v1/cases"),
    ("post", "/v1/cases"),
    ("get", "/v1/cases/{id}"),
    ("post", "/v1/cases/{id}/shares"),
    ("get", "/v1/cases/{id}/slice"),
    ("get", "/v1/cases/names"),
    ("post", "/v1/cases/{id}/rekey"),
    ("post", "/v1/cases/{id}/assessment"),
    ("post", "/v1/cases/{id}/referral"),
    ("post", "/v1/cases/{id}/match"),
    ("post", "/v1/cases/{id}/housed"),
    ("post", "/v1/cases/{id}/lease-conversion"),
    ("post", "/v1/cases/{id}/end"),
    ("post", "/v1/cases/{id}/changes"),
    ("post", "/v1/cases/{id}/evaluations"),
    ("post", "/v1/cases/{id}/signals"),
    ("post", "/v1/cases/{id}/applications"),
    ("get", "/v1/cases/{id}/applications"),
    ("post", "/v1/cases/{id}/applications/{application}/decision"),
    ("get", "/v1/applications/overdue"),
    ("post", "/v1/cases/{id}/messages"),
    ("get", "/v1/cases/{id}/messages"),
    ("post", "/v1/cases/{id}/reports"),
    ("post", "/v1/cases/{id}/reports/{report}/acknowledgement"),
    ("put", "/v1/cases/{id}/documents/{field}"),
    ("get", "/v1/cases/{id}/consent"),
    ("post", "/v1/cases/{id}/consent/withdraw"),
    ("post", "/v1/cases/{id}/consent"),
    ("get", "/v1/cases/{id}/consents"),
    ("get", "/v1/consents/expiring"),
    ("post", "/v1/cases/{id}/erasure"),
    ("get", "/v1/cases/{id}/receipts"),
    ("get", "/v1/inbox"),
    ("post", "/v1/inbox/read"),
    ("put", "/v1/referrals/queue"),
    ("get", "/v1/evaluations/overdue"),
    ("get", "/v1/monitor"),
    ("post", "/v1/monitor/reports"),
    ("get", "/v1/audit/events"),
    ("post", "/v1/audit/pseudonyms"),
    ("get", "/v1/audit/clients/{pseudonym}/report"),
    ("get", "/v1/audit/verify"),
    ("get", "/v1/audit/signals"),
    ("get", "/v1/audit/checkpoint"),
    ("get", "/v1/audit/checkpoints"),
    ("post", "/v1/audit/checkpoints"),
    ("get", "/v1/audit/vkey"),
    ("get", "/v1/audit/proofs/inclusion"),
    ("get", "/v1/audit/proofs/consistency"),
];

#[tokio::test]
async fn the_document_lists_every_operation_with_its_problems() {
    let app = TestApp::start("sqlite").await;
    let (status, content_type, body) = app.raw("GET", "/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "application/json");
    let doc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut listed: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    listed.sort();
    let mut expected: Vec<(String, String)> = OPERATIONS
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    expected.sort();
    assert_eq!(listed, expected);

    // Every documented operation answers (a routed status, not the fallback's 404 for an
    // unknown path with a problem of its own).
    for (method, path) in &expected {
        let concrete = path
            .replace("{id}", "9d5ed678-fe57-4cca-b2d0-62e1c2a0b2a1")
            .replace("{field}", "perspective_plan")
            .replace("{pseudonym}", "abc");
        let (status, _, body) = app.raw(&method.to_uppercase(), &concrete, None, None).await;
        assert!(
            !(status == 404 && body.contains("no such endpoint")),
            "{method} {path} is documented but not routed"
        );
    }

    let slice = &doc["paths"]["/v1/cases/{id}/slice"]["get"];
    assert_eq!(slice["security"], serde_json::json!([{"bearer": []}]));
    assert_eq!(
        slice["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Slice"
    );
    for status in [
        "400", "401", "403", "404", "409", "422", "429", "503", "507",
    ] {
        assert_eq!(
            slice["responses"][status]["content"]["application/problem+json"]["schema"]["$ref"],
            "#/components/schemas/Problem",
            "{status}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let problem = &doc["components"]["schemas"]["Problem"]["properties"];
    for key in ["type", "title", "status", "detail", "errors"] {
        assert!(problem.get(key).is_some(), "Problem lacks {key}");
    }
    app.broker.stop().await.unwrap();
}

/// The whole document as served, against `tests/snapshots/openapi__openapi.snap`: any change
/// of the API (a path, a schema, a description) shows as a diff of that file
/// (`INSTA_UPDATE=always cargo test --test openapi` writes the new one to review).
#[tokio::test]
async fn the_document_is_as_snapshotted() {
    let app = TestApp::start("sqlite").await;
    let (status, _, body) = app.raw("GET", "/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&body).unwrap();
    insta::assert_json_snapshot!("openapi", doc);
}
