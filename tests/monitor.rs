//! The annual monitor: the figures for a hand-built set of cases (written out here), small-cell
//! suppression that holds against subtraction from totals, parties' own rows, reported counts
//! with validation, and nothing sealed opened to compute it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a step that fails fails the test"
)]

mod common;

use common::TestApp;
use serde_json::{Value, json};
use sluis::monitor::{self, CaseFacts, Cell, Period, ReportedCount};

const SMALL: Cell = Cell::Small;
const HIDDEN: Cell = Cell::Hidden;
const fn n(v: u64) -> Cell {
    Cell::Count(v)
}

fn case(by: &str, at: &str, group: &str, origin: &str) -> CaseFacts {
    CaseFacts {
        registered_by: by.into(),
        registered_at: format!("{at}T09:00:00.000Z"),
        client_group: Some(group.into()),
        origin: Some(origin.into()),
        ..CaseFacts::default()
    }
}

fn housed(
    mut c: CaseFacts,
    by: &str,
    municipality: &str,
    kind: &str,
    referred: &str,
    keys: &str,
) -> CaseFacts {
    c.accepted = true;
    c.referred_at = Some(format!("{referred}T10:00:00.000Z"));
    c.housed_by = Some(by.into());
    c.home_municipality = Some(municipality.into());
    c.home_kind = Some(kind.into());
    c.key_handover = Some(keys.into());
    c
}

fn accepted(mut c: CaseFacts) -> CaseFacts {
    c.accepted = true;
    c
}

fn rejected(mut c: CaseFacts) -> CaseFacts {
    c.rejected = true;
    c
}

/// 15 registrations in 2026 (and two outside it); 11 homes handed over in 2026 (and one in
/// 2025), with their referral dates; and reported counts.
fn year() -> (Vec<CaseFacts>, Vec<ReportedCount>) {
    let mut cases = Vec::new();
    // leviaan: 7 registered (6 accepted, 1 rejected); all MO or BW from Hoorn.
    for i in 0..6 {
        cases.push(accepted(case(
            "leviaan",
            &format!("2026-0{}-10", i + 1),
            if i < 4 { "mo" } else { "bw" },
            "hoorn",
        )));
    }
    cases.push(rejected(case("leviaan", "2026-08-01", "mo", "medemblik")));
    // leger-des-heils: 6 registered (5 accepted, 1 rejected).
    for i in 0..5 {
        let group = if i < 2 { "mo" } else { "bw" };
        let origin = if i < 4 { "hoorn" } else { "medemblik" };
        cases.push(accepted(case(
            "leger-des-heils",
            &format!("2026-0{}-15", i + 2),
            group,
            origin,
        )));
    }
    cases.push(rejected(case(
        "leger-des-heils",
        "2026-09-01",
        "mo",
        "medemblik",
    )));
    // dnodoen: 2 registered and accepted: one jeugd 18+ from elsewhere, one MO from Hoorn.
    cases.push(accepted(case(
        "dnodoen",
        "2026-03-03",
        "jeugd_18plus",
        "elsewhere",
    )));
    cases.push(accepted(case("dnodoen", "2026-10-03", "mo", "hoorn")));
    // Outside 2026.
    cases.push(accepted(case("leviaan", "2025-12-20", "mo", "hoorn")));
    cases.push(case("parlan", "2027-01-02", "bw", "opmeer"));

    // Homes in 2026 (registered in 2025, so the registration figures above stay as they are).
    let old = |group: &str| case("de-steenuil", "2025-02-01", group, "hoorn");
    // intermaris, Hoorn: 6 homes (4 MO, 1 BW, 1 jeugd 18+ in a youth room).
    for (i, (group, days)) in [
        ("mo", 30),
        ("mo", 60),
        ("mo", 90),
        ("mo", 120),
        ("bw", 150),
        ("jeugd_18plus", 200),
    ]
    .iter()
    .enumerate()
    {
        let keys = time::Date::from_calendar_date(2026, time::Month::September, 1).unwrap()
            + time::Duration::days(i as i64);
        let referred = keys - time::Duration::days(*days);
        let kind = if *group == "jeugd_18plus" {
            "youth_room"
        } else {
            "regular"
        };
        cases.push(housed(
            old(group),
            "intermaris",
            "hoorn",
            kind,
            &referred.to_string(),
            &keys.to_string(),
        ));
    }
    // het-grootslag, Hoorn: 2 MO homes, 100 and 300 days.
    cases.push(housed(
        old("mo"),
        "het-grootslag",
        "hoorn",
        "regular",
        "2026-01-01",
        "2026-04-11",
    ));
    cases.push(housed(
        old("mo"),
        "het-grootslag",
        "hoorn",
        "regular",
        "2025-12-01",
        "2026-09-27",
    ));
    // wel-wonen, Medemblik: 3 BW homes, 40, 50 and 70 days.
    cases.push(housed(
        old("bw"),
        "wel-wonen",
        "medemblik",
        "regular",
        "2026-03-01",
        "2026-04-10",
    ));
    cases.push(housed(
        old("bw"),
        "wel-wonen",
        "medemblik",
        "regular",
        "2026-03-01",
        "2026-04-20",
    ));
    cases.push(housed(
        old("bw"),
        "wel-wonen",
        "medemblik",
        "regular",
        "2026-03-01",
        "2026-05-10",
    ));
    // A home of 2025.
    cases.push(housed(
        old("mo"),
        "intermaris",
        "hoorn",
        "regular",
        "2025-06-01",
        "2025-12-30",
    ));

    let r = |org: &str, period: &str, indicator: &str, value: u64| ReportedCount {
        org: org.into(),
        period: period.into(),
        indicator: indicator.into(),
        value,
    };
    let reports = vec![
        r("intermaris", "2026-H1", "rent_arrears", 3),
        r("intermaris", "2026-H2", "rent_arrears", 4),
        r("het-grootslag", "2026", "rent_arrears", 6),
        r("het-grootslag", "2026-H1", "rent_arrears", 2),
        r("wel-wonen", "2026-H2", "rent_arrears", 1),
        r("hoorn", "2026", "special_assistance_requests", 8),
        r("hoorn", "2026", "special_assistance_days_total", 200),
        r("enkhuizen", "2026", "special_assistance_requests", 9),
        r("enkhuizen", "2026", "special_assistance_days_total", 180),
        r("medemblik", "2026", "special_assistance_requests", 2),
        r("medemblik", "2026", "special_assistance_days_total", 30),
    ];
    (cases, reports)
}

