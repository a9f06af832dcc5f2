//! `sluis demo`: one fictional client through the exchange on a fresh embedded database,
//! with every party of the enrolment file holding a fresh identity.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, Result};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Value, json};

use crate::api::{AccessReport, ReportEntry};
use crate::api::{AppState, RunningBroker};
use crate::audit::{self, Event, VerifierKey, VerifyReport};
use crate::auth::{self, Secret};
use crate::client::{self, Client, Credentials};
use crate::clock::{Clock, now_text};
use crate::policy::Policy;
use crate::sealing::Identity;
use crate::store::{Store, User};

mod year;

/// An organisation enrolled with a fresh identity and an API key for its system user.
#[derive(Debug)]
pub struct Enrolled {
    /// Organisation id.
    pub org: String,
    /// Its role.
    pub role: String,
    /// Its private key (held by the organisation, never by the broker).
    pub identity: Identity,
    /// Its system user's API key.
    pub api_key: Secret,
}

/// Enrols every party of the policy's enrolment file: organisation, fresh identity (its
/// recipient registered with the broker), a system user in the organisation's role, an API key.
pub async fn enrol_parties(store: &Store, policy: &Policy) -> Result<Vec<Enrolled>> {
    let mut out = Vec::with_capacity(policy.parties.len());
    for (id, party) in &policy.parties {
        let enrol = Event::admin(format!("enrol {id} ({})", party.role));
        store
            .add_organisation(id, &party.name, &party.role, enrol)
            .await?;
        let identity = Identity::generate();
        let recipient = identity.recipient().to_string();
        let register = Event::admin(format!("recipient of {id}: {recipient}"));
        store.set_recipient(id, &recipient, register).await?;
        let user = User {
            id: uuid::Uuid::new_v4().to_string(),
            username: format!("{id}-system"),
            org_id: id.clone(),
            role: party.role.clone(),
            password_hash: None,
            disabled: false,
        };
        store
            .add_user(
                &user,
                Event::admin(format!("user {} in {id}", user.username)),
            )
            .await?;
        let key = auth::new_api_key();
        store.add_api_key(&user, &key).await?;
        out.push(Enrolled {
            org: id.clone(),
            role: party.role.clone(),
            identity,
            api_key: key.token,
        });
    }
    Ok(out)
}

/// A person of a demo organisation who can log in in the browser and open its fields.
#[derive(Debug, Clone)]
pub struct DemoPerson {
    /// The organisation.
    pub org: String,
    /// Login name.
    pub username: String,
    /// The fictional password (printed by `sluis demo`; demo only).
    pub password: String,
}

/// The login name and fictional password of the demo person of `org`.
pub fn demo_credentials(org: &str) -> (String, String) {
    (format!("{org}.demo"), format!("demo-{org}-wachtwoord"))
}

/// Adds a person to each of `orgs` with a fictional password, their own key from it (as their
/// browser derives it) and the organisation's identity wrapped for them, as a colleague or
/// `sluis grant` would give it. Demo and tests only: a real person chooses their own password.
pub async fn add_people(
    store: &Store,
    parties: &[Enrolled],
    orgs: &[&str],
) -> Result<Vec<DemoPerson>> {
    let mut people = Vec::new();
    for org in orgs {
        let party = (parties.iter().find(|p| p.org == *org))
            .with_context(|| format!("{org} is not enrolled"))?;
        let (username, password) = demo_credentials(org);
        let secrets = auth::PersonSecrets::derive(&username, &Secret::new(password.clone()))?;
        let own = Identity::from_seed(secrets.seed())?.recipient();
        let hash = auth::hash_password(&secrets.login)?;
        let user = User {
            id: uuid::Uuid::new_v4().to_string(),
            username: username.clone(),
            org_id: (*org).to_owned(),
            role: party.role.clone(),
            password_hash: None,
            disabled: false,
        };
        store
            .add_user(&user, Event::admin(format!("user {username} in {org}")))
            .await?;
        let sealed = party.identity.wrapped_for(&own, &now_text())?;
        let key = crate::store::PersonKey {
            user_id: user.id.clone(),
            org_id: (*org).to_owned(),
            recipient: own.to_string(),
            wrapped: Some(BASE64.encode(sealed)),
            wrapped_by: Some("demo".into()),
        };
        let event = Event::admin(format!("{org}'s identity wrapped for {username}"));
        store.set_own_password(&hash, &key, event).await?;
        people.push(DemoPerson {
            org: (*org).to_owned(),
            username,
            password,
        });
    }
    Ok(people)
}

