//! Who may write about what to whom, and who acknowledges a report.

use std::path::Path;

use super::*;
use crate::cases::CaseFacts;

fn policy() -> Policy {
    Policy::load_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policy")).unwrap()
}

fn party(id: &str, role: &str, applied: bool) -> CaseParty {
    CaseParty {
        org_id: id.into(),
        role: role.into(),
        added_at: String::new(),
        added_by: String::new(),
        applied,
    }
}

fn parties() -> Vec<CaseParty> {
    vec![
        party("leviaan", "care", false),
        party("ggd", "coordinator", false),
        party("intermaris", "corporation", false),
        party("wooncompagnie", "corporation", false),
        party("hoorn", "municipality", true),
        party("enkhuizen", "municipality", false),
    ]
}

fn case() -> Case {
    Case {
        id: "c1".into(),
        form: "registration".into(),
        state: "housed".into(),
        created_by: "leviaan".into(),
        created_at: String::new(),
        updated_at: String::new(),
        client_pseudonym: None,
        facts: CaseFacts {
            home_municipality: Some("hoorn".into()),
            ..CaseFacts::default()
        },
    }
}

fn consent(categories: &[&str]) -> ConsentRecord {
    ConsentRecord {
        id: "k".into(),
        case_id: "c1".into(),
        client: None,
        signed_on: "2026-01-01".into(),
        valid_until: "2027-12-31".into(),
        purpose: String::new(),
        roles: ["care", "coordinator", "corporation", "municipality"]
            .map(String::from)
            .to_vec(),
        categories: categories.iter().map(|c| (*c).to_owned()).collect(),
        document_sha256: String::new(),
        status: "active".into(),
        recorded_at: String::new(),
        recorded_by_user: String::new(),
        recorded_by_org: String::new(),
        withdrawn_at: None,
        withdrawn_by_user: None,
        withdrawn_by_org: None,
    }
}

const ALL: [&str; 5] = [
    "message",
    "health_care",
    "personalia",
    "consultation",
    "handover",
];
const NOW: (&str, &str) = ("2026-05-04T10:00:00Z", "2026-05-04");

fn draft<'a>(kind: &'a str, about: &'a str, to: &'a [String]) -> Draft<'a> {
    Draft {
        kind,
        about,
        to,
        held_on: None,
        reply_to: None,
    }
}

fn ctx(granted: &[&str]) -> StepContext {
    StepContext {
        case: case(),
        parties: parties(),
        consent: Some(consent(granted)),
        from: crate::cases::State::Housed,
        to: crate::cases::State::Housed,
    }
}

fn send(sender: &str, d: Draft<'_>, granted: &[&str]) -> Result<Vec<String>, CaseError> {
    let (p, ps) = (policy(), parties());
    let me = party_of(&ps, sender).unwrap().clone();
    let (message, audience) = new_message(&p, &ctx(granted), &me, d, &[], NOW)?;
    assert_eq!(message.sender, sender);
    Ok(audience.into_iter().map(|p| p.org_id).collect())
}

fn to(orgs: &[&str]) -> Vec<String> {
    orgs.iter().map(|o| (*o).to_owned()).collect()
}

#[test]
fn a_message_reaches_only_roles_its_category_grants_and_the_sender_keeps_a_copy() {
    let both = to(&["leviaan", "ggd"]);
    assert_eq!(
        send("intermaris", draft(MESSAGE, "message", &both), &ALL).unwrap(),
        ["intermaris", "leviaan", "ggd"]
    );
    // The coordinator asks the care organisation about the client's health.
    let care = to(&["leviaan"]);
    assert_eq!(
        send("ggd", draft(MESSAGE, "health_care", &care), &ALL).unwrap(),
        ["ggd", "leviaan"]
    );
    // A corporation cannot write about health at all, nor address it to another corporation.
    let other = to(&["wooncompagnie"]);
    let err = send("intermaris", draft(MESSAGE, "health_care", &other), &ALL).unwrap_err();
    assert_eq!(
        err.to_string(),
        "role `corporation` may not write about category `health_care`: the policy does not \
         grant it to that role"
    );
    let err = send("ggd", draft(MESSAGE, "health_care", &other), &ALL).unwrap_err();
    assert_eq!(
        err.to_string(),
        "category `health_care` may not be sent to `wooncompagnie`: the policy does not grant \
         it to role `corporation`"
    );
    // A municipality not applied to gets health only with an application; the home's does.
    let enkhuizen = to(&["enkhuizen"]);
    let err = send("ggd", draft(MESSAGE, "health_care", &enkhuizen), &ALL).unwrap_err();
    assert!(matches!(err, CaseError::Forbidden(_)), "{err}");
    assert!(err.to_string().contains("[until_application]"), "{err}");
    let hoorn = to(&["hoorn"]);
    assert_eq!(
        send("ggd", draft(MESSAGE, "health_care", &hoorn), &ALL).unwrap(),
        ["ggd", "hoorn"]
    );
    assert_eq!(
        send("ggd", draft(MESSAGE, "message", &enkhuizen), &ALL).unwrap(),
        ["ggd", "enkhuizen"]
    );
}