#[test]
fn the_figures_of_a_hand_built_year() {
    let policy = common::policy();
    let (cases, reports) = year();
    let m = monitor::compute(&policy, "2026".parse().unwrap(), &cases, &reports);
    assert_eq!(m.period, "2026");
    assert_eq!(m.threshold, 5);

    // Registrations: leviaan 7/6/1, leger-des-heils 6/5/1, dnodoen 2/2/0, every case decided.
    // Leviaan's 6 accepted is hidden too: 7 − 6 would give its one rejection away.
    let reg = |org: &str| m.registrations[org].clone();
    assert_eq!(
        (
            reg("leviaan").registered,
            reg("leviaan").accepted,
            reg("leviaan").rejected
        ),
        (n(7), HIDDEN, SMALL)
    );
    // dnodoen's 2 is small; leger-des-heils (6, then 5) is hidden so that 15 − 7 − 0 − 0 does
    // not give dnodoen's count away.
    assert_eq!(
        (
            reg("leger-des-heils").registered,
            reg("leger-des-heils").accepted,
            reg("leger-des-heils").rejected
        ),
        (HIDDEN, HIDDEN, SMALL)
    );
    assert_eq!(
        (
            reg("dnodoen").registered,
            reg("dnodoen").accepted,
            reg("dnodoen").rejected
        ),
        (SMALL, SMALL, n(0))
    );
    assert_eq!(
        (reg("parlan").registered, reg("de-steenuil").registered),
        (n(0), n(0))
    );
    // Two rejections in all: the total itself is small, and 15 − 13 would show it, so the
    // accepted total is hidden.
    assert_eq!(
        (
            m.registrations_total.registered,
            m.registrations_total.accepted,
            m.registrations_total.rejected
        ),
        (n(15), HIDDEN, SMALL)
    );

    // Origin by client group: MO 9 (Hoorn 7, Medemblik 2), BW 5 (Hoorn 4, Medemblik 1),
    // jeugd 18+ 1 (elsewhere).
    let origin = m.origin_by_group.as_ref().unwrap();
    let at = |table: &monitor::Table, row: &str, column: &str| {
        let r = table.rows.iter().position(|x| x == row).unwrap();
        let c = table.columns.iter().position(|x| x == column).unwrap();
        table.cells[r][c]
    };
    let row_total = |table: &monitor::Table, row: &str| {
        table.row_totals[table.rows.iter().position(|x| x == row).unwrap()]
    };
    let column_total = |table: &monitor::Table, column: &str| {
        table.column_totals[table.columns.iter().position(|x| x == column).unwrap()]
    };
    assert_eq!(origin.total, n(15));
    assert_eq!(
        (
            row_total(origin, "mo"),
            row_total(origin, "bw"),
            row_total(origin, "jeugd_18plus"),
            row_total(origin, "oud_amv")
        ),
        (HIDDEN, HIDDEN, SMALL, n(0))
    );
    assert_eq!(
        (
            column_total(origin, "hoorn"),
            column_total(origin, "medemblik"),
            column_total(origin, "elsewhere")
        ),
        (n(11), SMALL, SMALL)
    );
    assert_eq!(
        (
            at(origin, "mo", "hoorn"),
            at(origin, "mo", "medemblik"),
            at(origin, "bw", "hoorn"),
            at(origin, "bw", "medemblik")
        ),
        (HIDDEN, SMALL, SMALL, SMALL)
    );
    assert_eq!(at(origin, "jeugd_18plus", "elsewhere"), SMALL);
    assert_eq!(at(origin, "oud_amv", "opmeer"), n(0));

    // Homes per corporation: intermaris 6 (1 youth), het-grootslag 2, wel-wonen 3.
    let corp = |org: &str| m.homes_by_corporation[org].clone();
    assert_eq!(
        (corp("intermaris").homes, corp("intermaris").youth_homes),
        (n(6), Some(SMALL))
    );
    assert_eq!(corp("intermaris").quota, 35.0);
    // Hinges of 30, 60, 90, 120, 150, 200 days: 60, 105, 150.
    assert_eq!(
        (
            corp("intermaris").waiting.q1_days,
            corp("intermaris").waiting.median_days,
            corp("intermaris").waiting.q3_days
        ),
        (Some(60.0), Some(105.0), Some(150.0))
    );
    assert_eq!(
        (corp("het-grootslag").homes, corp("wel-wonen").homes),
        (SMALL, SMALL)
    );
    assert_eq!(
        corp("het-grootslag").waiting.median_days,
        None,
        "no statistics over fewer than 5 homes"
    );
    assert_eq!(
        (corp("de-woonschakel").homes, corp("de-woonschakel").quota),
        (n(0), 29.0)
    );

    // Outflow by client group: MO 6 (Hoorn), BW 4 (Hoorn 1, Medemblik 3), jeugd 18+ 1 (Hoorn).
    let outflow = m.outflow_by_group.as_ref().unwrap();
    assert_eq!(outflow.total, n(11));
    assert_eq!(
        (
            row_total(outflow, "mo"),
            row_total(outflow, "bw"),
            row_total(outflow, "jeugd_18plus")
        ),
        (HIDDEN, SMALL, SMALL)
    );
    assert_eq!(
        (
            at(outflow, "mo", "hoorn"),
            at(outflow, "bw", "hoorn"),
            at(outflow, "bw", "medemblik"),
            at(outflow, "jeugd_18plus", "hoorn")
        ),
        (HIDDEN, SMALL, SMALL, SMALL)
    );
    // Medemblik's 3 is small, so Hoorn's 8 is hidden too: 11 − 8 would give it away.
    assert_eq!(
        (
            column_total(outflow, "hoorn"),
            column_total(outflow, "medemblik")
        ),
        (HIDDEN, SMALL)
    );
    let muni = |m_: &str| m.homes_by_municipality[m_].clone();
    assert_eq!(
        (
            muni("hoorn").homes,
            muni("hoorn").quota,
            muni("hoorn").waiting.median_days
        ),
        (HIDDEN, 35.0, None)
    );
    assert_eq!(
        (muni("medemblik").homes, muni("medemblik").quota),
        (SMALL, 21.0)
    );
    assert_eq!(muni("opmeer").homes, n(0));
    // All 11: 30 40 50 60 70 90 100 120 150 200 300 days → 50, 90, 150.
    assert_eq!(m.homes_total.homes, n(11));
    assert_eq!(m.homes_total.quota, 100.0);
    assert_eq!(
        (
            m.homes_total.waiting.q1_days,
            m.homes_total.waiting.median_days,
            m.homes_total.waiting.q3_days
        ),
        (Some(50.0), Some(90.0), Some(150.0))
    );

    // Reported: a yearly report wins over half years; otherwise the halves add up.
    // rent_arrears: intermaris 3 + 4, het-grootslag 6 (its yearly report), wel-wonen 1.
    let arrears = &m.reported["rent_arrears"];
    assert_eq!(arrears.total, n(14));
    assert_eq!(arrears.rows["intermaris"], n(7));
    assert_eq!(arrears.rows["het-grootslag"], HIDDEN);
    assert_eq!(arrears.rows["wel-wonen"], SMALL);
    assert_eq!(arrears.rows["wooncompagnie"], n(0));
    let requests = &m.reported["special_assistance_requests"];
    assert_eq!(
        (
            requests.rows["enkhuizen"],
            requests.rows["hoorn"],
            requests.rows["medemblik"],
            requests.total
        ),
        (n(9), HIDDEN, SMALL, n(19))
    );
    // Average procedure days only where the number of requests is shown: 180 / 9.
    assert_eq!(
        m.special_assistance_days_average,
        [("enkhuizen".to_owned(), 20.0)].into()
    );

    // As a table and as CSV.
    let text = m.to_text();
    let line = format!(
        "  leviaan{}{}7{}x{}<5\n",
        " ".repeat(15),
        " ".repeat(11),
        " ".repeat(9),
        " ".repeat(8)
    );
    assert!(text.contains(&line), "{text}");
    let csv = m.to_csv();
    for row in [
        "2026,registrations,leger-des-heils,registered,x\n",
        "2026,registrations,dnodoen,registered,<5\n",
        "2026,homes_by_corporation,intermaris,waiting_median_days,105\n",
        "2026,reported,total,rent_arrears,14\n",
        "2026,outflow_by_group,total,total,11\n",
    ] {
        assert!(csv.contains(row), "{row} not in\n{csv}");
    }

    // The first half year: only its own registrations and reports, half the quota.
    let h1 = monitor::compute(&policy, "2026-H1".parse().unwrap(), &cases, &reports);
    assert_eq!(h1.registrations_total.registered, n(12));
    assert_eq!(h1.reported["rent_arrears"].rows["intermaris"], SMALL);
    assert_eq!(h1.reported["rent_arrears"].rows["het-grootslag"], SMALL);
    assert_eq!(h1.reported["rent_arrears"].total, n(5));
    assert_eq!(h1.homes_by_corporation["intermaris"].quota, 17.5);
    // Four homes in the first half: het-grootslag 1, wel-wonen 3.
    assert_eq!(h1.homes_total.homes, SMALL);
}