/// A fictional client with every field of the registration form filled.
pub fn fictional_registration() -> Value {
    let plan = "Perspectiefplan (fictief)\n\nMotivatie: wil zelfstandig wonen dicht bij werk.\n\
                Doelen: huur op tijd betalen, dagbesteding behouden.\nMiddelen: ambulante begeleiding 2x per week.\n";
    let mut form = json!({
        "full_name": "Sanne de Vries",
        "date_of_birth": "1998-04-17",
        "phone": "06-12345678",
        "email": "sanne.devries@example.nl",
        "current_address": "Voorziening De Horst, Kerkstraat 1, 1621 AA Hoorn",
        "woonmatch_number": "WM-2024-118822",
        "residence_status": "nederlander",
        "children_count": 1,
        "children_ages": ["4"],
        "bsn": "111222333",
        "income_source": "uitkering_participatiewet",
        "net_monthly_income": 1380,
        "benefits": ["huurtoeslag", "zorgtoeslag", "kindgebonden budget"],
        "affordability": "Huur tot EUR 650 is haalbaar met huurtoeslag.",
        "debts_total": 4200,
        "rent_arrears_last_home": true,
        "rent_arrears_amount": 850,
        "debt_restructuring_status": "minnelijk_traject",
        "financial_administrator": "Bewind West-Friesland B.V.",
        "financial_administrator_contact": "0229-123456, info@bewind-wf.example.nl",
        "dwelling_constraints": "Benedenwoning of lift; niet in de directe omgeving van de vorige woning.",
        "guide_name": "Mark Jansen",
        "guide_phone": "06-87654321",
        "municipality_of_origin": "Hoorn",
        "social_network_location": "Moeder en zus wonen in Hoorn-Noord.",
        "work_education_location": "Dagbesteding in Zwaag, 3 dagen per week.",
        "transport_means": "Fiets en bus.",
        "preferred_municipalities": ["Hoorn", "Koggenland"],
        "previous_evictions": true,
        "eviction_reason": "Huurachterstand in 2021; regeling getroffen.",
        "nuisance_history": "Geen meldingen van overlast.",
        "facility_type": "mo",
        "problems": "Schulden en een periode van dakloosheid na relatiebreuk.",
        "guidance_needs": "Ambulante begeleiding bij financien en huishouden.",
        "contra_indications": "Geen.",
    });
    // The criteria of art. 7 and the papers of art. 7.1 and 8.2 (one `json!` is too deep for
    // the whole form).
    let papers = json!({
        "has_partner": false,
        "rent_affordable": true,
        "wgs_admission_date": "2026-09-15",
        "accepts_suitable_offer": true,
        "housing_preferences": "Liefst in de buurt van familie in Hoorn.",
        "ready_for_outflow": true,
        "client_kind": "intramuraal",
        "searched_first": true,
        "no_other_route": true,
        "routes_tried": "Ingeschreven bij Woonmatch sinds 2024; urgentie aangevraagd en afgewezen.",
        "plan_motivation": "Wil zelfstandig wonen dicht bij werk en familie.",
        "plan_problems": "Schulden en een periode van dakloosheid na relatiebreuk.",
        "plan_goals": "Huur op tijd betalen, dagbesteding behouden.",
        "plan_results": "Na een jaar zelfstandig wonen zonder nieuwe achterstand.",
        "plan_means": "Ambulante begeleiding 2x per week; bewindvoering.",
        "plan_signed_on": "2026-11-20",
        "perspective_plan": BASE64.encode(plan),
        "form_cosigned_by": "Sanne de Vries",
        "form_cosigned_on": "2026-11-20",
    });
    if let (Some(form), Value::Object(papers)) = (form.as_object_mut(), papers) {
        form.extend(papers);
    }
    form
}

/// A fictional half-yearly evaluation in the uniform form (art. 9.10), without the optional
/// report document: the `fields` of an evaluation.
pub fn fictional_evaluation(period: i64) -> Value {
    json!({
        "evaluation_period": format!("half jaar {period}"),
        "eval_living": "Woont zelfstandig; huishouden gaat goed.",
        "eval_finances": "Huur op tijd betaald; bewindvoering loopt.",
        "eval_guidance": "Ambulante begeleiding 2x per week, afgebouwd naar 1x.",
        "eval_plan_goals": "Huur op tijd betalen: bereikt. Dagbesteding behouden: bereikt.",
        "eval_next_steps": "Begeleiding verder afbouwen; evaluatie over een half jaar.",
    })
}

/// The coordinator's checklist with every criterion of art. 7 met: the `fields` of an accept.
pub fn checklist_all_met(policy: &Policy) -> Value {
    checklist(policy, None)
}

/// The coordinator's checklist with `failed` not met and the rest met.
pub fn checklist(policy: &Policy, failed: Option<&str>) -> Value {
    let criteria = match policy.field(crate::cases::CHECKLIST_FIELD).map(|f| &f.kind) {
        Some(crate::policy::FieldKind::Checklist { criteria }) => criteria.clone(),
        _ => Vec::new(),
    };
    let answers: serde_json::Map<String, Value> = criteria
        .iter()
        .map(|c| {
            let status = if Some(c.id.as_str()) == failed {
                "not_met"
            } else {
                "met"
            };
            (c.id.clone(), json!({"status": status}))
        })
        .collect();
    json!({ crate::cases::CHECKLIST_FIELD: answers })
}

/// A second fictional client (whose consent the demo withdraws).
pub fn second_registration() -> Value {
    let mut form = fictional_registration();
    // A former unaccompanied minor is 18 to 23 (art. 7.1): twenty, whenever the demo runs.
    let born = time::OffsetDateTime::now_utc().year() - 20;
    for (id, value) in [
        ("full_name", json!("Yusuf Amrani")),
        ("date_of_birth", json!(format!("{born}-09-02"))),
        ("client_kind", json!("oud_amv")),
        ("wgs_admission_date", json!("2026-10-01")),
        ("form_cosigned_by", json!("Yusuf Amrani")),
        ("bsn", json!("123456782")),
        ("phone", json!("06-11223344")),
        ("email", json!("y.amrani@example.nl")),
        ("facility_type", json!("oud_amv")),
        ("children_count", json!(0)),
        ("preferred_municipalities", json!(["Medemblik"])),
    ] {
        form[id] = value;
    }
    if let Some(map) = form.as_object_mut() {
        map.remove("children_ages");
    }
    form
}

