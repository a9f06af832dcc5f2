//! A fictional year of the arrangement for the monitor: registrations by every care
//! organisation spread over the months, assessments (some rejected), referrals, matches and key
//! handovers, and the parties' reported counts — all through the broker's API, with the
//! store's clock set to each step's date.

use anyhow::{Context as _, Result};
use serde_json::json;
use time::{Date, Duration, Month, OffsetDateTime, PrimitiveDateTime};

use super::{Enrolled, fictional_consent_on, fictional_registration};
use crate::client::{Client, Credentials};
use crate::clock::Clock;
use crate::policy::Policy;

/// How many cases the year holds.
pub(super) const CASES: usize = 64;

/// A small deterministic generator, so that every run plays the same year.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Picks by weight.
    fn pick<'a>(&mut self, weighted: &[(&'a str, u64)]) -> &'a str {
        let total: u64 = weighted.iter().map(|(_, w)| w).sum();
        let mut at = self.below(total);
        for (item, w) in weighted {
            if at < *w {
                return item;
            }
            at -= w;
        }
        weighted[0].0
    }
}

/// A valid (eleven-test) fictional BSN for case `i`.
fn bsn(i: usize) -> String {
    let mut n = 90_000_000_u64 + (i as u64) * 7_919;
    loop {
        let digits: Vec<u64> = format!("{n:08}")
            .bytes()
            .map(|b| u64::from(b - b'0'))
            .collect();
        let sum: u64 = digits.iter().zip((2..=9).rev()).map(|(d, w)| d * w).sum();
        let check = sum % 11;
        if check < 10 {
            return format!("{n:08}{check}");
        }
        n += 1;
    }
}