/// Registered, accepted and rejected are published side by side per care organisation: when
/// every case is decided, registered = accepted + rejected, per organisation and in total. For
/// many generated years, a reader who knows that derives no hidden count: in no line (an
/// organisation's three counts, or a column with its total) is exactly one count hidden while
/// the others are shown.
#[test]
fn no_hidden_registration_count_follows_from_the_others() {
    let policy = common::policy();
    let care = [
        "leviaan",
        "leger-des-heils",
        "dnodoen",
        "parlan",
        "de-steenuil",
    ];
    let mut seed = 0x0fed_cba9_8765_4321_u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let mut hidden_seen = 0;
    for _ in 0..500 {
        let mut cases = Vec::new();
        for org in care {
            for i in 0..next(14) {
                let c = case(org, &format!("2026-0{}-10", 1 + i % 9), "mo", "hoorn");
                cases.push(if next(4) == 0 {
                    rejected(c)
                } else {
                    accepted(c)
                });
            }
        }
        let m = monitor::compute(&policy, "2026".parse().unwrap(), &cases, &[]);
        let mut lines: Vec<[Cell; 3]> = m
            .registrations
            .values()
            .map(|r| [r.registered, r.accepted, r.rejected])
            .collect();
        let t = &m.registrations_total;
        lines.push([t.registered, t.accepted, t.rejected]);
        for column in 0..3 {
            let cells: Vec<Cell> = m
                .registrations
                .values()
                .map(|r| [r.registered, r.accepted, r.rejected][column])
                .collect();
            let total = [t.registered, t.accepted, t.rejected][column];
            let hidden = cells.iter().filter(|c| c.count().is_none()).count();
            hidden_seen += hidden;
            assert!(
                !(total.count().is_some() && hidden == 1),
                "column {column}: one hidden count follows from its total: {:?}",
                m.registrations
            );
        }
        for [registered, accepted, rejected] in lines {
            let hidden = [accepted, rejected]
                .iter()
                .filter(|c| c.count().is_none())
                .count();
            assert!(
                !(registered.count().is_some() && hidden == 1),
                "registered {registered:?} = accepted {accepted:?} + rejected {rejected:?}"
            );
        }
    }
    assert!(hidden_seen > 100, "the generated years hide counts");
}

