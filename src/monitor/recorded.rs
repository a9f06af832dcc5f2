//! What the broker recorded itself, beside the parties' own counts: the municipalities'
//! decisions on applications with their days (art. 9.7, 12), the signals after the match
//! (art. 9.9), and the conversions of triangle leases (art. 4). Routing metadata only, each
//! published count protected like the rest of the monitor.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::{CaseFacts, Counts, Period, days_between, one_way, quartiles};

/// A decision on an application, as the monitor counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The municipality that decided.
    pub municipality: String,
    /// `guidance` or `special_assistance`.
    pub kind: String,
    /// When the application was made.
    pub applied_at: String,
    /// The date of the decision.
    pub decided_on: String,
}

/// A signal after the match, as the monitor counts it: by whom, when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal {
    /// The signalling organisation.
    pub org: String,
    /// When.
    pub at: String,
}

/// The broker's own records for a period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recorded {
    /// Decisions dated in the period, per municipality.
    pub decisions: Counts,
    /// Median days from the application to the decision, per municipality whose count is
    /// shown.
    pub decision_days_median: BTreeMap<String, f64>,
    /// The same per kind of application (`guidance`, `special_assistance`), over every
    /// municipality, for a kind with at least the threshold's number of decisions.
    pub decision_days_median_by_kind: BTreeMap<String, f64>,
    /// Signals given in the period, per corporation and municipality.
    pub signals: Counts,
    /// Triangle leases converted in the period, per corporation.
    pub lease_conversions: Counts,
    /// Median days from the key handover to the conversion, when the total is shown.
    pub conversion_days_median: Option<f64>,
}

fn median(mut days: Vec<f64>) -> Option<f64> {
    days.sort_by(f64::total_cmp);
    quartiles(&days).map(|q| q.1)
}

/// The broker's records of `cases` for `period`: every organisation of `municipalities`,
/// `signallers` and `corporations` a row, zero or not.
pub(super) fn recorded(
    period: Period,
    cases: &[CaseFacts],
    (municipalities, signallers, corporations): (
        &BTreeSet<String>,
        &BTreeSet<String>,
        &BTreeSet<String>,
    ),
    threshold: u32,
) -> Recorded {
    let zeros = |orgs: &BTreeSet<String>| -> BTreeMap<String, u64> {
        orgs.iter().map(|o| (o.clone(), 0)).collect()
    };
    let decided: Vec<&Decision> = (cases.iter())
        .flat_map(|c| &c.decisions)
        .filter(|d| period.contains(&d.decided_on))
        .collect();
    let mut per_municipality = zeros(municipalities);
    for d in &decided {
        *per_municipality.entry(d.municipality.clone()).or_default() += 1;
    }
    let decisions = one_way(&per_municipality, threshold);
    let days_of = |pick: &dyn Fn(&Decision) -> bool| {
        (decided.iter().filter(|d| pick(d)))
            .filter_map(|d| days_between(&d.applied_at, &d.decided_on))
            .collect::<Vec<f64>>()
    };
    let mut decision_days_median = BTreeMap::new();
    for (org, cell) in &decisions.rows {
        if cell.count().is_some_and(|n| n > 0)
            && let Some(m) = median(days_of(&|d| d.municipality == *org))
        {
            decision_days_median.insert(org.clone(), m);
        }
    }
    let mut decision_days_median_by_kind = BTreeMap::new();
    for kind in ["guidance", "special_assistance"] {
        let days = days_of(&|d| d.kind == kind);
        if days.len() >= threshold as usize
            && let Some(m) = median(days)
        {
            decision_days_median_by_kind.insert(kind.to_owned(), m);
        }
    }
    let mut per_signaller = zeros(signallers);
    for s in (cases.iter().flat_map(|c| &c.signals)).filter(|s| period.contains(&s.at)) {
        *per_signaller.entry(s.org.clone()).or_default() += 1;
    }
    let converted: Vec<&CaseFacts> = (cases.iter())
        .filter(|c| (c.lease_converted_on.as_deref()).is_some_and(|d| period.contains(d)))
        .collect();
    let mut per_corporation = zeros(corporations);
    for c in &converted {
        if let Some(by) = &c.housed_by {
            *per_corporation.entry(by.clone()).or_default() += 1;
        }
    }
    let lease_conversions = one_way(&per_corporation, threshold);
    let conversion_days_median =
        lease_conversions
            .total
            .count()
            .filter(|n| *n > 0)
            .and_then(|_| {
                median(
                    (converted.iter())
                        .filter_map(|c| {
                            days_between(
                                c.key_handover.as_deref()?,
                                c.lease_converted_on.as_deref()?,
                            )
                        })
                        .collect(),
                )
            });
    Recorded {
        decisions,
        decision_days_median,
        decision_days_median_by_kind,
        signals: one_way(&per_signaller, threshold),
        lease_conversions,
        conversion_days_median,
    }
}

impl Recorded {
    /// Only `org`'s rows, no totals and no medians over others.
    pub fn own_rows(&mut self, org: &str) {
        let zero = super::Cell::Count(0);
        for counts in [
            &mut self.decisions,
            &mut self.signals,
            &mut self.lease_conversions,
        ] {
            counts.rows.retain(|o, _| o == org);
            counts.total = zero;
        }
        self.decision_days_median.retain(|o, _| o == org);
        self.decision_days_median_by_kind.clear();
        self.conversion_days_median = None;
    }

    /// CSV lines `section,row,column,value` (without the period), totals in the full view.
    pub fn csv_lines(&self, threshold: u32, all: bool) -> Vec<[String; 4]> {
        let mut out = Vec::new();
        for (section, counts) in [
            ("decisions", &self.decisions),
            ("signals", &self.signals),
            ("lease_conversions", &self.lease_conversions),
        ] {
            for (org, cell) in &counts.rows {
                out.push([
                    section.into(),
                    org.clone(),
                    "count".into(),
                    cell.show(threshold),
                ]);
            }
            if all {
                let total = counts.total.show(threshold);
                out.push([section.into(), "total".into(), "count".into(), total]);
            }
        }
        let medians = (self.decision_days_median.iter())
            .chain(&self.decision_days_median_by_kind)
            .map(|(row, days)| ("decisions", row.as_str(), *days))
            .chain((self.conversion_days_median).map(|d| ("lease_conversions", "total", d)));
        for (section, row, days) in medians {
            out.push([
                section.into(),
                row.into(),
                "median_days".into(),
                days.to_string(),
            ]);
        }
        out
    }
}