/// A third fictional client, whose first home does not last: replacement housing (art. 9.11)
/// sends the case back to the coordinator, who refers it again.
pub fn third_registration() -> Value {
    let mut form = fictional_registration();
    for (id, value) in [
        ("full_name", json!("Kees Bakker")),
        ("form_cosigned_by", json!("Kees Bakker")),
        ("bsn", json!("234567806")),
        ("phone", json!("06-99887766")),
        ("email", json!("k.bakker@example.nl")),
    ] {
        form[id] = value;
    }
    form
}

/// A fictional consent declaration signed today, for a year, covering every role that sees
/// content and every category, with a small stand-in for the signed scan.
pub fn fictional_consent() -> Value {
    fictional_consent_on(time::OffsetDateTime::now_utc().date())
}

/// The fictional consent declaration, signed on `today`.
pub fn fictional_consent_on(today: time::Date) -> Value {
    let until = today.replace_year(today.year() + 1).unwrap_or(today);
    let scan = "%PDF-1.4\n% Toestemmingsverklaring (fictief), ondertekend door de client\n%%EOF\n";
    json!({
        "signed_on": today.to_string(),
        "valid_until": until.to_string(),
        "roles": ["care", "coordinator", "corporation", "municipality"],
        "categories": [
            "personalia", "household", "identifiers", "income", "debts", "dwelling_requirements",
            "care_contact", "placement", "housing_history", "health_care", "perspective_plan",
            "evaluation", "consent", "assessment", "housing_offer", "application", "message",
            "consultation", "handover"
        ],
        "document": BASE64.encode(scan),
    })
}

/// A fictional conversion of the triangle lease on `on` (art. 4), each condition met that day.
pub fn fictional_conversion(on: &str) -> Value {
    json!({"converted_on": on, "conditions": {
        "rent_paid_on_time": on, "living_behaviour": on, "plan_housing_goals": on
    }})
}

/// A fictional offer of a home at the match (art. 9.6), with its viewing on `viewing_on`.
pub fn fictional_offer(viewing_on: &str) -> Value {
    json!({
        "offer_address": "Fictieve Dijk 12, 1621 AA Hoorn",
        "offer_rent": 642,
        "offer_conditions": "Huur via automatische incasso; begeleiding in het eerste jaar.",
        "offer_viewing_on": viewing_on,
    })
}

/// What each organisation could open of the demo case.
#[derive(Debug)]
pub struct DemoReport {
    /// Case id.
    pub case: String,
    /// Organisation → `Some(field ids opened)` for parties, `None` where the broker said 404.
    pub opened: BTreeMap<String, Option<Vec<String>>>,
    /// The referred corporations that lost their copies when another matched the case.
    pub revoked_at_match: Vec<String>,
    /// The fictional year's cases the daily purge deleted a year on, each with its receipt.
    pub purged: Vec<crate::store::PurgedCase>,
    /// The client's pseudonym in the access log.
    pub client: String,
    /// The privacy officer's access report of the client, every event proven included.
    pub access_report: Vec<ReportEntry>,
    /// The privacy officer's verification of the whole log.
    pub verified: VerifyReport,
    /// The monitor of the fictional year, as the coordinator sees it.
    pub monitor: Option<crate::monitor::Monitor>,
    /// How many cases the fictional year registered.
    pub year_cases: usize,
    /// The fields the broker named when it refused the second client's first registration
    /// (rent arrears above EUR 500 without a Wgs admission, art. 7.3).
    pub refused_fields: Vec<String>,
}

/// The privacy officer of the demo.
pub const DEMO_PRIVACY_OFFICER: &str = "fg-westfriesland";

/// The care organisation, coordinator, corporation and municipality of the demo.
pub const DEMO_CARE: &str = "leviaan";
/// The coordinator of the demo.
pub const DEMO_COORDINATOR: &str = "bct-westfriesland";
/// The corporation the demo case is referred to.
pub const DEMO_CORPORATION: &str = "intermaris";
/// The destination municipality of the demo.
pub const DEMO_MUNICIPALITY: &str = "hoorn";

/// The demo's broker kept running (`sluis demo --serve`) for a person to look around in the
/// browser, with a demo person of each main organisation.
#[derive(Debug)]
pub struct ServingDemo {
    /// Where the pages are.
    pub url: String,
    /// Who can log in there.
    pub people: Vec<DemoPerson>,
    broker: RunningBroker,
    store: Store,
}

impl ServingDemo {
    /// Serves until Ctrl-C, then stops.
    pub async fn until_ctrl_c(self) -> Result<()> {
        tokio::signal::ctrl_c().await?;
        self.broker.stop().await?;
        self.store.close().await;
        Ok(())
    }
}

/// The organisations whose demo people `sluis demo --serve` prints.
pub const DEMO_PEOPLE: [&str; 5] = [
    DEMO_CARE,
    DEMO_COORDINATOR,
    DEMO_CORPORATION,
    DEMO_MUNICIPALITY,
    DEMO_PRIVACY_OFFICER,
];