/// No published count is below the threshold, and no hidden cell can be pinned by subtracting
/// the shown cells of its row or column from the shown total — for many generated tables.
#[test]
fn suppression_holds_against_subtraction() {
    let mut seed = 0x1234_5678_9abc_def1_u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let labels = |k: usize, p: &str| (0..k).map(|i| format!("{p}{i}")).collect::<Vec<_>>();
    for _ in 0..2000 {
        let (nr, nc) = (1 + next(5) as usize, 1 + next(6) as usize);
        let values: Vec<Vec<u64>> = (0..nr)
            .map(|_| {
                (0..nc)
                    .map(|_| if next(3) == 0 { 0 } else { next(12) })
                    .collect()
            })
            .collect();
        let t = monitor::two_way(&labels(nr, "r"), &labels(nc, "c"), &values, 5);
        let shown = |c: Cell| c.count();
        let all = t
            .cells
            .iter()
            .flatten()
            .chain(&t.row_totals)
            .chain(&t.column_totals)
            .chain([&t.total]);
        for cell in all {
            if let Some(v) = shown(*cell) {
                assert!(v == 0 || v >= 5, "{values:?} → {t:?}");
            }
        }
        // A line with a shown total and exactly one hidden cell would give it away.
        let check = |cells: Vec<Cell>, total: Cell| {
            if total.count().is_some() {
                let hidden = cells.iter().filter(|c| c.count().is_none()).count();
                assert_ne!(hidden, 1, "{values:?} → {t:?}");
            }
        };
        for r in 0..nr {
            check(t.cells[r].clone(), t.row_totals[r]);
        }
        for c in 0..nc {
            check(
                t.cells.iter().map(|row| row[c]).collect(),
                t.column_totals[c],
            );
        }
        check(t.row_totals.clone(), t.total);
        check(t.column_totals.clone(), t.total);
    }
}