enum Step {
    Submit,
    Assess(bool),
    Refer(&'static str),
    Match(String, &'static str, &'static str),
    Housed(String),
}

/// Plays the year `year` through the broker at `base`, moving `clock` along; returns the ids of
/// the cases it registered.
pub(super) async fn play(
    base: &str,
    clock: &Clock,
    year: i32,
    policy: &Policy,
    parties: &[Enrolled],
) -> Result<Vec<String>> {
    let mut dice = Dice(0x5eed_2026_0a11_0ca7);
    let at = |date: Date, minutes: u64| {
        PrimitiveDateTime::new(date, time::macros::time!(8:00)).assume_utc()
            + Duration::minutes(i64::try_from(minutes).unwrap_or(0))
    };
    let start = Date::from_calendar_date(year, Month::January, 6).context("year")?;
    let end = Date::from_calendar_date(year, Month::December, 31).context("year")?;
    let care = [
        ("leviaan", 20),
        ("leger-des-heils", 14),
        ("dnodoen", 12),
        ("de-steenuil", 10),
        ("parlan", 8),
    ];
    let groups = [("mo", 44), ("bw", 30), ("jeugd_18plus", 20), ("oud_amv", 6)];
    let origins = [
        ("hoorn", 30),
        ("medemblik", 16),
        ("enkhuizen", 10),
        ("drechterland", 8),
        ("stede-broec", 9),
        ("koggenland", 9),
        ("opmeer", 4),
        ("elsewhere", 14),
    ];
    let outflow: Vec<(&'static str, u64)> = [
        "hoorn",
        "medemblik",
        "koggenland",
        "stede-broec",
        "enkhuizen",
        "drechterland",
        "opmeer",
    ]
    .iter()
    .map(|m| {
        (
            *m,
            u64::from(
                policy
                    .allocation
                    .municipalities
                    .get(*m)
                    .map_or(1, |a| a.quota),
            ),
        )
    })
    .collect();

    // Each case's steps and their dates.
    let mut plan: Vec<(OffsetDateTime, usize, Step)> = Vec::new();
    let mut facts = Vec::with_capacity(CASES);
    for i in 0..CASES {
        let registered = start + Duration::days((i as i64 * 352) / CASES as i64);
        let org = dice.pick(&care);
        let group = dice.pick(&groups);
        let origin = dice.pick(&origins);
        facts.push((org, group, origin, registered));
        plan.push((at(registered, dice.below(300)), i, Step::Submit));
        let assessed = registered + Duration::days(3 + dice.below(12) as i64);
        if assessed > end {
            continue;
        }
        let roll = dice.below(100);
        if roll < 11 {
            plan.push((at(assessed, 60 + dice.below(300)), i, Step::Assess(false)));
            continue;
        }
        plan.push((at(assessed, 60 + dice.below(300)), i, Step::Assess(true)));
        let referred = assessed + Duration::days(2 + dice.below(20) as i64);
        if referred > end {
            continue;
        }
        let municipality = dice.pick(&outflow);
        plan.push((
            at(referred, 120 + dice.below(200)),
            i,
            Step::Refer(municipality),
        ));
        let matched = referred + Duration::days(20 + dice.below(150) as i64);
        if matched > end || dice.below(100) < 12 {
            continue;
        }
        let owners = &policy.allocation.municipalities[municipality].corporations;
        let corporation = owners[dice.below(owners.len() as u64) as usize].clone();
        let kind = if group == "jeugd_18plus" {
            if dice.below(2) == 0 {
                "youth_room"
            } else {
                "youth_studio"
            }
        } else {
            "regular"
        };
        plan.push((
            at(matched, 180 + dice.below(200)),
            i,
            Step::Match(corporation, municipality, kind),
        ));
        let handover = matched + Duration::days(7 + dice.below(21) as i64);
        if handover > end {
            continue;
        }
        plan.push((
            at(handover - Duration::days(1), 240 + dice.below(100)),
            i,
            Step::Housed(handover.to_string()),
        ));
    }
    plan.sort_by_key(|(t, i, _)| (*t, *i));

    // Every party logs in once; the tokens outlive the demo.
    let mut clients = std::collections::BTreeMap::new();
    for p in parties {
        let key = crate::auth::Secret::new(p.api_key.expose().to_owned());
        clients.insert(
            p.org.clone(),
            Client::new(base).login(&Credentials::ApiKey(key)).await?,
        );
    }
    let login = |org: &str| {
        clients
            .get(org)
            .with_context(|| format!("{org} is not enrolled"))
    };
    let coordinator_identity = &parties
        .iter()
        .find(|p| p.org == super::DEMO_COORDINATOR)
        .context("no coordinator")?
        .identity;
    let mut ids: Vec<Option<String>> = vec![None; CASES];
    let mut matched_by: Vec<Option<String>> = vec![None; CASES];
    for (time, i, step) in plan {
        clock.set(time);
        let (org, group, origin, registered) = facts[i];
        match step {
            Step::Submit => {
                let mut form = fictional_registration();
                form["bsn"] = json!(bsn(i));
                form["facility_type"] = json!(group);
                form["municipality_of_origin"] = json!(
                    policy
                        .parties
                        .get(origin)
                        .map_or("buiten de regio", |p| p.name.as_str())
                );
                let answer = login(org)?
                    .post_json(
                        "/v1/cases",
                        &json!({
                            "form": "registration",
                            "fields": form,
                            "consent": fictional_consent_on(registered),
                            "monitor": {"client_group": group, "origin_municipality": origin},
                        }),
                    )
                    .await?;
                ids[i] = answer["id"].as_str().map(str::to_owned);
            }
            Step::Assess(accept) => {
                let case = ids[i].as_deref().context("case not registered")?;
                let body = if accept {
                    json!({"decision": "accept", "fields": super::checklist_all_met(policy)})
                } else {
                    let mut fields = super::checklist(policy, Some("ready_for_outflow"));
                    fields["decision_reason"] = json!("Fictief: nog niet woonvaardig genoeg.");
                    json!({"decision": "reject", "fields": fields})
                };
                login(super::DEMO_COORDINATOR)?
                    .step(case, "assessment", &body)
                    .await?;
            }
            Step::Refer(municipality) => {
                let case = ids[i].as_deref().context("case not registered")?;
                login(super::DEMO_COORDINATOR)?
                    .refer(
                        case,
                        coordinator_identity,
                        policy,
                        &[municipality.to_owned()],
                    )
                    .await?;
            }
            Step::Match(corporation, municipality, kind) => {
                let case = ids[i].as_deref().context("case not registered")?;
                login(&corporation)?
                    .step(
                        case,
                        "match",
                        &json!({"home_municipality": municipality, "home_kind": kind,
                                "offer": super::fictional_offer(&clock.today())}),
                    )
                    .await?;
                matched_by[i] = Some(corporation);
            }
            Step::Housed(handover) => {
                let case = ids[i].as_deref().context("case not registered")?;
                let corporation = matched_by[i].clone().context("housed before matched")?;
                login(&corporation)?
                    .step(case, "housed", &json!({"key_handover": handover}))
                    .await?;
            }
        }
    }

    // The parties' counts for the year: corporations and care organisations per half year,
    // municipalities for the whole year.
    let half_end = Date::from_calendar_date(year, Month::July, 3).context("year")?;
    clock.set(at(half_end, 0));
    for (org, party) in &policy.parties {
        let Some(indicators) = policy.monitor.indicators.get(&party.role) else {
            continue;
        };
        let periods: Vec<String> = if party.role == "municipality" {
            vec![year.to_string()]
        } else {
            vec![format!("{year}-H1"), format!("{year}-H2")]
        };
        for period in periods {
            if period.ends_with("H2") || period == year.to_string() {
                clock.set(at(end, 0));
            }
            let counts: serde_json::Map<String, serde_json::Value> = indicators
                .iter()
                .map(|ind| {
                    let n = match ind.as_str() {
                        "special_assistance_days_total" => 20 + dice.below(400),
                        "special_assistance_requests" | "guidance_decisions" => dice.below(14),
                        _ => dice.below(5),
                    };
                    (ind.clone(), json!(n))
                })
                .collect();
            login(org)?
                .post_json(
                    "/v1/monitor/reports",
                    &json!({"period": period, "counts": counts}),
                )
                .await?;
        }
    }
    Ok(ids.into_iter().flatten().collect())
}
