//! Canary: values with unique markers go in; afterwards no marker may appear in the database
//! (SQLite file and WAL, every table on either backend), in anything logged at TRACE level,
//! or in an error answer.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::TestApp;
use serde_json::{Value, json};
use sluis::demo::fictional_registration;

/// The demo form with a marker in every text, list and document value.
fn marked_form(marker: &str) -> (Value, Vec<String>) {
    let mut form = fictional_registration();
    let mut markers = Vec::new();
    let text_fields = [
        "full_name",
        "current_address",
        "woonmatch_number",
        "partner_name",
        "housing_preferences",
        "routes_tried",
        "plan_motivation",
        "plan_problems",
        "plan_goals",
        "plan_results",
        "plan_means",
        "form_cosigned_by",
        "affordability",
        "financial_administrator",
        "financial_administrator_contact",
        "dwelling_constraints",
        "guide_name",
        "municipality_of_origin",
        "social_network_location",
        "work_education_location",
        "transport_means",
        "eviction_reason",
        "nuisance_history",
        "problems",
        "guidance_needs",
        "contra_indications",
    ];
    for id in text_fields {
        let m = format!("{marker}{id}");
        form[id] = json!(m);
        markers.push(m);
    }
    let list = format!("{marker}benefits");
    form["benefits"] = json!([list]);
    markers.push(list);
    let email = format!("{marker}mail@example.nl");
    form["email"] = json!(email);
    markers.push(email);
    let doc = format!("Perspectiefplan {marker}perspective_plan");
    form["perspective_plan"] = json!(BASE64.encode(&doc));
    markers.push(format!("{marker}perspective_plan"));
    markers.push(BASE64.encode(&doc));
    (form, markers)
}