/// At half a year the smallest corporations' quotas fall under the threshold, so "<5" alone
/// would hide whether they met them: the comparison is published where it pins no count
/// (quotas: wooncompagnie 2, gwb-opmeer 5, gwb-koggenland 7, intermaris 35 a year).
#[test]
fn a_half_year_tells_whether_small_corporations_met_their_quota() {
    let policy = common::policy();
    let mut cases = Vec::new();
    let mut homes = |by: &str, municipality: &str, count: usize| {
        for i in 0..count {
            let keys = format!("2026-03-{:02}", 1 + i);
            let old = case("leviaan", "2025-02-01", "mo", "hoorn");
            cases.push(housed(
                old,
                by,
                municipality,
                "regular",
                "2026-01-05",
                &keys,
            ));
        }
    };
    homes("wooncompagnie", "hoorn", 2);
    homes("gwb-opmeer", "opmeer", 1);
    homes("gwb-koggenland", "koggenland", 2);
    homes("intermaris", "hoorn", 20);
    let h1 = monitor::compute(&policy, "2026-H1".parse().unwrap(), &cases, &[]);
    let row = |org: &str| {
        let h = &h1.homes_by_corporation[org];
        (h.homes, h.quota, h.quota_met)
    };
    // Quota 1: any count of "<5" meets it; saying so tells nothing.
    assert_eq!(row("wooncompagnie"), (SMALL, 1.0, Some(true)));
    // Quota 2.5: "not met" leaves 1 or 2 homes, "met" 3 or 4: either answer can be given.
    assert_eq!(row("gwb-opmeer"), (SMALL, 2.5, Some(false)));
    // Quota 3.5: "met" would say exactly 4 homes, so neither answer is given.
    assert_eq!(row("gwb-koggenland"), (SMALL, 3.5, None));
    // A shown count needs no comparison.
    assert_eq!(row("intermaris"), (n(20), 17.5, None));
    assert_eq!(row("het-grootslag"), (n(0), 6.5, None));
    assert_eq!(h1.homes_total.homes, n(25));
    let csv = h1.to_csv();
    assert!(
        csv.contains("2026-H1,homes_by_corporation,wooncompagnie,quota_met,met\n"),
        "{csv}"
    );
    assert!(csv.contains("2026-H1,homes_by_corporation,gwb-opmeer,quota_met,not met\n"));
    assert!(!csv.contains("gwb-koggenland,quota_met"));
    let json = serde_json::to_value(&h1).unwrap();
    assert_eq!(
        json["homes_by_corporation"]["gwb-opmeer"]["quota_met"],
        json!(false)
    );
    assert_eq!(
        json["homes_by_corporation"]["gwb-koggenland"].get("quota_met"),
        None
    );
    let text = h1.to_text();
    assert!(
        text.lines()
            .any(|l| l.starts_with("  gwb-opmeer") && l.ends_with("not met")),
        "{text}"
    );
}

/// For many generated half years' lines of homes per corporation, a reader who knows every
/// published count, the total and every published quota comparison still finds two or more
/// possible counts for each hidden cell (every combination within the cells' bounds tried),
/// and every comparison given is true.
#[test]
fn quota_comparisons_pin_no_hidden_count() {
    let mut seed = 0x2468_ace0_1357_9bdf_u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let (mut given, mut withheld) = (0, 0);
    for _ in 0..600 {
        let k = 1 + next(4) as usize;
        let values: std::collections::BTreeMap<String, u64> = (0..k)
            .map(|i| (format!("c{i}"), if next(4) == 0 { 0 } else { next(9) }))
            .collect();
        let quotas: Vec<f64> = (0..k).map(|_| next(16) as f64 / 2.0).collect();
        let table = monitor::one_way(&values, 5);
        let cells: Vec<Cell> = table.rows.values().copied().collect();
        let true_values: Vec<u64> = values.values().copied().collect();
        let met = monitor::quota_met(&true_values, &cells, table.total, &quotas, 5);
        // Every combination of hidden counts the reader cannot rule out (counts up to 40).
        let hidden: Vec<usize> = (0..k).filter(|i| cells[*i].count().is_none()).collect();
        let range = |i: usize| match cells[i] {
            Cell::Small => 1..=4_u64,
            _ => 5..=40,
        };
        let mut possible: Vec<std::collections::BTreeSet<u64>> = vec![Default::default(); k];
        let mut guess = vec![0_u64; k];
        let shown: u64 = cells.iter().filter_map(|c| c.count()).sum();
        fn walk(
            at: usize,
            hidden: &[usize],
            guess: &mut Vec<u64>,
            visit: &mut dyn FnMut(&[u64]),
            range: &dyn Fn(usize) -> std::ops::RangeInclusive<u64>,
        ) {
            if at == hidden.len() {
                visit(guess);
                return;
            }
            for v in range(hidden[at]) {
                guess[hidden[at]] = v;
                walk(at + 1, hidden, guess, visit, range);
            }
        }
        let mut visit = |g: &[u64]| {
            let sum: u64 = hidden.iter().map(|i| g[*i]).sum();
            let total_fits = table.total.count().is_none_or(|t| t == shown + sum);
            let comparisons_fit = hidden
                .iter()
                .all(|i| met[*i].is_none_or(|m| m == (g[*i] as f64 >= quotas[*i])));
            if total_fits && comparisons_fit {
                for i in &hidden {
                    possible[*i].insert(g[*i]);
                }
            }
        };
        walk(0, &hidden, &mut guess, &mut visit, &range);
        for i in 0..k {
            match (cells[i].count(), met[i]) {
                (Some(_), m) => assert_eq!(m, None, "{values:?} {quotas:?}"),
                (None, m) => {
                    assert!(
                        possible[i].len() >= 2,
                        "c{i} pinned to {:?}: {values:?} quotas {quotas:?} → {cells:?} {met:?}",
                        possible[i]
                    );
                    if let Some(m) = m {
                        assert_eq!(m, true_values[i] as f64 >= quotas[i]);
                        given += 1;
                    } else {
                        withheld += 1;
                    }
                }
            }
        }
    }
    assert!(
        given > 100 && withheld > 20,
        "given {given}, withheld {withheld}"
    );
}

