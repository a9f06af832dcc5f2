//! A case that talks both ways: messages sealed to the audience their writer picks, within what
//! the policy lets each role see; the reports of a consultation (art. 15) and of the hand-over
//! (art. 16) acknowledged by each participant, every step on record, on every backend.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use std::collections::BTreeSet;

use common::TestApp;
use serde_json::{Value, json};
use sluis::demo::{fictional_offer, fictional_registration};
use sluis::store::EventFilter;

const CARE: &str = "leviaan";
const COORDINATOR: &str = "bct-westfriesland";
/// The parties of a case referred to Hoorn: the municipality and its corporations.
const PARTIES: [&str; 6] = [
    CARE,
    COORDINATOR,
    "hoorn",
    "het-grootslag",
    "intermaris",
    "wooncompagnie",
];

fn status(r: &Result<Value, sluis::client::ClientError>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(e) => e.status().unwrap_or(0),
    }
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// The organisations among `orgs` whose own identity opens item `item` of the case, each
/// opening its own slice (and the store holding no file of the item for the others).
async fn readers(app: &TestApp, case: &str, item: &str, orgs: &[&str]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for org in orgs {
        let stored = app.store.slice(case, org).await.unwrap();
        let holds = stored.iter().any(|f| f.item.as_deref() == Some(item));
        let Ok(slice) = app.client(org).await.slice(case, "guidance").await else {
            assert!(!holds, "{org} holds a file of {item} it cannot download");
            continue;
        };
        let opened =
            sluis::client::open_slice(&slice, &app.party(org).identity, &app.policy).unwrap();
        assert_eq!(opened.items.contains_key(item), holds, "{org}");
        if holds {
            out.insert((*org).to_owned());
        }
    }
    out
}

async fn post(app: &TestApp, org: &str, path: &str, body: &Value) -> Result<Value, u16> {
    let r = app.client(org).await.post_json(path, body).await;
    r.map_err(|e| e.status().unwrap_or(0))
}