/// Runs the demo into `out` (see the README for the layout) and returns what each party opened;
/// with `serve`, the broker keeps running there with a demo person per main organisation.
pub async fn run_serving(
    out: &Path,
    policy: Policy,
    serve: Option<std::net::SocketAddr>,
) -> Result<(DemoReport, Option<ServingDemo>)> {
    let (report, running) = play_all(out, policy, serve.is_some()).await?;
    let Some((broker, state, parties)) = running else {
        return Ok((report, None));
    };
    broker.stop().await?;
    let store = state.store.clone();
    let people = add_people(&store, &parties, &DEMO_PEOPLE).await?;
    let addr = serve.context("no address to serve on")?;
    let broker = RunningBroker::start(state, addr).await?;
    Ok((
        report,
        Some(ServingDemo {
            url: format!("{}/", broker.base_url),
            people,
            broker,
            store,
        }),
    ))
}

/// Runs the demo into `out` (see the README for the layout) and returns what each party opened.
pub async fn run(out: &Path, policy: Policy) -> Result<DemoReport> {
    Ok(play_all(out, policy, false).await?.0)
}

type Running = (RunningBroker, AppState, Vec<Enrolled>);

async fn play_all(out: &Path, policy: Policy, keep: bool) -> Result<(DemoReport, Option<Running>)> {
    for sub in ["identities", "slices", "opened", "checkpoints", "receipts"] {
        let p = out.join(sub);
        if p.exists() {
            std::fs::remove_dir_all(&p).with_context(|| format!("clearing {}", p.display()))?;
        }
    }
    for file in ["sluis.db", "sluis.db-wal", "sluis.db-shm"] {
        let p = out.join(file);
        if p.exists() {
            std::fs::remove_file(&p).with_context(|| format!("removing {}", p.display()))?;
        }
    }
    std::fs::create_dir_all(out.join("identities"))?;
    let db = out.join("sluis.db");
    // The fictional year is last calendar year, played with the store's clock set to each step;
    // the demo's own story then runs now.
    let year = time::OffsetDateTime::now_utc().year() - 1;
    let clock = Clock::manual(
        time::Date::from_calendar_date(year, time::Month::January, 2)?
            .midnight()
            .assume_utc(),
    );
    let store = Store::connect(&format!("sqlite://{}", db.display()))
        .await?
        .with_clock(clock.clone());
    let parties = enrol_parties(&store, &policy).await?;
    let created = now_text();
    for p in &parties {
        write_private(
            &out.join("identities").join(format!("{}.txt", p.org)),
            p.identity.to_file_text(&created).as_bytes(),
        )?;
    }

    let policy = Arc::new(policy);
    let state = AppState::ephemeral(store.clone(), policy.clone());
    let broker = RunningBroker::start(state.clone(), "127.0.0.1:0".parse()?).await?;
    let result = async {
        let cases = year::play(&broker.base_url, &clock, year, &policy, &parties).await?;
        clock.follow_system();
        let mut report = play(out, &broker.base_url, &policy, &parties).await?;
        report.monitor = write_monitor(out, &broker.base_url, &parties, year).await?;
        report.year_cases = cases.len();
        report.purged = purge_a_year_on(out, &state, &clock, year).await?;
        Ok::<_, anyhow::Error>(report)
    }
    .await;
    if keep && result.is_ok() {
        return Ok((result?, Some((broker, state, parties))));
    }
    broker.stop().await?;
    store.close().await;
    Ok((result?, None))
}