/// What the broker recorded itself: 6 decisions by Hoorn (2, 4, 7, 10, 14 and 20 days), two
/// by Medemblik and one by Enkhuizen in 2026, one by Hoorn in 2025; 5 signals by Intermaris,
/// 1 by Hoorn and 2 by Medemblik; 5 conversions by Intermaris (after 300 to 390 days) and
/// one in 2025. Two small counts in a line leave the others and the total shown.
#[test]
fn decisions_signals_and_conversions_are_counted_from_the_records() {
    use sluis::monitor::{Decision, Signal};
    let policy = common::policy();
    let decision = |m: &str, kind: &str, applied: &str, decided: &str| Decision {
        municipality: m.into(),
        kind: kind.into(),
        applied_at: format!("{applied}T10:00:00.000Z"),
        decided_on: decided.into(),
    };
    let mut hoorn = housed(
        case("leviaan", "2025-09-01", "mo", "hoorn"),
        "intermaris",
        "hoorn",
        "regular",
        "2025-10-01",
        "2025-11-01",
    );
    hoorn.decisions = vec![
        decision("hoorn", "guidance", "2026-01-05", "2026-01-07"),
        decision("hoorn", "guidance", "2026-02-02", "2026-02-06"),
        decision("hoorn", "special_assistance", "2026-03-02", "2026-03-09"),
        decision("hoorn", "guidance", "2026-04-01", "2026-04-11"),
        decision("hoorn", "guidance", "2026-05-04", "2026-05-18"),
        decision("hoorn", "guidance", "2026-06-01", "2026-06-21"),
        decision("hoorn", "guidance", "2025-12-01", "2025-12-10"),
    ];
    hoorn.signals = (1..=5)
        .map(|i| Signal {
            org: "intermaris".into(),
            at: format!("2026-0{i}-15T09:00:00.000Z"),
        })
        .chain(["hoorn", "medemblik", "medemblik"].map(|org| Signal {
            org: org.into(),
            at: "2026-07-01T09:00:00.000Z".into(),
        }))
        .collect();
    let mut medemblik = case("leviaan", "2025-09-01", "bw", "medemblik");
    medemblik.decisions = vec![
        decision("medemblik", "guidance", "2026-03-02", "2026-03-05"),
        decision(
            "medemblik",
            "special_assistance",
            "2026-03-02",
            "2026-03-08",
        ),
        decision("enkhuizen", "guidance", "2026-04-01", "2026-04-06"),
    ];
    let mut cases = vec![hoorn, medemblik];
    for (i, converted) in [
        "2026-08-28",
        "2026-09-10",
        "2026-10-01",
        "2026-10-20",
        "2026-11-26",
    ]
    .into_iter()
    .enumerate()
    {
        let mut c = housed(
            case("parlan", "2025-06-01", "bw", "hoorn"),
            "intermaris",
            "hoorn",
            "regular",
            "2025-07-01",
            "2025-11-01",
        );
        c.lease_converted_on = Some(converted.into());
        c.registered_by = format!("parlan-{i}");
        cases.push(c);
    }
    let mut early = housed(
        case("parlan", "2024-06-01", "bw", "hoorn"),
        "wooncompagnie",
        "hoorn",
        "regular",
        "2024-07-01",
        "2024-11-01",
    );
    early.lease_converted_on = Some("2025-11-01".into());
    cases.push(early);

    let m = monitor::compute(&policy, "2026".parse().unwrap(), &cases, &[]);
    let r = &m.recorded;
    assert_eq!(r.decisions.rows["hoorn"], n(6));
    assert_eq!(r.decisions.rows["medemblik"], SMALL);
    assert_eq!(r.decisions.rows["enkhuizen"], SMALL);
    assert_eq!(r.decisions.rows["koggenland"], n(0));
    assert_eq!(r.decisions.total, n(9));
    // Median of 2, 4, 7, 10, 14, 20 days; none for Medemblik and Enkhuizen (their counts are
    // not shown); guidance (2, 3, 4, 5, 10, 14, 20) has enough decisions, special assistance
    // (7, 6) not.
    assert_eq!(
        r.decision_days_median,
        [("hoorn".to_owned(), 8.5)].into_iter().collect()
    );
    assert_eq!(
        r.decision_days_median_by_kind,
        [("guidance".to_owned(), 5.0)].into_iter().collect()
    );
    assert_eq!(r.signals.rows["intermaris"], n(5));
    assert_eq!(r.signals.rows["hoorn"], SMALL);
    assert_eq!(r.signals.rows["medemblik"], SMALL);
    assert_eq!(r.signals.rows["wooncompagnie"], n(0));
    assert_eq!(r.signals.total, n(8));
    assert_eq!(r.lease_conversions.rows["intermaris"], n(5));
    assert_eq!(r.lease_conversions.rows["wooncompagnie"], n(0));
    assert_eq!(r.lease_conversions.total, n(5));
    // From the key handover on 2025-11-01: 300, 313, 334, 353 and 390 days.
    assert_eq!(r.conversion_days_median, Some(334.0));
    let csv = m.to_csv();
    for line in [
        "2026,decisions,hoorn,count,6\n",
        "2026,decisions,medemblik,count,<5\n",
        "2026,decisions,hoorn,median_days,8.5\n",
        "2026,decisions,guidance,median_days,5\n",
        "2026,decisions,total,count,9\n",
        "2026,signals,intermaris,count,5\n",
        "2026,lease_conversions,total,median_days,334\n",
    ] {
        assert!(csv.contains(line), "{line}{csv}");
    }
    // A municipality's own rows: its decisions and median, no total, no other's median.
    let own = m.own_rows("hoorn");
    assert_eq!(own.recorded.decisions.rows.len(), 1);
    assert_eq!(own.recorded.decisions.total, n(0));
    assert_eq!(own.recorded.decision_days_median.len(), 1);
    assert!(own.recorded.decision_days_median_by_kind.is_empty());
    assert_eq!(own.recorded.conversion_days_median, None);
}