async fn no_value_reaches_the_database_the_logs_or_an_error(backend: &'static str) {
    let logs = common::capture_all_logs();
    let started = std::time::SystemTime::now();
    let app = TestApp::start(backend).await;
    let marker = format!("CANARY{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let (form, markers) = marked_form(&marker);
    let case = app
        .submit_and_refer("leger-des-heils", &form, &["enkhuizen"])
        .await;

    // A change report and a document uploaded later carry markers too.
    let care = app.client("leger-des-heils").await;
    let changed = format!("{marker}changed");
    care.step(
        &case,
        "changes",
        &json!({"fields": {"affordability": changed}}),
    )
    .await
    .unwrap();
    let upload = format!("Perspectiefplan {marker}uploaded");
    care.upload(&case, "perspective_plan", upload.clone().into_bytes())
        .await
        .unwrap();
    let mut markers = markers;
    markers.extend([changed, format!("{marker}uploaded")]);
    // Assessment notes, a match and housing, an evaluation, and a second case whose consent
    // scan carries a marker: every endpoint that takes data.
    let coordinator = app.client("bct-westfriesland").await;
    let notes = format!("{marker}notes");
    coordinator.step(&case, "shares", &json!({"shares": [{"recipients": ["enkhuizen"], "fields": {"guide_name": format!("{marker}shared")}}]})).await.unwrap();
    let corporation = app.client("de-woonschakel").await;
    corporation
        .step(
            &case,
            "match",
            &json!({"home_municipality": "enkhuizen", "home_kind": "regular", "offer": {
                "offer_address": format!("{marker}address"), "offer_rent": 612,
                "offer_conditions": format!("{marker}conditions"), "offer_viewing_on": "2026-03-20"
            }}),
        )
        .await
        .unwrap();
    // An application (with the care organisation's re-share) and the decision on it.
    let applied = care
        .apply(
            &case,
            &app.party("leger-des-heils").identity,
            &app.policy,
            "guidance",
            &json!({"application_request": format!("{marker}request"),
                    "application_attachment": BASE64.encode(format!("bijlage {marker}attachment"))}),
        )
        .await
        .unwrap();
    let application = applied["application"]["id"].as_str().unwrap().to_owned();
    app.client("enkhuizen")
        .await
        .post_json(
            &format!("/v1/cases/{case}/applications/{application}/decision"),
            &json!({"outcome": "granted", "decided_on": app.store.clock().today(),
                    "fields": {"decision_motivation": format!("{marker}motivation")}}),
        )
        .await
        .unwrap();
    corporation
        .step(&case, "housed", &json!({"key_handover": "2026-11-01"}))
        .await
        .unwrap();
    let evaluation = format!("Evaluatie {marker}evaluation");
    care.step(
        &case,
        "evaluations",
        &json!({"period": 1, "fields": {
            "evaluation_period": format!("{marker}period"),
            "eval_living": format!("{marker}living"),
            "eval_finances": format!("{marker}finances"),
            "eval_guidance": format!("{marker}guidance"),
            "eval_plan_goals": format!("{marker}goals"),
            "eval_next_steps": format!("{marker}next"),
            "evaluation_report": BASE64.encode(&evaluation),
        }}),
    )
    .await
    .unwrap();
    let mut consent = sluis::demo::fictional_consent();
    let scan = format!("%PDF scan {marker}consent");
    consent["document"] = json!(BASE64.encode(&scan));
    let second = care
        .submit("registration", &marked_form(&marker).0, &consent)
        .await
        .unwrap();
    let second = second["id"].as_str().unwrap().to_owned();
    coordinator
        .step(
            &second,
            "assessment",
            &json!({"decision": "reject", "fields": {
                "decision_reason": notes.clone(),
                "criteria_checklist": sluis::demo::checklist(&app.policy, Some("ready_for_outflow"))["criteria_checklist"],
            }}),
        )
        .await
        .unwrap();
    markers.extend([
        notes,
        format!("{marker}shared"),
        format!("{marker}evaluation"),
        format!("{marker}period"),
        format!("{marker}living"),
        format!("{marker}finances"),
        format!("{marker}guidance"),
        format!("{marker}goals"),
        format!("{marker}next"),
        format!("{marker}consent"),
        BASE64.encode(&scan),
        format!("{marker}address"),
        format!("{marker}conditions"),
        format!("{marker}request"),
        format!("{marker}attachment"),
        format!("{marker}motivation"),
    ]);
    // The parties did get the values (so the markers really went through the broker).
    let slice = app
        .client("de-woonschakel")
        .await
        .slice(&case, "matching")
        .await
        .unwrap();
    let opened =
        sluis::client::open_slice(&slice, &app.party("de-woonschakel").identity, &app.policy)
            .unwrap();
    assert_eq!(
        opened.fields["full_name"],
        json!(format!("{marker}full_name"))
    );
    // The corporation rotates its key: its values travel through the broker once more.
    let new_identity = sluis::sealing::Identity::generate();
    app.store
        .set_recipient(
            "de-woonschakel",
            &new_identity.recipient().to_string(),
            sluis::audit::Event::admin("recipient of de-woonschakel".into()),
        )
        .await
        .unwrap();
    let rekeyed = app
        .client("de-woonschakel")
        .await
        .rekey(
            &case,
            &app.party("de-woonschakel").identity,
            &new_identity,
            &app.policy,
        )
        .await
        .unwrap();
    assert!(rekeyed.rekeyed > 0);

    // Rejected requests must not echo values either.
    let token = app.token("leger-des-heils").await;
    let mut bad = marked_form(&marker).0;
    bad["full_name"] = json!(format!("{marker}{}", "x".repeat(300)));
    bad["children_count"] = json!(format!("{marker}count"));
    bad[format!("{marker}key")] = json!("v");
    bad["problems"] = json!({ "nested": format!("{marker}nested") });
    for body in [
        json!({"form": "registration", "fields": bad}).to_string(),
        json!({"form": format!("{marker}form"), "fields": {}}).to_string(),
        json!({"form": "registration", "fields": format!("{marker}notamap")}).to_string(),
        format!(
            "{{\"form\": \"registration\", \"fields\": {{\"full_name\": \"{marker}unterminated"
        ),
    ] {
        let (status, _, text) = app
            .raw(
                "POST",
                "/v1/cases",
                Some(&token),
                Some(("application/json", body.into_bytes())),
            )
            .await;
        assert!((400..500).contains(&status), "{status}: {text}");
        assert!(
            !text.contains(&marker),
            "{backend}: an error answer echoed a value: {text}"
        );
    }

    let dump = app.store.dump_text().await.unwrap();
    assert!(
        dump.contains("sealed_fields.field_id=full_name"),
        "the dump must cover the sealed fields"
    );
    for m in &markers {
        assert!(
            !dump.contains(m.as_str()),
            "{backend}: a value reached the database"
        );
    }
    if let Some(file) = &app.db.sqlite_file {
        for path in [file.clone(), file.with_extension("db-wal")] {
            if let Ok(bytes) = std::fs::read(&path) {
                for m in &markers {
                    assert!(
                        !bytes.windows(m.len()).any(|w| w == m.as_bytes()),
                        "{} holds a value",
                        path.display()
                    );
                }
            }
        }
    }
    app.broker.stop().await.unwrap();
    // Temporary files: whatever was written under the temp directory while this ran (this
    // test's database, and other tests' files) holds none of the values.
    let mut scanned = 0;
    // Every marker contains `marker` but the consent scan's base64, so two needles do.
    let needles = [
        memchr::memmem::Finder::new(marker.as_bytes()),
        memchr::memmem::Finder::new(markers.last().unwrap().as_bytes()),
    ];
    for path in files_written_since(&std::env::temp_dir(), started) {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        scanned += 1;
        for needle in &needles {
            assert!(
                needle.find(&bytes).is_none(),
                "temporary file {} holds a value",
                path.display()
            );
        }
    }
    if app.db.sqlite_file.is_some() {
        assert!(scanned > 0, "the scan must see this test's own database");
    }
    let logged = logs.text();
    assert!(
        logged.contains("case submitted"),
        "the capture must see the broker's logs"
    );
    assert!(!logged.contains("CANARY"), "a value was logged");
}
crate::per_backend!(#[tokio::test] async fn no_value_reaches_the_database_the_logs_or_an_error);

/// Regular files under `dir` (up to 8 levels down, at most 64 MiB each) modified since `since`.
fn files_written_since(
    dir: &std::path::Path,
    since: std::time::SystemTime,
) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_owned(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            if meta.is_dir() && depth < 8 {
                stack.push((entry.path(), depth + 1));
            } else if meta.is_file()
                && meta.len() <= 64 * 1024 * 1024
                && meta.modified().is_ok_and(|m| m >= since)
            {
                out.push(entry.path());
            }
        }
    }
    out
}