async fn play(out: &Path, base: &str, policy: &Policy, parties: &[Enrolled]) -> Result<DemoReport> {
    let party = |org: &str| {
        parties
            .iter()
            .find(|p| p.org == org)
            .with_context(|| format!("{org} is not enrolled"))
    };
    let login = |org: &str| {
        let key = party(org).map(|p| Secret::new(p.api_key.expose().to_owned()));
        async move { Ok::<_, anyhow::Error>(Client::new(base).login(&Credentials::ApiKey(key?)).await?) }
    };

    let care = login(DEMO_CARE).await?;
    let coordinator = login(DEMO_COORDINATOR).await?;
    let corporation = login(DEMO_CORPORATION).await?;
    let coordinator_identity = &party(DEMO_COORDINATOR)?.identity;

    // Case 1: the whole lifecycle.
    let submitted = care
        .submit(
            "registration",
            &fictional_registration(),
            &fictional_consent(),
        )
        .await?;
    let case = submitted["id"].as_str().context("no case id")?.to_owned();
    coordinator
        .step(
            &case,
            "assessment",
            &json!({"decision": "request_info", "fields": {
                "coordinator_notes": "Graag actuele stand van de schuldhulp."
            }}),
        )
        .await?;
    // The question stands in the case's thread too; the guide answers it there.
    let thread = care.get_json(&format!("/v1/cases/{case}/messages")).await?;
    care.step(
        &case,
        "messages",
        &json!({"to": [DEMO_COORDINATOR], "about": "debts", "reply_to": thread[0]["id"],
                "fields": {"message_text": "Ja, de WSNP loopt; zie de wijziging in het dossier."}}),
    )
    .await?;
    care.step(
        &case,
        "changes",
        &json!({"fields": {"debt_restructuring_status": "wsnp"}}),
    )
    .await?;
    coordinator
        .step(
            &case,
            "assessment",
            &json!({"decision": "accept", "fields": checklist_all_met(policy)}),
        )
        .await?;
    coordinator
        .refer(
            &case,
            coordinator_identity,
            policy,
            &[DEMO_MUNICIPALITY.to_owned()],
        )
        .await?;
    // A change in income reaches the corporations; a change in health does not.
    care.step(
        &case,
        "changes",
        &json!({"fields": {
            "net_monthly_income": 1450,
            "guidance_needs": "Begeleiding afgebouwd naar 1x per week."
        }}),
    )
    .await?;
    let referred_corporations = corporations_of(&coordinator, &case).await?;
    corporation
        .step(
            &case,
            "match",
            &json!({"home_municipality": DEMO_MUNICIPALITY, "home_kind": "regular",
                    "offer": fictional_offer(&time::OffsetDateTime::now_utc().date().to_string())}),
        )
        .await?;
    let matched = corporations_of(&coordinator, &case).await?;
    let revoked_at_match = (referred_corporations.into_iter())
        .filter(|org| !matched.contains(org))
        .collect();
    let today = time::OffsetDateTime::now_utc().date().to_string();
    // The care organisation applies to Hoorn for guidance and special assistance (art. 9.7):
    // only now does Hoorn receive the BSN, income, health and the perspective plan; Hoorn
    // decides on both, its reasons sealed to the care organisation and the coordinator.
    let municipality = login(DEMO_MUNICIPALITY).await?;
    let care_identity = &party(DEMO_CARE)?.identity;
    for (kind, request, outcome) in [
        (
            "guidance",
            "Ambulante begeleiding, twee keer per week, vanaf de sleuteloverdracht.",
            "granted",
        ),
        (
            "special_assistance",
            "Bijzondere bijstand voor de inrichting van de woning.",
            "partly",
        ),
    ] {
        let fields = json!({ "application_request": request });
        let applied = care
            .apply(&case, care_identity, policy, kind, &fields)
            .await?;
        let id = applied["application"]["id"]
            .as_str()
            .context("no application id")?;
        let decision = json!({"outcome": outcome, "decided_on": today, "fields": {
            "decision_motivation": "Besloten op basis van het perspectiefplan (fictief)."
        }});
        let path = format!("/v1/cases/{case}/applications/{id}/decision");
        municipality.post_json(&path, &decision).await?;
    }
    corporation
        .step(&case, "housed", &json!({"key_handover": today}))
        .await?;
    // Two months on the corporation signals rent arrears to the guide and the coordinator.
    corporation
        .step(
            &case,
            "signals",
            &json!({"fields": {
                "signal_kind": "rent_arrears", "signal_on": today,
                "signal_note": "Eén maand huur achter; graag contact met de begeleider."
            }}),
        )
        .await?;
    // The coordinator calls a consultation at client level (art. 15) with the guide, the
    // corporation and Hoorn; its report reaches them, and each acknowledges it.
    let consultation = coordinator
        .step(
            &case,
            "reports",
            &json!({"kind": "client_consultation", "held_on": today,
                    "to": [DEMO_CARE, DEMO_CORPORATION, DEMO_MUNICIPALITY], "fields": {
                "consultation_present": "Uitstroomcoördinator, begeleider, corporatie, gemeente, cliënt.",
                "consultation_problem": "Eén maand huurachterstand na de verhuizing.",
                "consultation_decision": "Automatische incasso en budgetcoaching; de begeleider volgt het."
            }}),
        )
        .await?;
    let report = consultation["message"]["id"]
        .as_str()
        .context("no report id")?;
    for participant in [&care, &corporation, &municipality] {
        let path = format!("reports/{report}/acknowledgement");
        participant.step(&case, &path, &json!({})).await?;
    }
    // Hoorn hands guidance over to its Wmo guide (art. 16) and records the report.
    let handover = municipality
        .step(
            &case,
            "reports",
            &json!({"kind": "handover", "held_on": today, "to": [DEMO_CARE, DEMO_COORDINATOR],
                    "fields": {
                "handover_present": "Begeleider Leviaan, Wmo-begeleider, cliënt.",
                "handover_plan": "Wonen en financiën op orde; aandacht voor dagbesteding.",
                "handover_client_view": "Tevreden over de woning; wil meer uren werken."
            }}),
        )
        .await?;
    let report = handover["message"]["id"].as_str().context("no report id")?;
    care.step(
        &case,
        &format!("reports/{report}/acknowledgement"),
        &json!({}),
    )
    .await?;
    care.step(&case, "evaluations", &json!({"period": 1, "fields": {
        "evaluation_period": "eerste half jaar",
        "eval_living": "Woont zelfstandig; huishouden gaat goed.",
        "eval_finances": "Huur op tijd betaald; bewindvoering loopt.",
        "eval_guidance": "Ambulante begeleiding 2x per week, afgebouwd naar 1x.",
        "eval_plan_goals": "Huur op tijd betalen: bereikt. Dagbesteding behouden: bereikt.",
        "eval_next_steps": "Begeleiding verder afbouwen; evaluatie over een half jaar.",
        "evaluation_report": BASE64.encode("Evaluatie (fictief): huur op tijd betaald, dagbesteding behouden.\n")
    }}))
    .await?;
    corporation
        .step(&case, "lease-conversion", &fictional_conversion(&today))
        .await?;

    // Case 2: another client, referred, then the client withdraws consent. Her first
    // registration leaves out the Wgs admission her rent arrears above EUR 500 need (art. 7.3):
    // refused, naming the field; with the admission it goes through.
    let second_care = login("dnodoen").await?;
    let mut first_try = second_registration();
    if let Some(form) = first_try.as_object_mut() {
        form.remove("wgs_admission_date");
    }
    let refused_fields = match second_care
        .submit("registration", &first_try, &fictional_consent())
        .await
    {
        Err(crate::client::ClientError::Problem { errors, .. }) => {
            errors.into_iter().map(|e| e.field).collect::<Vec<_>>()
        }
        Err(e) => return Err(e.into()),
        Ok(_) => anyhow::bail!("a registration without the Wgs admission was accepted"),
    };
    let second = second_care
        .submit("registration", &second_registration(), &fictional_consent())
        .await?;
    let withdrawn = second["id"].as_str().context("no case id")?.to_owned();
    coordinator
        .step(
            &withdrawn,
            "assessment",
            &json!({"decision": "accept", "fields": checklist_all_met(policy)}),
        )
        .await?;
    coordinator
        .refer(
            &withdrawn,
            coordinator_identity,
            policy,
            &["medemblik".to_owned()],
        )
        .await?;
    second_care
        .step(&withdrawn, "consent/withdraw", &json!({}))
        .await?;

    // Case 3: housed in Hoorn, the home does not work out; replacement housing (art. 9.11)
    // returns the case to the coordinator, who refers it again, to Medemblik.
    let third = care
        .submit("registration", &third_registration(), &fictional_consent())
        .await?;
    let rehoused = third["id"].as_str().context("no case id")?.to_owned();
    coordinator
        .step(
            &rehoused,
            "assessment",
            &json!({"decision": "accept", "fields": checklist_all_met(policy)}),
        )
        .await?;
    let hoorn = [DEMO_MUNICIPALITY.to_owned()];
    (coordinator.refer(&rehoused, coordinator_identity, policy, &hoorn)).await?;
    corporation
        .step(
            &rehoused,
            "match",
            &json!({"home_municipality": DEMO_MUNICIPALITY, "home_kind": "regular",
                    "offer": fictional_offer(&today)}),
        )
        .await?;
    corporation
        .step(&rehoused, "housed", &json!({"key_handover": today}))
        .await?;
    coordinator
        .step(&rehoused, "end", &json!({"reason": "replacement_housing"}))
        .await?;
    let medemblik = ["medemblik".to_owned()];
    (coordinator.refer(&rehoused, coordinator_identity, policy, &medemblik)).await?;

    let mut cases_report = Vec::new();
    let mut opened = BTreeMap::new();
    for case_id in [&case, &withdrawn, &rehoused] {
        let mut opened_here = BTreeMap::new();
        for p in parties {
            let client = login(&p.org).await?;
            match client.slice(case_id, purpose_of(&p.role)).await {
                Ok(slice) => {
                    let dir = out.join("slices").join(&p.org).join(case_id);
                    std::fs::create_dir_all(&dir)?;
                    for f in &slice.fields {
                        // An item's fields (an application, a signal) go in its own folder.
                        let at = match &f.item {
                            Some(item) => dir.join("items").join(item),
                            None => dir.clone(),
                        };
                        std::fs::create_dir_all(&at)?;
                        std::fs::write(
                            at.join(format!("{}.age", f.field)),
                            client::ciphertext(f)?,
                        )?;
                    }
                    let plain = client::open_slice(&slice, &p.identity, policy)?;
                    let opened_dir = out.join("opened").join(&p.org);
                    std::fs::create_dir_all(&opened_dir)?;
                    write_private(
                        &opened_dir.join(format!("{case_id}.json")),
                        plain.to_json().as_bytes(),
                    )?;
                    opened_here.insert(
                        p.org.clone(),
                        Some(plain.fields.keys().cloned().collect::<Vec<_>>()),
                    );
                }
                Err(e) if matches!(e.status(), Some(403 | 404 | 410)) => {
                    opened_here.insert(p.org.clone(), None);
                }
                Err(e) => return Err(e.into()),
            }
        }
        let meta = if case_id == &withdrawn {
            &second_care
        } else {
            &care
        }
        .get_json(&format!("/v1/cases/{case_id}"))
        .await?;
        let states: Vec<Value> = serde_json::from_value(meta["states"].clone()).unwrap_or_default();
        let opened_json: serde_json::Map<String, Value> = opened_here
            .iter()
            .filter_map(|(org, f)| f.as_ref().map(|f| (org.clone(), json!(f))))
            .collect();
        cases_report.push(json!({"id": case_id, "states": states, "opened": opened_json}));
        if case_id == &case {
            opened = opened_here;
        }
    }
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&json!({"cases": cases_report}))?,
    )?;
    let (client, access_report, verified) = privacy_officer_view(
        out,
        &login(DEMO_PRIVACY_OFFICER).await?,
        &coordinator,
        &case,
    )
    .await?;
    Ok(DemoReport {
        case,
        opened,
        revoked_at_match,
        purged: Vec::new(),
        client,
        access_report,
        verified,
        monitor: None,
        year_cases: 0,
        refused_fields,
    })
}