#[test]
fn periods_parse_and_bound() {
    let p: Period = "2026-H2".parse().unwrap();
    assert_eq!(
        (p.start(), p.end()),
        ("2026-07-01".to_owned(), "2027-01-01".to_owned())
    );
    assert!(p.contains("2026-12-31T23:59:59.999Z") && !p.contains("2026-06-30"));
    for bad in ["26", "2026-H3", "2026-h1", "20266", "abcd", "2026-"] {
        assert!(bad.parse::<Period>().is_err(), "{bad}");
    }
}

async fn the_monitor_through_the_api(backend: &'static str) {
    let app = TestApp::start(backend).await;
    let year = time::OffsetDateTime::now_utc().year();
    let care = app.client("leviaan").await;
    let submit = |group: &str, origin: &str| {
        json!({
            "form": "registration",
            "fields": sluis::demo::fictional_registration(),
            "consent": sluis::demo::fictional_consent(),
            "monitor": {"client_group": group, "origin_municipality": origin},
        })
    };
    let mut ids = Vec::new();
    // 12 registrations: MO 6 (Hoorn 5, Medemblik 1), BW 6 (Hoorn 5, elsewhere 1).
    let mut plan = vec![("mo", "hoorn"); 5];
    plan.extend(vec![("bw", "hoorn"); 5]);
    plan.extend([("mo", "medemblik"), ("bw", "elsewhere")]);
    for (group, origin) in plan {
        let answer = care
            .post_json("/v1/cases", &submit(group, origin))
            .await
            .unwrap();
        ids.push(answer["id"].as_str().unwrap().to_owned());
    }
    // A code that is not on the policy's list is refused, naming the key, not the value.
    let token = app.token("leviaan").await;
    let (status, _, body) = app
        .raw(
            "POST",
            "/v1/cases",
            Some(&token),
            Some((
                "application/json",
                submit("villa-kakelbont", "hoorn").to_string().into_bytes(),
            )),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("monitor.client_group") && !body.contains("villa-kakelbont"),
        "{body}"
    );
    let (status, _, body) = app
        .raw(
            "POST",
            "/v1/cases",
            Some(&token),
            Some((
                "application/json",
                submit("mo", "amsterdam").to_string().into_bytes(),
            )),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("monitor.origin_municipality"), "{body}");

    // Reported counts: validated, stored, replaced, and an event each.
    let corp = app.token("intermaris").await;
    let report = |token: &str, body: Value| {
        let app = &app;
        let token = token.to_owned();
        async move {
            app.raw(
                "POST",
                "/v1/monitor/reports",
                Some(&token),
                Some(("application/json", body.to_string().into_bytes())),
            )
            .await
        }
    };
    for (body, status, names) in [
        (
            json!({"period": format!("{year}"), "counts": {"complaints": 1}}),
            422,
            "complaints",
        ),
        (
            json!({"period": format!("{year}"), "counts": {"rent_arrears": -1}}),
            422,
            "rent_arrears",
        ),
        (
            json!({"period": format!("{year}"), "counts": {}}),
            422,
            "no counts",
        ),
        (
            json!({"period": "2026-H3", "counts": {"rent_arrears": 1}}),
            400,
            "half year",
        ),
        (
            json!({"period": format!("{}", year + 1), "counts": {"rent_arrears": 1}}),
            422,
            "not begun",
        ),
        (
            json!({"period": format!("{year}"), "counts": {"rent_arrears": "7"}}),
            422,
            "counts",
        ),
    ] {
        let (got, ct, text) = report(&corp, body.clone()).await;
        assert_eq!(
            (got, ct.as_str()),
            (status, "application/problem+json"),
            "{body} → {text}"
        );
        assert!(text.contains(names), "{text} should name {names}");
    }
    let (got, _, text) = report(
        &app.token("leviaan").await,
        json!({"period": format!("{year}"), "counts": {"rent_arrears": 2}}),
    )
    .await;
    assert_eq!(
        got, 422,
        "a care organisation does not report rent arrears: {text}"
    );
    let (got, _, text) = report(
        &app.token("fg-westfriesland").await,
        json!({"period": format!("{year}"), "counts": {"rent_arrears": 2}}),
    )
    .await;
    assert_eq!(got, 403, "{text}");
    for value in [9, 12] {
        let (got, _, text) = report(
            &corp,
            json!({"period": format!("{year}"), "counts": {"rent_arrears": value}}),
        )
        .await;
        assert_eq!(got, 200, "{text}");
    }

    // The full view. Registrations: 12, all by leviaan. By origin: Medemblik's and
    // elsewhere's 1 are small, so Hoorn's 10 is hidden (12 − 10 would give them away); in
    // each client-group row the 1 would follow from the row total, so the row totals are
    // hidden; the grand total 12 stays (both totals hidden cannot be told apart).
    let coordinator = app.client("bct-westfriesland").await;
    let full: Value = coordinator
        .get_json(&format!("/v1/monitor?period={year}"))
        .await
        .unwrap();
    assert_eq!(full["view"], "all");
    assert_eq!(full["registrations"]["leviaan"]["registered"], 12);
    assert_eq!(full["registrations"]["parlan"]["registered"], 0);
    assert_eq!(full["registrations_total"]["registered"], 12);
    assert_eq!(full["reported"]["rent_arrears"]["rows"]["intermaris"], 12);
    let origin = &full["origin_by_group"];
    assert_eq!(origin["total"], 12);
    assert_eq!(origin["row_totals"], json!(["hidden", "hidden", 0, 0, 0]));
    let columns: Vec<&str> = origin["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let col = |name: &str| columns.iter().position(|c| *c == name).unwrap();
    assert_eq!(origin["column_totals"][col("hoorn")], "hidden");
    assert_eq!(origin["column_totals"][col("medemblik")], "small");
    assert_eq!(origin["column_totals"][col("elsewhere")], "small");
    assert_eq!(origin["column_totals"][col("opmeer")], 0);
    assert_eq!(origin["cells"][1][col("elsewhere")], "small");
    assert_eq!(origin["cells"][0][col("hoorn")], "hidden");
    for who in ["fg-westfriesland", "sluis-beheer"] {
        let token = app.token(who).await;
        let (status, _, body) = app
            .raw(
                "GET",
                &format!("/v1/monitor?period={year}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(status, 200, "{who}: {body}");
        assert!(body.contains("\"view\":\"all\""), "{who}");
    }

    // A party sees only its own rows: no client groups, no other party, no totals.
    let own: Value = app
        .client("intermaris")
        .await
        .get_json(&format!("/v1/monitor?period={year}"))
        .await
        .unwrap();
    assert_eq!(own["view"], "intermaris");
    assert!(own.get("origin_by_group").is_none() && own.get("outflow_by_group").is_none());
    assert_eq!(
        own["homes_by_corporation"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["intermaris"]
    );
    assert_eq!(own["registrations"], json!({}));
    assert_eq!(
        own["reported"]["rent_arrears"]["rows"],
        json!({"intermaris": 12})
    );
    let own_care: Value = care
        .get_json(&format!("/v1/monitor?period={year}"))
        .await
        .unwrap();
    assert_eq!(
        own_care["registrations"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        ["leviaan"]
    );
    assert!(
        !serde_json::to_string(&own_care)
            .unwrap()
            .contains("leger-des-heils\":{\"registered")
    );

    // CSV and SVG.
    let csv = coordinator
        .get_text(&format!("/v1/monitor?period={year}&format=csv"))
        .await
        .unwrap();
    assert!(csv.starts_with("period,section,row,column,value\n"));
    assert!(
        csv.contains(&format!("{year},registrations,leviaan,registered,12\n")),
        "{csv}"
    );
    assert!(
        csv.contains(&format!("{year},origin_by_group,bw,elsewhere,<5\n")),
        "{csv}"
    );
    let svg = coordinator
        .get_text(&format!("/v1/monitor?period={year}&format=svg"))
        .await
        .unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("Homes per corporation against quota"));
    let (status, _, _) = app
        .raw("GET", "/v1/monitor?period=26", Some(&token), None)
        .await;
    assert_eq!(status, 400);

    // Nothing sealed is opened: with every ciphertext destroyed the monitor is the same.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.db.url).await.unwrap();
    let destroyed = sqlx::query("UPDATE sealed_fields SET ciphertext = $1")
        .bind(vec![0u8; 4])
        .execute(&pool)
        .await
        .unwrap()
        .rows_affected();
    assert!(destroyed > 0);
    pool.close().await;
    let again: Value = coordinator
        .get_json(&format!("/v1/monitor?period={year}"))
        .await
        .unwrap();
    assert_eq!(again, full);

    // Every read and report is on record.
    let events = app
        .store
        .events(&sluis::store::EventFilter {
            action: Some("monitor".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(events.len() >= 6, "{}", events.len());
    let reports = app
        .store
        .events(&sluis::store::EventFilter {
            action: Some("monitor_report".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(reports.iter().filter(|e| e.outcome == "allowed").count(), 2);
    assert_eq!(ids.len(), 12);
    app.broker.stop().await.unwrap();
}
crate::per_backend!(#[tokio::test] async fn the_monitor_through_the_api);