#[test]
fn a_message_needs_consent_for_its_category_and_parties_named_once() {
    let care = to(&["leviaan"]);
    let err = send("ggd", draft(MESSAGE, "health_care", &care), &["message"]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "category `health_care` cannot be sealed for `ggd`: the client's consent does not cover \
         category `health_care`"
    );
    for (bad, expected) in [
        (to(&[]), "`to` names at least one party of the case"),
        (
            to(&["ggd"]),
            "`to` member 1: the sender keeps its own copy; name the others",
        ),
        (
            to(&["leviaan", "parlan"]),
            "`to` member 2 is not a party of the case",
        ),
        (
            to(&["leviaan", "leviaan"]),
            "`leviaan` is named twice in `to`",
        ),
    ] {
        let err = send("ggd", draft(MESSAGE, "message", &bad), &ALL).unwrap_err();
        assert!(matches!(err, CaseError::Invalid(_)));
        assert_eq!(err.to_string(), expected);
    }
    let err = send("ggd", draft(MESSAGE, "consultation", &care), &ALL).unwrap_err();
    assert!(matches!(err, CaseError::Invalid(_)), "{err}");
    let err = send("ggd", draft(MESSAGE, "income_or_so", &care), &ALL).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("`about` is a category of the policy: ")
    );
    assert!(!err.to_string().contains("handover"));
}

#[test]
fn reports_come_from_their_author_on_a_past_day() {
    let all = to(&["leviaan", "intermaris", "hoorn"]);
    let mut d = draft("client_consultation", "consultation", &all);
    d.held_on = Some("2026-05-01");
    assert_eq!(
        send("ggd", d, &ALL).unwrap(),
        ["ggd", "leviaan", "intermaris", "hoorn"]
    );
    let err = send("leviaan", d, &ALL).unwrap_err();
    assert!(matches!(err, CaseError::Forbidden(_)), "{err}");
    for day in [None, Some("2026-05-05"), Some("1 mei")] {
        let d = Draft { held_on: day, ..d };
        assert!(matches!(send("ggd", d, &ALL), Err(CaseError::Fields(_))));
    }
    // The hand-over: by the municipality of the home only, not to a corporation.
    let guide = to(&["leviaan", "ggd"]);
    let mut handover = draft("handover", "handover", &guide);
    handover.held_on = Some("2026-05-04");
    assert_eq!(
        send("hoorn", handover, &ALL).unwrap(),
        ["hoorn", "leviaan", "ggd"]
    );
    let err = send("enkhuizen", handover, &ALL).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the municipality of the home organises the hand-over and writes its report (art. 16)"
    );
    let corp = to(&["intermaris"]);
    let err = send(
        "hoorn",
        Draft {
            to: &corp,
            ..handover
        },
        &ALL,
    )
    .unwrap_err();
    assert!(matches!(err, CaseError::Forbidden(_)), "{err}");
    let err = send(
        "hoorn",
        Draft {
            about: "message",
            ..handover
        },
        &ALL,
    )
    .unwrap_err();
    assert!(matches!(err, CaseError::Invalid(_)), "{err}");
    let mut d = draft(MESSAGE, "message", &guide);
    d.held_on = Some("2026-05-01");
    assert!(matches!(send("hoorn", d, &ALL), Err(CaseError::Invalid(_))));
}

#[test]
fn only_an_addressee_acknowledges_a_report_once() {
    let (p, ps) = (policy(), parties());
    let ggd = party_of(&ps, "ggd").unwrap().clone();
    let all = to(&["leviaan", "hoorn"]);
    let mut d = draft("outflow_consultation", "consultation", &all);
    d.held_on = Some("2026-05-01");
    let (mut report, _) = new_message(&p, &ctx(&ALL), &ggd, d, &[], NOW).unwrap();
    assert!(check_acknowledgement(&report, "leviaan").is_ok());
    assert!(matches!(
        check_acknowledgement(&report, "ggd"),
        Err(CaseError::Forbidden(_))
    ));
    assert!(matches!(
        check_acknowledgement(&report, "intermaris"),
        Err(CaseError::Forbidden(_))
    ));
    report.to[0].acknowledged_at = Some(NOW.0.into());
    assert!(matches!(
        check_acknowledgement(&report, "leviaan"),
        Err(CaseError::Conflict(_))
    ));
    // A reply names a message of the thread the replier takes part in.
    let care = party_of(&ps, "leviaan").unwrap().clone();
    let back = to(&["ggd"]);
    let reply = Draft {
        reply_to: Some(&report.id),
        ..draft(MESSAGE, "message", &back)
    };
    let thread = [report.clone()];
    let (answer, _) = new_message(&p, &ctx(&ALL), &care, reply, &thread, NOW).unwrap();
    assert_eq!(answer.reply_to.as_deref(), Some(report.id.as_str()));
    assert!(!answer.asks_acknowledgement());
    assert!(matches!(
        check_acknowledgement(&answer, "ggd"),
        Err(CaseError::Conflict(_))
    ));
    let intermaris = party_of(&ps, "intermaris").unwrap().clone();
    let err = new_message(&p, &ctx(&ALL), &intermaris, reply, &thread, NOW);
    assert!(matches!(err, Err(CaseError::Invalid(_))));
}