/// The coordinator takes the monitor of `year` as JSON, CSV and SVG and the demo writes them
/// to `monitor.json`, `monitor.csv` and `monitor.svg`.
async fn write_monitor(
    out: &Path,
    base: &str,
    parties: &[Enrolled],
    year: i32,
) -> Result<Option<crate::monitor::Monitor>> {
    let key = parties
        .iter()
        .find(|p| p.org == DEMO_COORDINATOR)
        .map(|p| Secret::new(p.api_key.expose().to_owned()))
        .context("no coordinator")?;
    let coordinator = Client::new(base).login(&Credentials::ApiKey(key)).await?;
    let path = |format: &str| format!("/v1/monitor?period={year}&format={format}");
    let json = coordinator.get_json(&path("json")).await?;
    std::fs::write(
        out.join("monitor.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    std::fs::write(
        out.join("monitor.csv"),
        coordinator.get_text(&path("csv")).await?,
    )?;
    std::fs::write(
        out.join("monitor.svg"),
        coordinator.get_text(&path("svg")).await?,
    )?;
    Ok(Some(serde_json::from_value(json)?))
}

/// The privacy officer signs a checkpoint, takes the client's access report (checking every
/// inclusion proof and the checkpoint's signature), verifies the whole log, and the demo keeps
/// every signed checkpoint under `checkpoints/`.
async fn privacy_officer_view(
    out: &Path,
    officer: &Client,
    coordinator: &Client,
    case: &str,
) -> Result<(String, Vec<ReportEntry>, VerifyReport)> {
    let meta = coordinator.get_json(&format!("/v1/cases/{case}")).await?;
    let client = meta["client_pseudonym"]
        .as_str()
        .context("no client pseudonym")?
        .to_owned();
    let key = VerifierKey::from_vkey(&officer.get_text("/v1/audit/vkey").await?).context("vkey")?;
    let report: AccessReport = serde_json::from_value(
        officer
            .get_json(&format!("/v1/audit/clients/{client}/report"))
            .await?,
    )?;
    let cp = audit::open_checkpoint(&report.checkpoint.note, &key)
        .context("the report's checkpoint does not verify")?;
    for entry in &report.events {
        let proof: Vec<[u8; 32]> = entry
            .proof
            .iter()
            .map(|h| {
                hex::decode(h)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .context("proof hash")
            })
            .collect::<Result<_>>()?;
        anyhow::ensure!(
            audit::verify_inclusion(&entry.event, cp.size, &cp.root, &proof),
            "seq {} is not proven in the checkpoint",
            entry.event.seq
        );
    }
    let verified: VerifyReport =
        serde_json::from_value(officer.get_json("/v1/audit/verify").await?)?;
    let notes: Vec<String> =
        serde_json::from_value(officer.get_json("/v1/audit/checkpoints").await?)?;
    let dir = out.join("checkpoints");
    std::fs::create_dir_all(&dir)?;
    for (i, note) in notes.iter().enumerate() {
        let size = note.lines().nth(1).unwrap_or("0");
        std::fs::write(dir.join(format!("{:03}-size-{size}.note", i + 1)), note)?;
    }
    std::fs::write(out.join("log-vkey.txt"), format!("{}\n", key.to_vkey()))?;
    std::fs::write(
        out.join("access-report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    Ok((client, report.events, verified))
}

/// The corporations that are parties to `case`, as the coordinator sees them.
async fn corporations_of(coordinator: &Client, case: &str) -> Result<Vec<String>> {
    let meta = coordinator.get_json(&format!("/v1/cases/{case}")).await?;
    let parties = meta["parties"].as_array().context("no parties")?;
    Ok((parties.iter())
        .filter(|p| p["role"] == "corporation")
        .filter_map(|p| p["org_id"].as_str().map(str::to_owned))
        .collect())
}

/// The broker's daily purge with the store's clock set to 2 January two years after the
/// fictional `year`: every case rejected in that year is then past its 365 days. Each receipt
/// is written to `receipts/<case>.note`; the access log must still verify. The clock follows
/// the system again afterwards.
async fn purge_a_year_on(
    out: &Path,
    state: &AppState,
    clock: &Clock,
    year: i32,
) -> Result<Vec<crate::store::PurgedCase>> {
    let on = time::Date::from_calendar_date(year + 2, time::Month::January, 2)?;
    clock.set(on.midnight().assume_utc());
    let purged = state.purge().await;
    clock.follow_system();
    let purged = purged?;
    let log = state.store.audit_log().await?;
    let notes = state.store.checkpoint_notes().await?;
    let verified = crate::audit::verify(&log, &notes, &state.verifier_keys());
    anyhow::ensure!(
        verified.ok,
        "the access log does not verify after the purge: {:?}",
        verified.first_problem
    );
    let dir = out.join("receipts");
    std::fs::create_dir_all(&dir)?;
    for case in &purged {
        std::fs::write(dir.join(format!("{}.note", case.case)), &case.receipt)?;
    }
    Ok(purged)
}

/// The purpose a party of the demo names when it opens its slice.
fn purpose_of(role: &str) -> &'static str {
    match role {
        "coordinator" => "assessment",
        "corporation" => "matching",
        "municipality" => "guidance_decision",
        _ => "guidance",
    }
}

/// The short summary `sluis demo` prints.
pub fn summary(report: &DemoReport, policy: &Policy, out: &Path) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "Sluis demo: case {} (fictional client)", report.case);
    let _ = writeln!(
        s,
        "{DEMO_CARE} registered it with the client's consent; {DEMO_COORDINATOR} asked for more information, \
         accepted it and referred it to {DEMO_MUNICIPALITY} (the municipality and the corporations with homes \
         there); {DEMO_CARE} reported changes (income: corporations get it; health: they do not); \
         {DEMO_CORPORATION} matched a home, handed over the keys and converted the lease; {DEMO_CARE} sent the \
         first evaluation.\nA second client (dnodoen) was referred to medemblik and then withdrew consent: \
         see report.json.\n"
    );
    if !report.revoked_at_match.is_empty() {
        let _ = writeln!(
            s,
            "At the match the other referred corporations lost their copies (deleted, 404 since): {}.\n",
            report.revoked_at_match.join(", ")
        );
    }
    let _ = writeln!(s, "What each party could open:");
    for (org, fields) in &report.opened {
        let role = policy
            .parties
            .get(org)
            .map(|p| p.role.as_str())
            .unwrap_or("?");
        match fields {
            Some(fields) => {
                let cats: std::collections::BTreeSet<&str> = fields
                    .iter()
                    .filter_map(|f| policy.field(f))
                    .map(|f| f.category.as_str())
                    .collect();
                let cats: Vec<&str> = cats.into_iter().collect();
                let _ = writeln!(
                    s,
                    "  {org:<20} {role:<16} {:>2} fields: {}",
                    fields.len(),
                    cats.join(", ")
                );
            }
            None => {
                let _ = writeln!(s, "  {org:<20} {role:<16}  - not a party (404)");
            }
        }
    }
    if !report.refused_fields.is_empty() {
        let _ = writeln!(
            s,
            "\ndnoDoen's first registration of its client was refused (art. 7.3: rent arrears above \
             EUR 500 need an admission to debt help, Wgs), naming {}; with the admission added it \
             was registered.",
            report.refused_fields.join(", ")
        );
    }
    let _ = writeln!(
        s,
        "\nThe privacy officer's view: access report of client {} (AVG art. 15)",
        report.client
    );
    let events: Vec<Event> = report
        .access_report
        .iter()
        .map(|e| e.event.clone())
        .collect();
    let names: BTreeMap<String, String> = (report.access_report.iter())
        .filter_map(|e| Some((e.event.user.clone()?, e.user_name.clone()?)))
        .collect();
    s.push_str(&crate::audit::table(&events, &names));
    let v = &report.verified;
    match &v.first_problem {
        None => {
            let _ = writeln!(
                s,
                "Access log verified: {} events, {} signed checkpoints, root {}",
                v.events, v.checkpoints, v.root
            );
        }
        Some(problem) => {
            let _ = writeln!(s, "Access log verification FAILED: {problem}");
        }
    }
    if let Some(monitor) = &report.monitor {
        let shown = |c: crate::monitor::Cell| c.show(monitor.threshold);
        let _ = writeln!(
            s,
            "\nThe monitor of the fictional year {} ({} cases played with the clock set to each step): \
             {} registrations, {} accepted; {} homes handed over against a quota of {}; median wait {} days \
             (monitor.json, monitor.csv, monitor.svg).",
            monitor.period,
            report.year_cases,
            shown(monitor.registrations_total.registered),
            shown(monitor.registrations_total.accepted),
            shown(monitor.homes_total.homes),
            monitor.homes_total.quota,
            monitor
                .homes_total
                .waiting
                .median_days
                .map_or("-".to_owned(), |d| d.to_string()),
        );
    }
    if let Some(first) = report.purged.first() {
        let _ = writeln!(
            s,
            "\nA year on (the store's clock set to 2 January of the year after next) the broker's daily \
             purge deleted the age files of the {} cases rejected in the fictional year (policy \
             [retention.rejected]: 365 days); the access log keeps their events and still verifies. \
             Each has a signed deletion receipt in receipts/ (check one with `sluis audit receipt \
             FILE --vkey \"$(cat log-vkey.txt)\"`); the first:\n\n{}",
            report.purged.len(),
            first.receipt
        );
    }
    let _ = writeln!(
        s,
        "\nTo look around in the browser: `sluis demo --serve` keeps the broker running at \
         http://127.0.0.1:8080/ with a fictional person per main organisation: {}.",
        DEMO_PEOPLE
            .iter()
            .map(|org| {
                let (user, password) = demo_credentials(org);
                format!("{user} / {password}")
            })
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        s,
        "\nWritten to {}: identities/<org>.txt, slices/<org>/<case>/<field>.age, opened/<org>/<case>.json, \
         checkpoints/*.note, log-vkey.txt, access-report.json, monitor.json, monitor.csv, monitor.svg, \
         receipts/<case>.note, sluis.db",
        out.display()
    );
    s
}

fn write_private(path: &PathBuf, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut f = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    f.write_all(bytes)?;
    Ok(())
}