fn thread_ids(thread: &Value) -> Vec<String> {
    (thread.as_array().unwrap().iter())
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn messages_reach_exactly_the_audience_the_policy_allows(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let case = app
        .submit_and_refer(CARE, &fictional_registration(), &["hoorn"])
        .await;
    let messages = format!("/v1/cases/{case}/messages");
    let message = |to: &[&str], about: &str, text: &str| json!({"to": to, "about": about, "fields": {"message_text": text}});
    // The coordinator asks the care organisation about the client's health: only they read it.
    let question = message(
        &[CARE],
        "health_care",
        "Is de begeleiding na de verhuizing rond?",
    );
    let done = post(&app, COORDINATOR, &messages, &question).await.unwrap();
    let asked = done["message"]["id"].as_str().unwrap().to_owned();
    assert_eq!(done["message"]["about"], "health_care");
    assert_eq!(
        done["sealed"]["message_text"],
        json!([COORDINATOR, CARE]),
        "{backend}"
    );
    assert_eq!(
        readers(&app, &case, &asked, &PARTIES).await,
        set(&[CARE, COORDINATOR]),
        "{backend}"
    );
    // Stored under the category it is about, so consent and the policy of health apply.
    let stored = app.store.slice(&case, CARE).await.unwrap();
    let file = stored.iter().find(|f| f.item.as_deref() == Some(&asked));
    assert_eq!(file.unwrap().category, "health_care");

    // The care organisation answers; the answer names the question.
    let mut answer = message(&[COORDINATOR], "health_care", "Ja, twee keer per week.");
    answer["reply_to"] = json!(asked);
    let done = post(&app, CARE, &messages, &answer).await.unwrap();
    let answered = done["message"]["id"].as_str().unwrap().to_owned();
    let read = app
        .client(COORDINATOR)
        .await
        .thread(&case, &app.party(COORDINATOR).identity, &app.policy)
        .await
        .unwrap();
    let texts: Vec<(&str, &str)> = (read.0.iter())
        .map(|m| {
            (
                m["sender"].as_str().unwrap(),
                m["fields"]["message_text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        texts,
        [
            (COORDINATOR, "Is de begeleiding na de verhuizing rond?"),
            (CARE, "Ja, twee keer per week.")
        ],
        "{backend}"
    );
    assert_eq!(read.0[1]["reply_to"], json!(asked));

    // A corporation writes about the case's progress to the care organisation and the
    // coordinator; it cannot write about health, nor a health question reach a corporation.
    let viewing = message(
        &[CARE, COORDINATOR],
        "message",
        "Bezichtiging kan volgende week.",
    );
    let done = post(&app, "intermaris", &messages, &viewing).await.unwrap();
    let progress = done["message"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        readers(&app, &case, &progress, &PARTIES).await,
        set(&[CARE, COORDINATOR, "intermaris"]),
        "{backend}"
    );
    let refusals = [
        (
            "intermaris",
            message(&["wooncompagnie"], "health_care", "x"),
            403,
        ),
        (
            COORDINATOR,
            message(&["wooncompagnie"], "health_care", "x"),
            403,
        ),
        // A referred municipality: health only with an application to it.
        (COORDINATOR, message(&["hoorn"], "health_care", "x"), 403),
        (COORDINATOR, message(&["enkhuizen"], "message", "x"), 422),
        (COORDINATOR, message(&[], "message", "x"), 422),
        (COORDINATOR, message(&[CARE], "consultation", "x"), 422),
        (COORDINATOR, message(&[CARE], "no_such_category", "x"), 422),
        (
            COORDINATOR,
            json!({"to": [CARE], "fields": {"message_text": ""}}),
            422,
        ),
        (
            COORDINATOR,
            json!({"to": [CARE], "fields": {"offer_rent": 600}}),
            422,
        ),
        (
            COORDINATOR,
            json!({"to": [CARE], "fields": {"message_text": "x"}, "reply_to": "nope"}),
            422,
        ),
    ];
    for (org, body, expected) in refusals {
        let got = post(&app, org, &messages, &body).await.err();
        assert_eq!(got, Some(expected), "{backend}: {org} {body}");
    }
    // The municipality of the referral hears of progress.
    let to_hoorn = message(
        &["hoorn"],
        "message",
        "De woning wordt volgende week bezichtigd.",
    );
    let done = post(&app, COORDINATOR, &messages, &to_hoorn).await.unwrap();
    let told = done["message"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        readers(&app, &case, &told, &PARTIES).await,
        set(&[COORDINATOR, "hoorn"])
    );
    // Nothing of the refusals was kept: four messages in the thread.
    assert_eq!(
        app.store.messages(&case).await.unwrap().len(),
        4,
        "{backend}"
    );

    // Each organisation sees the messages it wrote or received; an outsider the same 404.
    let thread = |org: &'static str| {
        let (app, path) = (&app, messages.clone());
        async move { app.client(org).await.get_json(&path).await }
    };
    assert_eq!(
        thread_ids(&thread(COORDINATOR).await.unwrap()),
        [asked.clone(), answered, progress.clone(), told.clone()]
    );
    assert_eq!(thread_ids(&thread("intermaris").await.unwrap()), [progress]);
    assert_eq!(thread_ids(&thread("hoorn").await.unwrap()), [told]);
    assert!(thread_ids(&thread("wooncompagnie").await.unwrap()).is_empty());
    for outsider in ["parlan", "enkhuizen"] {
        assert_eq!(status(&thread(outsider).await), 404, "{backend}");
        let got = post(&app, outsider, &messages, &message(&[CARE], "message", "x")).await;
        assert_eq!(got.err(), Some(404), "{backend}");
    }
    // A message is correspondence: no share carries it on.
    let share = json!({"shares": [{"recipients": ["hoorn"], "fields": {"message_text": "x"}}]});
    let got = post(
        &app,
        COORDINATOR,
        &format!("/v1/cases/{case}/shares"),
        &share,
    )
    .await;
    assert_eq!(got.err(), Some(403), "{backend}");

    // Each addressee is notified, without content.
    let inbox = app.client(CARE).await.get_json("/v1/inbox").await.unwrap();
    let details: Vec<&str> = (inbox.as_array().unwrap().iter())
        .filter(|n| n["case"] == json!(case) && n["kind"] == "message")
        .map(|n| n["detail"].as_str().unwrap())
        .collect();
    assert_eq!(
        details.iter().collect::<BTreeSet<_>>(),
        BTreeSet::from([
            &"a message about health_care from bct-westfriesland",
            &"a message about message from intermaris"
        ]),
        "{backend}"
    );
    // Every message is an event naming whom it was sealed to; refusals are denied events.
    let events = (app.store)
        .events(&EventFilter {
            case: Some(case.clone()),
            limit: Some(1000),
            ..EventFilter::default()
        })
        .await
        .unwrap();
    let sent = events
        .iter()
        .find(|e| e.reason.as_deref() == Some(&format!("message {asked}")))
        .expect("the question's event");
    assert_eq!(sent.outcome, "allowed");
    assert_eq!(sent.categories, ["health_care"]);
    assert_eq!(sent.recipients, [COORDINATOR, CARE]);
    assert!(
        events.iter().any(|e| e.outcome == "denied"
            && e.org.as_deref() == Some("intermaris")
            && e.reason.as_deref()
                == Some(
                    "role `corporation` may not write about category `health_care`: the policy \
                     does not grant it to that role"
                )),
        "{backend}"
    );
    // A closed case takes no more messages.
    (app.client(COORDINATOR).await)
        .step(&case, "end", &json!({"reason": "other"}))
        .await
        .unwrap();
    let late = post(
        &app,
        CARE,
        &messages,
        &message(&[COORDINATOR], "message", "x"),
    )
    .await;
    assert_eq!(late.err(), Some(409), "{backend}");
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn messages_reach_exactly_the_audience_the_policy_allows);

async fn every_participant_acknowledges_a_report(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let case = app
        .submit_and_refer(CARE, &fictional_registration(), &["hoorn"])
        .await;
    let reports = format!("/v1/cases/{case}/reports");
    let today = time::OffsetDateTime::now_utc().date().to_string();
    let consultation = json!({
        "kind": "client_consultation", "held_on": today, "to": [CARE, "intermaris", "hoorn"],
        "fields": {
            "consultation_present": "Uitstroomcoördinator, begeleider, corporatie, gemeente, cliënt.",
            "consultation_problem": "De cliënt wil liever in Zwaag wonen.",
            "consultation_decision": "Eerst de woning in Hoorn bezichtigen; overwegingen besproken."
        }
    });
    assert_eq!(
        post(&app, CARE, &reports, &consultation).await.err(),
        Some(403),
        "{backend}: the coordinator writes it"
    );
    let mut future = consultation.clone();
    future["held_on"] = json!("2999-01-01");
    assert_eq!(
        post(&app, COORDINATOR, &reports, &future).await.err(),
        Some(422)
    );
    let mut incomplete = consultation.clone();
    incomplete["fields"]
        .as_object_mut()
        .unwrap()
        .remove("consultation_decision");
    assert_eq!(
        post(&app, COORDINATOR, &reports, &incomplete).await.err(),
        Some(422)
    );
    let done = post(&app, COORDINATOR, &reports, &consultation)
        .await
        .unwrap();
    let report = done["message"]["id"].as_str().unwrap().to_owned();
    assert_eq!(done["message"]["held_on"], json!(today));
    assert_eq!(
        readers(&app, &case, &report, &PARTIES).await,
        set(&[CARE, COORDINATOR, "hoorn", "intermaris"]),
        "{backend}"
    );
    let opened = app
        .client("hoorn")
        .await
        .thread(&case, &app.party("hoorn").identity, &app.policy)
        .await
        .unwrap();
    assert_eq!(
        opened.0[0]["fields"]["consultation_problem"],
        "De cliënt wil liever in Zwaag wonen."
    );

    // Each participant acknowledges, once; the author and others do not.
    let ack = |org: &'static str| {
        let (app, path) = (&app, format!("{reports}/{report}/acknowledgement"));
        async move { post(app, org, &path, &json!({})).await }
    };
    let acknowledged = ack(CARE).await.unwrap();
    let by_care = acknowledged["to"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["org"] == CARE)
        .unwrap();
    assert!(by_care["acknowledged_at"].is_string(), "{backend}");
    assert_eq!(ack(CARE).await.err(), Some(409), "{backend}: once");
    assert_eq!(ack(COORDINATOR).await.err(), Some(403), "{backend}: author");
    assert_eq!(
        ack("wooncompagnie").await.err(),
        Some(404),
        "{backend}: not addressed"
    );
    assert_eq!(ack("parlan").await.err(), Some(404), "{backend}: outsider");
    ack("hoorn").await.unwrap();
    let thread = app
        .client(COORDINATOR)
        .await
        .get_json(&format!("/v1/cases/{case}/messages"))
        .await
        .unwrap();
    let pending: Vec<(&str, bool)> = (thread[0]["to"].as_array().unwrap().iter())
        .map(|a| (a["org"].as_str().unwrap(), a["acknowledged_at"].is_string()))
        .collect();
    assert_eq!(
        pending,
        [("hoorn", true), ("intermaris", false), (CARE, true)],
        "{backend}"
    );
    // The author hears of each acknowledgement; each is an event of its own.
    let inbox = app
        .client(COORDINATOR)
        .await
        .get_json("/v1/inbox")
        .await
        .unwrap();
    let heard = (inbox.as_array().unwrap().iter())
        .filter(|n| n["case"] == json!(case) && n["kind"] == "acknowledged")
        .count();
    assert_eq!(heard, 2, "{backend}");
    let events = (app.store)
        .events(&EventFilter {
            case: Some(case.clone()),
            outcome: Some("allowed".into()),
            limit: Some(1000),
            ..EventFilter::default()
        })
        .await
        .unwrap();
    let acks: BTreeSet<&str> = (events.iter())
        .filter(|e| e.reason.as_deref() == Some(&format!("acknowledge {report}")))
        .filter_map(|e| e.org.as_deref())
        .collect();
    assert_eq!(acks, BTreeSet::from([CARE, "hoorn"]), "{backend}");

    // The hand-over: by the municipality of the home once the client lives there (art. 16).
    let handover = json!({
        "kind": "handover", "held_on": today, "to": [CARE, COORDINATOR],
        "fields": {
            "handover_present": "Begeleider Leviaan, Wmo-begeleider, cliënt.",
            "handover_plan": "Doelen wonen en financiën gehaald; aandacht voor dagbesteding.",
            "handover_client_view": "Tevreden; wil meer uren werken."
        }
    });
    assert_eq!(
        post(&app, "hoorn", &reports, &handover).await.err(),
        Some(409),
        "{backend}: before the client lives there"
    );
    let corporation = app.client("intermaris").await;
    let matched = json!({"home_municipality": "hoorn", "home_kind": "regular",
                         "offer": fictional_offer(&today)});
    corporation.step(&case, "match", &matched).await.unwrap();
    corporation
        .step(&case, "housed", &json!({"key_handover": today}))
        .await
        .unwrap();
    let mut to_corporation = handover.clone();
    to_corporation["to"] = json!([CARE, "intermaris"]);
    assert_eq!(
        post(&app, "hoorn", &reports, &to_corporation).await.err(),
        Some(403),
        "{backend}: the hand-over is not for a corporation"
    );
    assert_eq!(
        post(&app, COORDINATOR, &reports, &handover).await.err(),
        Some(403),
        "{backend}"
    );
    let done = post(&app, "hoorn", &reports, &handover).await.unwrap();
    let handed = done["message"]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        readers(
            &app,
            &case,
            &handed,
            &[CARE, COORDINATOR, "hoorn", "intermaris"]
        )
        .await,
        set(&[CARE, COORDINATOR, "hoorn"]),
        "{backend}"
    );
    let path = format!("{reports}/{handed}/acknowledgement");
    post(&app, CARE, &path, &json!({})).await.unwrap();
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn every_participant_acknowledges_a_report);

async fn the_inbox_keeps_what_is_new_until_read_and_deadlines_until_done(backend: &'static str) {
    use sluis::clock::Clock;
    use time::macros::date;
    let clock = Clock::manual(date!(2026 - 03 - 02).midnight().assume_utc());
    let app = TestApp::on(backend).clock(clock.clone()).start().await;
    let consent = sluis::demo::fictional_consent_on(date!(2026 - 03 - 02));
    let registration = fictional_registration();
    let case = app
        .submit_and_refer_with(CARE, &registration, &consent, &["hoorn"])
        .await;
    let matched = json!({"home_municipality": "hoorn", "home_kind": "regular",
                         "offer": fictional_offer("2026-03-09")});
    (app.client("intermaris").await)
        .step(&case, "match", &matched)
        .await
        .unwrap();
    let fields = json!({"application_request": "Ambulante begeleiding."});
    let applied = (app.client(CARE).await)
        .apply(
            &case,
            &app.party(CARE).identity,
            &app.policy,
            "guidance",
            &fields,
        )
        .await
        .unwrap();
    let application = applied["application"]["id"].as_str().unwrap().to_owned();

    let inbox = |org: &'static str, query: &'static str| {
        let app = &app;
        async move {
            let c = app.client(org).await;
            c.get_json(&format!("/v1/inbox{query}")).await.unwrap()
        }
    };
    let kinds = |inbox: &Value| -> Vec<(String, bool, bool)> {
        (inbox.as_array().unwrap().iter())
            .map(|n| {
                (
                    n["kind"].as_str().unwrap().to_owned(),
                    n["id"].is_string(),
                    n["read"] == json!(true),
                )
            })
            .collect()
    };
    // Hoorn: referred, matched, the application; all new.
    let before = inbox("hoorn", "").await;
    let mut seen: Vec<(String, bool, bool)> = kinds(&before);
    seen.sort();
    assert_eq!(
        seen,
        [
            ("application".to_owned(), true, false),
            ("matched".to_owned(), true, false),
            ("referred".to_owned(), true, false)
        ],
        "{backend}"
    );
    let id_of = |inbox: &Value, kind: &str| {
        (inbox.as_array().unwrap().iter())
            .find(|n| n["kind"] == kind)
            .map(|n| n["id"].as_str().unwrap().to_owned())
            .unwrap()
    };
    let referred = id_of(&before, "referred");
    let read = "/v1/inbox/read";
    // Another organisation cannot mark Hoorn's notifications.
    let by_other = post(&app, CARE, read, &json!({"ids": [referred]})).await;
    assert_eq!(by_other.unwrap()["marked"], 0, "{backend}");
    let mine = post(&app, "hoorn", read, &json!({"ids": [referred]})).await;
    assert_eq!(mine.unwrap()["marked"], 1, "{backend}");
    let again = post(&app, "hoorn", read, &json!({"ids": [referred]})).await;
    assert_eq!(again.unwrap()["marked"], 0);
    let unread = kinds(&inbox("hoorn", "?unread=true").await);
    assert_eq!(unread.len(), 2, "{backend}: {unread:?}");
    assert!(unread.iter().all(|(k, _, read)| k != "referred" && !read));
    let all = kinds(&inbox("hoorn", "").await);
    assert!(
        all.contains(&("referred".to_owned(), true, true)),
        "{all:?}"
    );
    for bad in [
        json!({}),
        json!({"ids": []}),
        json!({"ids": ["x"], "all": true}),
    ] {
        assert_eq!(
            post(&app, "hoorn", read, &bad).await.err(),
            Some(422),
            "{bad}"
        );
    }
    let c = app.client("hoorn").await;
    assert_eq!(status(&c.get_json("/v1/inbox?unread=maybe").await), 400);
    let all = post(&app, "hoorn", read, &json!({"all": true})).await;
    assert_eq!(all.unwrap()["marked"], 2, "{backend}");
    assert!(kinds(&inbox("hoorn", "?unread=true").await).is_empty());

    // A deadline stays, without an id, until it is done: the overdue decision for Hoorn and
    // the coordinator, a report to acknowledge for its participant.
    clock.set(date!(2026 - 03 - 17).midnight().assume_utc());
    for org in ["hoorn", COORDINATOR] {
        let pending = inbox(org, "?unread=true").await;
        let overdue: Vec<&Value> = (pending.as_array().unwrap().iter())
            .filter(|n| n["kind"] == "application_overdue")
            .collect();
        assert_eq!(overdue.len(), 1, "{backend} {org}");
        assert_eq!(overdue[0]["case"], json!(case));
        assert!(overdue[0].get("id").is_none());
        assert_eq!(
            overdue[0]["detail"],
            "the decision on guidance was due on 2026-03-16"
        );
    }
    assert!(
        !kinds(&inbox("enkhuizen", "").await)
            .iter()
            .any(|(k, _, _)| k == "application_overdue")
    );
    let decision = json!({"outcome": "granted", "decided_on": "2026-03-17",
                          "fields": {"decision_motivation": "Toegekend."}});
    let path = format!("/v1/cases/{case}/applications/{application}/decision");
    post(&app, "hoorn", &path, &decision).await.unwrap();
    assert!(
        !kinds(&inbox(COORDINATOR, "").await)
            .iter()
            .any(|(k, _, _)| k == "application_overdue"),
        "{backend}"
    );
    let report = json!({"kind": "outflow_consultation", "held_on": "2026-03-17",
        "to": ["hoorn"], "fields": {"consultation_present": "x", "consultation_problem": "y",
                                    "consultation_decision": "z"}});
    let done = post(
        &app,
        COORDINATOR,
        &format!("/v1/cases/{case}/reports"),
        &report,
    )
    .await
    .unwrap();
    let report = done["message"]["id"].as_str().unwrap().to_owned();
    let waiting = |inbox: Value| {
        (inbox.as_array().unwrap().iter())
            .filter(|n| n["kind"] == "report_to_acknowledge")
            .count()
    };
    assert_eq!(waiting(inbox("hoorn", "").await), 1, "{backend}");
    let path = format!("/v1/cases/{case}/reports/{report}/acknowledgement");
    post(&app, "hoorn", &path, &json!({})).await.unwrap();
    assert_eq!(waiting(inbox("hoorn", "").await), 0, "{backend}");
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn the_inbox_keeps_what_is_new_until_read_and_deadlines_until_done);

async fn the_coordinators_question_and_reason_stand_in_the_thread(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let case = app.submit(CARE, &fictional_registration()).await;
    let assessment = format!("/v1/cases/{case}/assessment");
    let ask = json!({"decision": "request_info",
                     "fields": {"coordinator_notes": "Graag de stand van de schuldhulp."}});
    let done = post(&app, COORDINATOR, &assessment, &ask).await.unwrap();
    assert_eq!(done["state"], "info_requested");
    assert_eq!(
        done["sealed"]["message_text"],
        json!([COORDINATOR, CARE]),
        "{backend}"
    );
    let care = app.client(CARE).await;
    let read = care
        .thread(&case, &app.party(CARE).identity, &app.policy)
        .await
        .unwrap();
    assert_eq!(read.0.len(), 1, "{backend}");
    let question = &read.0[0];
    assert_eq!(question["sender"], COORDINATOR);
    assert_eq!(question["about"], "assessment");
    assert_eq!(
        question["fields"]["message_text"],
        "Graag de stand van de schuldhulp."
    );
    // The care organisation answers in the thread.
    let answer = json!({"to": [COORDINATOR], "about": "debts", "reply_to": question["id"],
                        "fields": {"message_text": "De WSNP loopt sinds mei."}});
    post(&app, CARE, &format!("/v1/cases/{case}/messages"), &answer)
        .await
        .unwrap();
    // The reason of a rejection reaches it the same way.
    let mut reject = sluis::demo::checklist(&app.policy, Some("ready_for_outflow"));
    reject["decision_reason"] = json!("Nog niet woonvaardig genoeg.");
    let done = post(
        &app,
        COORDINATOR,
        &assessment,
        &json!({"decision": "reject", "fields": reject}),
    )
    .await
    .unwrap();
    assert_eq!(done["state"], "rejected");
    let read = care
        .thread(&case, &app.party(CARE).identity, &app.policy)
        .await
        .unwrap();
    let texts: Vec<(&str, &str)> = (read.0.iter())
        .map(|m| {
            (
                m["about"].as_str().unwrap(),
                m["fields"]["message_text"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        texts,
        [
            ("assessment", "Graag de stand van de schuldhulp."),
            ("debts", "De WSNP loopt sinds mei."),
            ("assessment", "Nog niet woonvaardig genoeg.")
        ],
        "{backend}"
    );
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn the_coordinators_question_and_reason_stand_in_the_thread);
