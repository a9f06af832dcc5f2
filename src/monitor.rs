//! The annual monitor (art. 17) and the 100-homes allocation (art. 11), computed from routing
//! metadata alone — no sealed field is an input. Pure: the store gathers the facts, the API
//! and the command line render what [`compute`] returns.
//!
//! Small-cell suppression: a count `0 < n < threshold` is shown as `<threshold` (primary).
//! Every published total is exact, so a line (a row or a column with its total) with hidden
//! cells must not let subtraction reveal any one of them: more cells are hidden (secondary,
//! shown as `x`, smallest first) until, for every hidden cell of the line, the values it can
//! take given the line's total, the shown cells and what is known of the hidden ones (a
//! primary cell lies in `1..threshold`, a secondary one at or above it) are more than one.
//! A line whose total is hidden hides all its non-zero cells. Zeros are shown.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::policy::Policy;

mod recorded;
pub use recorded::{Decision, Recorded, Signal};

/// A calendar year or one of its halves (`2026`, `2026-H1`, `2026-H2`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Period {
    /// The year.
    pub year: i32,
    /// `Some(1)` or `Some(2)` for a half year.
    pub half: Option<u8>,
}

impl FromStr for Period {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || "a period is a year (`2026`) or a half year (`2026-H1`, `2026-H2`)".to_owned();
        let (year, half) = match s.split_once("-H") {
            Some((y, "1")) => (y, Some(1)),
            Some((y, "2")) => (y, Some(2)),
            Some(_) => return Err(bad()),
            None => (s, None),
        };
        if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let year: i32 = year.parse().map_err(|_| bad())?;
        if !(2000..=2999).contains(&year) {
            return Err(bad());
        }
        Ok(Self { year, half })
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.half {
            None => write!(f, "{}", self.year),
            Some(h) => write!(f, "{}-H{h}", self.year),
        }
    }
}

impl Period {
    /// First day, `YYYY-MM-DD`.
    pub fn start(&self) -> String {
        match self.half {
            Some(2) => format!("{}-07-01", self.year),
            _ => format!("{}-01-01", self.year),
        }
    }

    /// The day after the last, `YYYY-MM-DD`.
    pub fn end(&self) -> String {
        match self.half {
            Some(1) => format!("{}-07-01", self.year),
            _ => format!("{}-01-01", self.year + 1),
        }
    }

    /// Whether a date or time (`YYYY-MM-DD…`) falls in the period.
    pub fn contains(&self, date: &str) -> bool {
        let day = date.get(..10).unwrap_or(date);
        day >= self.start().as_str() && day < self.end().as_str()
    }

    /// The share of a yearly quota that falls in the period.
    pub fn quota_share(&self) -> f64 {
        if self.half.is_some() { 0.5 } else { 1.0 }
    }
}

/// What the broker knows of one case without opening anything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFacts {
    /// Submitting care organisation.
    pub registered_by: String,
    /// Submission time (RFC 3339).
    pub registered_at: String,
    /// Declared client group, if any.
    pub client_group: Option<String>,
    /// Declared municipality of origin (or the policy's `origin_elsewhere`), if any.
    pub origin: Option<String>,
    /// The coordinator accepted it.
    pub accepted: bool,
    /// The coordinator rejected it.
    pub rejected: bool,
    /// When it was referred.
    pub referred_at: Option<String>,
    /// The corporation that housed the client.
    pub housed_by: Option<String>,
    /// Municipality of the home.
    pub home_municipality: Option<String>,
    /// `regular`, `youth_room` or `youth_studio`.
    pub home_kind: Option<String>,
    /// Key handover date.
    pub key_handover: Option<String>,
    /// The day the triangle lease was converted (art. 4).
    pub lease_converted_on: Option<String>,
    /// The decisions on its applications.
    pub decisions: Vec<Decision>,
    /// The signals given on it.
    pub signals: Vec<Signal>,
}

/// One count a party reported for a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedCount {
    /// The reporting organisation.
    pub org: String,
    /// The period it reported for (`2026`, `2026-H1`, …).
    pub period: String,
    /// The indicator.
    pub indicator: String,
    /// The count.
    pub value: u64,
}

/// A published count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// Shown.
    Count(u64),
    /// Below the threshold (primary suppression).
    Small,
    /// Hidden so that a small count cannot be derived from a total (secondary suppression).
    Hidden,
}

impl Cell {
    /// The count if shown.
    pub fn count(self) -> Option<u64> {
        match self {
            Self::Count(n) => Some(n),
            _ => None,
        }
    }

    /// As shown to a person: the number, `<threshold` or `x`.
    pub fn show(self, threshold: u32) -> String {
        match self {
            Self::Count(n) => n.to_string(),
            Self::Small => format!("<{threshold}"),
            Self::Hidden => "x".to_owned(),
        }
    }
}

impl<'de> Deserialize<'de> for Cell {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Shown {
            Count(u64),
            Word(String),
        }
        match Shown::deserialize(d)? {
            Shown::Count(n) => Ok(Self::Count(n)),
            Shown::Word(w) if w == "small" => Ok(Self::Small),
            Shown::Word(w) if w == "hidden" => Ok(Self::Hidden),
            Shown::Word(_) => Err(serde::de::Error::custom("a count, `small` or `hidden`")),
        }
    }
}

impl Serialize for Cell {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Count(n) => s.serialize_u64(*n),
            Self::Small => s.serialize_str("small"),
            Self::Hidden => s.serialize_str("hidden"),
        }
    }
}

/// A published two-way table: counts by row and column, with row, column and grand totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    /// Row labels.
    pub rows: Vec<String>,
    /// Column labels.
    pub columns: Vec<String>,
    /// `cells[row][column]`.
    pub cells: Vec<Vec<Cell>>,
    /// Per row.
    pub row_totals: Vec<Cell>,
    /// Per column.
    pub column_totals: Vec<Cell>,
    /// All.
    pub total: Cell,
}

/// A published one-way table: a count per row and the total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Row label → count.
    pub rows: BTreeMap<String, Cell>,
    /// All rows.
    pub total: Cell,
}

/// Bounds of a hidden cell as a reader knows them.
#[derive(Clone, Copy)]
enum Known {
    Small,
    Hidden,
}

/// Decides which cells of a line (values with an exact total) to hide; `cells` holds the
/// decisions so far and only grows. Returns whether it changed anything, and whether the line
/// is safe with its total shown (if not, every non-zero cell is hidden and the caller must hide
/// the total).
fn protect_line(values: &[u64], cells: &mut [Option<Known>], threshold: u64) -> (bool, bool) {
    let mut changed = false;
    for (v, c) in values.iter().zip(cells.iter_mut()) {
        if *v > 0 && *v < threshold && c.is_none() {
            *c = Some(Known::Small);
            changed = true;
        }
    }
    while !line_is_safe(values, cells, threshold) {
        let next = values
            .iter()
            .enumerate()
            .filter(|(i, v)| **v > 0 && cells[*i].is_none())
            .min_by_key(|(i, v)| (**v, *i))
            .map(|(i, _)| i);
        match next {
            Some(i) => {
                cells[i] = Some(Known::Hidden);
                changed = true;
            }
            None => return (changed, false),
        }
    }
    (changed, true)
}

/// The cell for a count that must not be shown: small ones as such, others hidden.
fn conceal(value: u64, threshold: u64) -> Known {
    if value < threshold {
        Known::Small
    } else {
        Known::Hidden
    }
}

/// Whether no hidden cell of the line can be pinned to one value by subtraction.
fn line_is_safe(values: &[u64], cells: &[Option<Known>], threshold: u64) -> bool {
    let hidden: Vec<(u64, Known)> = values
        .iter()
        .zip(cells)
        .filter_map(|(v, c)| c.map(|k| (*v, k)))
        .collect();
    if hidden.is_empty() {
        return true;
    }
    if hidden.len() == 1 {
        return false;
    }
    let sum: u64 = hidden.iter().map(|(v, _)| v).sum();
    let bounds: Vec<Bounds> = hidden.iter().map(|(_, k)| k.bounds(threshold)).collect();
    bounds_are_safe(sum, &bounds)
}

/// What a reader knows of a hidden count: at least `.0`, at most `.1` (`None`: no upper bound).
type Bounds = (u64, Option<u64>);

impl Known {
    fn bounds(self, threshold: u64) -> Bounds {
        match self {
            Self::Small => (1, Some(threshold - 1)),
            Self::Hidden => (threshold, None),
        }
    }
}

/// Whether hidden counts with these bounds and the known `sum` each keep two or more possible
/// values.
fn bounds_are_safe(sum: u64, bounds: &[Bounds]) -> bool {
    bounds.iter().enumerate().all(|(i, &(lo, hi))| {
        let (mut others_lo, mut others_hi) = (0u64, Some(0u64));
        for (j, &(l, h)) in bounds.iter().enumerate() {
            if i != j {
                others_lo += l;
                others_hi = others_hi.zip(h).map(|(a, b)| a + b);
            }
        }
        let low = others_hi.map_or(lo, |oh| lo.max(sum.saturating_sub(oh)));
        let high = hi.map_or(sum.saturating_sub(others_lo), |h| {
            h.min(sum.saturating_sub(others_lo))
        });
        low < high
    })
}

/// Whether each row of a published line met its quota, for the rows whose count is not shown
/// (`values` the true counts, `cells` and `total` as published). A comparison is given where the
/// count's bounds already decide it (it tells nothing), or where either answer leaves the count
/// two or more possible values; and then only while the line, with each given comparison
/// narrowing its count's bounds, still pins no hidden count by subtraction from the total (the
/// last comparisons given are withdrawn until it does not). Rows whose count is shown get none.
pub fn quota_met(
    values: &[u64],
    cells: &[Cell],
    total: Cell,
    quotas: &[f64],
    threshold: u32,
) -> Vec<Option<bool>> {
    let t = u64::from(threshold);
    let mut met = vec![None; values.len()];
    // (row, a priori bounds, bounds once the comparison is given, whether it is implied)
    let mut hidden: Vec<(usize, Bounds, Bounds, bool)> = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        let (lo, hi) = match cell {
            Cell::Count(_) => continue,
            Cell::Small => Known::Small.bounds(t),
            Cell::Hidden => Known::Hidden.bounds(t),
        };
        // The smallest count that meets the quota.
        let need = quotas[i].ceil().max(0.0) as u64;
        let meets = values[i] >= need;
        let (given, narrowed, implied) = if need <= lo {
            (Some(true), (lo, hi), true)
        } else if hi.is_some_and(|h| need > h) {
            (Some(false), (lo, hi), true)
        } else if need >= lo + 2 && hi.is_none_or(|h| h > need) {
            let narrowed = if meets {
                (need, hi)
            } else {
                (lo, Some(need - 1))
            };
            (Some(meets), narrowed, false)
        } else {
            (None, (lo, hi), true)
        };
        met[i] = given;
        hidden.push((i, (lo, hi), narrowed, implied));
    }
    if let Some(total) = total.count() {
        let shown: u64 = cells.iter().filter_map(|c| c.count()).sum();
        let sum = total.saturating_sub(shown);
        let safe = |h: &[(usize, Bounds, Bounds, bool)], met: &[Option<bool>]| {
            let bounds: Vec<Bounds> = (h.iter())
                .map(|(i, prior, narrowed, _)| if met[*i].is_some() { *narrowed } else { *prior })
                .collect();
            bounds_are_safe(sum, &bounds)
        };
        for (i, _, _, implied) in hidden.iter().rev() {
            if safe(&hidden, &met) {
                break;
            }
            if !implied {
                met[*i] = None;
            }
        }
    }
    met
}

fn publish(value: u64, known: Option<Known>) -> Cell {
    match known {
        None => Cell::Count(value),
        Some(Known::Small) => Cell::Small,
        Some(Known::Hidden) => Cell::Hidden,
    }
}

/// Publishes a one-way table of `values` with its total.
pub fn one_way(values: &BTreeMap<String, u64>, threshold: u32) -> Counts {
    one_way_with(values, threshold, false)
}

fn one_way_with(values: &BTreeMap<String, u64>, threshold: u32, hide_total: bool) -> Counts {
    let labels: Vec<String> = values.keys().cloned().collect();
    let table = two_way_with(
        &labels,
        &["count".to_owned()],
        &values.values().map(|v| vec![*v]).collect::<Vec<_>>(),
        threshold,
        hide_total,
    );
    Counts {
        rows: labels.into_iter().zip(table.row_totals).collect(),
        total: table.total,
    }
}

/// Publishes a two-way table: every row and every column is protected against its total
/// (published), and the row and column totals against the grand total, until nothing changes.
pub fn two_way(rows: &[String], columns: &[String], values: &[Vec<u64>], threshold: u32) -> Table {
    two_way_with(rows, columns, values, threshold, false)
}

/// As [`two_way`]; `hide_total` hides the grand total (and so every non-zero cell) because
/// another table over the same cases cannot show it.
fn two_way_with(
    rows: &[String],
    columns: &[String],
    values: &[Vec<u64>],
    threshold: u32,
    hide_total: bool,
) -> Table {
    let t = u64::from(threshold);
    let (nr, nc) = (rows.len(), columns.len());
    let row_sums: Vec<u64> = values.iter().map(|r| r.iter().sum()).collect();
    let col_sums: Vec<u64> = (0..nc).map(|c| values.iter().map(|r| r[c]).sum()).collect();
    let total: u64 = row_sums.iter().sum();
    let mut cells: Vec<Vec<Option<Known>>> = vec![vec![None; nc]; nr];
    let mut row_known: Vec<Option<Known>> = vec![None; nr];
    let mut col_known: Vec<Option<Known>> = vec![None; nc];
    let mut total_known = if hide_total && total > 0 {
        Some(conceal(total, t))
    } else {
        (total > 0 && total < t).then_some(Known::Small)
    };
    loop {
        let mut changed = false;
        // The marginal totals against the grand total.
        for (sums, known) in [(&row_sums, &mut row_known), (&col_sums, &mut col_known)] {
            if total_known.is_some() {
                for (k, sum) in known.iter_mut().zip(sums.iter()) {
                    if k.is_none() && *sum > 0 {
                        *k = Some(conceal(*sum, t));
                        changed = true;
                    }
                }
            } else {
                let (c, safe) = protect_line(sums, known, t);
                changed |= c;
                if !safe {
                    total_known = Some(conceal(total, t));
                    changed = true;
                }
            }
        }
        // Every row against its total, then every column against its own.
        for r in 0..nr {
            let mut line: Vec<Option<Known>> = cells[r].clone();
            changed |= protect_against(&values[r], &mut line, &mut row_known[r], row_sums[r], t);
            cells[r] = line;
        }
        for c in 0..nc {
            let column: Vec<u64> = values.iter().map(|r| r[c]).collect();
            let mut line: Vec<Option<Known>> = cells.iter().map(|r| r[c]).collect();
            changed |= protect_against(&column, &mut line, &mut col_known[c], col_sums[c], t);
            for (r, k) in line.into_iter().enumerate() {
                cells[r][c] = k;
            }
        }
        if !changed {
            break;
        }
    }
    Table {
        rows: rows.to_vec(),
        columns: columns.to_vec(),
        cells: (0..nr)
            .map(|r| {
                (0..nc)
                    .map(|c| publish(values[r][c], cells[r][c]))
                    .collect()
            })
            .collect(),
        row_totals: (0..nr)
            .map(|r| publish(row_sums[r], row_known[r]))
            .collect(),
        column_totals: (0..nc)
            .map(|c| publish(col_sums[c], col_known[c]))
            .collect(),
        total: publish(total, total_known),
    }
}

/// Protects one line against its total: a hidden total hides every non-zero cell; a line that
/// cannot be made safe hides its total. Returns whether anything changed.
fn protect_against(
    values: &[u64],
    line: &mut [Option<Known>],
    total_known: &mut Option<Known>,
    total: u64,
    t: u64,
) -> bool {
    let mut changed = false;
    if total_known.is_none() {
        let (c, safe) = protect_line(values, line, t);
        changed |= c;
        if !safe {
            *total_known = Some(conceal(total, t));
            changed = true;
        }
    }
    if total_known.is_some() {
        for (v, k) in values.iter().zip(line.iter_mut()) {
            if *v > 0 && k.is_none() {
                *k = Some(conceal(*v, t));
                changed = true;
            }
        }
    }
    changed
}

/// Waiting time from referral to key handover, in days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waiting {
    /// Homes the figures are over (the published homes count).
    pub homes: Cell,
    /// Median days, shown only when `homes` is.
    pub median_days: Option<f64>,
    /// First quartile (lower hinge).
    pub q1_days: Option<f64>,
    /// Third quartile (upper hinge).
    pub q3_days: Option<f64>,
}

/// Homes made available by one corporation or in one municipality, against the quota.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Homes {
    /// Homes whose keys were handed over in the period.
    pub homes: Cell,
    /// Of which youth homes (rooms, studios) — corporations only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub youth_homes: Option<Cell>,
    /// The art. 11 quota for the period (half the yearly one for a half year).
    pub quota: f64,
    /// Whether the quota was met, given for a corporation whose count is not shown where
    /// saying so pins no count of the line (see [`quota_met`]); else absent (the count shows it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_met: Option<bool>,
    /// Waiting time of these homes' clients.
    pub waiting: Waiting,
}

/// One care organisation's registrations in the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registrations {
    /// Registered in the period.
    pub registered: Cell,
    /// Of those, accepted by the coordinator.
    pub accepted: Cell,
    /// Of those, rejected.
    pub rejected: Cell,
}

/// The monitor for one period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Monitor {
    /// The period.
    pub period: String,
    /// The suppression threshold.
    pub threshold: u32,
    /// Whose view: `all`, or the organisation whose own rows these are.
    pub view: String,
    /// Per care organisation.
    pub registrations: BTreeMap<String, Registrations>,
    /// Totals over all care organisations.
    pub registrations_total: Registrations,
    /// Registrations by client group (rows) and municipality of origin (columns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin_by_group: Option<Table>,
    /// Homes by client group (rows) and municipality of the home (columns).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outflow_by_group: Option<Table>,
    /// Per corporation.
    pub homes_by_corporation: BTreeMap<String, Homes>,
    /// Per municipality of the home.
    pub homes_by_municipality: BTreeMap<String, Homes>,
    /// All homes of the period.
    pub homes_total: Homes,
    /// Counts the parties reported: indicator → organisation → count, with totals.
    pub reported: BTreeMap<String, Counts>,
    /// Municipalities' average special-assistance procedure, in days, where the number of
    /// requests is shown.
    pub special_assistance_days_average: BTreeMap<String, f64>,
    /// What the broker recorded itself: decisions with their days, signals, lease conversions.
    pub recorded: Recorded,
}

/// Median and hinges of sorted values (Tukey: the medians of the lower and upper halves, the
/// middle value left out when the count is odd).
pub fn quartiles(sorted: &[f64]) -> Option<(f64, f64, f64)> {
    fn median(v: &[f64]) -> f64 {
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    }
    let n = sorted.len();
    match n {
        0 => None,
        1 => Some((sorted[0], sorted[0], sorted[0])),
        _ => {
            let half = n / 2;
            Some((
                median(&sorted[..half]),
                median(sorted),
                median(&sorted[n - half..]),
            ))
        }
    }
}

/// Days between two dates or times (`YYYY-MM-DD…`), if both parse.
pub fn days_between(from: &str, to: &str) -> Option<f64> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let a = time::Date::parse(from.get(..10)?, format).ok()?;
    let b = time::Date::parse(to.get(..10)?, format).ok()?;
    Some((b - a).whole_days() as f64)
}

const UNKNOWN: &str = "unknown";

/// Computes the full monitor for `period` (the coordinator's, privacy officer's and admin's view).
pub fn compute(
    policy: &Policy,
    period: Period,
    cases: &[CaseFacts],
    reports: &[ReportedCount],
) -> Monitor {
    let threshold = policy.monitor.threshold;
    let orgs_of = |role: &str| -> BTreeSet<String> {
        policy
            .parties
            .values()
            .filter(|p| p.role == role)
            .map(|p| p.id.clone())
            .collect()
    };
    let care = orgs_of("care");
    let corporations = orgs_of("corporation");
    let municipalities = orgs_of("municipality");

    // Registrations: cases submitted in the period.
    let registered: Vec<&CaseFacts> = cases
        .iter()
        .filter(|c| period.contains(&c.registered_at))
        .collect();
    let per_care = |pick: &dyn Fn(&CaseFacts) -> bool| -> BTreeMap<String, u64> {
        let mut m: BTreeMap<String, u64> = care.iter().map(|o| (o.clone(), 0)).collect();
        for c in registered.iter().filter(|c| pick(c)) {
            *m.entry(c.registered_by.clone()).or_default() += 1;
        }
        m
    };
    // Registered, accepted and rejected as one table (care organisation × accepted, rejected,
    // undecided, each row's total the registered count), so that no hidden count follows from
    // the shown ones of its row or column by subtraction: the undecided column is not
    // published, and protecting as if it were known only protects more.
    let decisions = |hide_total: bool| {
        let (accepted, rejected, all) = (
            per_care(&|c| c.accepted),
            per_care(&|c| c.rejected),
            per_care(&|_| true),
        );
        let rows: Vec<String> = all.keys().cloned().collect();
        let values: Vec<Vec<u64>> = (rows.iter())
            .map(|o| {
                let (a, r) = (accepted[o], rejected[o]);
                vec![a, r, all[o].saturating_sub(a + r)]
            })
            .collect();
        let columns = ["accepted", "rejected", "undecided"].map(str::to_owned);
        two_way_with(&rows, &columns, &values, threshold, hide_total)
    };
    let mut table = decisions(false);
    // Client group × municipality tables.
    let mut groups: Vec<String> = policy.monitor.client_groups.clone();
    groups.push(UNKNOWN.to_owned());
    let mut places: Vec<String> = municipalities.iter().cloned().collect();
    places.push(policy.monitor.origin_elsewhere.clone());
    places.push(UNKNOWN.to_owned());
    let cross =
        |rows: &[&CaseFacts], column: &dyn Fn(&CaseFacts) -> Option<String>, hide_total: bool| {
            let mut values = vec![vec![0u64; places.len()]; groups.len()];
            for c in rows {
                let g = c
                    .client_group
                    .as_deref()
                    .and_then(|g| groups.iter().position(|x| x == g))
                    .unwrap_or(groups.len() - 1);
                let p = column(c)
                    .and_then(|p| places.iter().position(|x| *x == p))
                    .unwrap_or(places.len() - 1);
                values[g][p] += 1;
            }
            two_way_with(&groups, &places, &values, threshold, hide_total)
        };
    // Two tables over the same cases show the same total, or neither does (else the one
    // would give away what the other hides).
    let mut origin_by_group = cross(&registered, &|c| c.origin.clone(), false);
    if table.total.count().is_none() || origin_by_group.total.count().is_none() {
        table = decisions(true);
        origin_by_group = cross(&registered, &|c| c.origin.clone(), true);
    }
    let column = |c: usize| Counts {
        rows: (table.rows.iter().cloned())
            .zip(table.cells.iter().map(|r| r[c]))
            .collect(),
        total: table.column_totals[c],
    };
    let (acc, rej) = (column(0), column(1));
    let reg = Counts {
        rows: (table.rows.iter().cloned())
            .zip(table.row_totals.iter().copied())
            .collect(),
        total: table.total,
    };
    let registrations = reg
        .rows
        .keys()
        .map(|o| {
            (
                o.clone(),
                Registrations {
                    registered: reg.rows[o],
                    accepted: acc.rows[o],
                    rejected: rej.rows[o],
                },
            )
        })
        .collect();
    let registrations_total = Registrations {
        registered: reg.total,
        accepted: acc.total,
        rejected: rej.total,
    };

    let housed: Vec<&CaseFacts> = cases
        .iter()
        .filter(|c| {
            c.key_handover
                .as_deref()
                .is_some_and(|d| period.contains(d))
        })
        .collect();
    let mut outflow_by_group = cross(&housed, &|c| c.home_municipality.clone(), false);

    let waiting_of = |homes: Cell, of: &dyn Fn(&CaseFacts) -> bool| {
        let mut days: Vec<f64> = housed
            .iter()
            .filter(|c| of(c))
            .filter_map(|c| days_between(c.referred_at.as_deref()?, c.key_handover.as_deref()?))
            .collect();
        days.sort_by(f64::total_cmp);
        let stats = homes.count().and_then(|_| quartiles(&days));
        Waiting {
            homes,
            median_days: stats.map(|s| s.1),
            q1_days: stats.map(|s| s.0),
            q3_days: stats.map(|s| s.2),
        }
    };

    // Homes per corporation (with youth homes), against its quota.
    let mut by_corp: BTreeMap<String, u64> = corporations.iter().map(|o| (o.clone(), 0)).collect();
    let mut youth_by_corp = by_corp.clone();
    for c in &housed {
        if let Some(by) = &c.housed_by {
            *by_corp.entry(by.clone()).or_default() += 1;
            if c.home_kind
                .as_deref()
                .is_some_and(|k| k.starts_with("youth"))
            {
                *youth_by_corp.entry(by.clone()).or_default() += 1;
            }
        }
    }
    let mut homes_c = one_way(&by_corp, threshold);
    if homes_c.total.count().is_none() || outflow_by_group.total.count().is_none() {
        homes_c = one_way_with(&by_corp, threshold, true);
        outflow_by_group = cross(&housed, &|c| c.home_municipality.clone(), true);
    }
    let youth_c = one_way(&youth_by_corp, threshold);
    let quotas: Vec<f64> = (by_corp.keys())
        .map(|org| {
            let yearly = policy.allocation.corporations.get(org).copied();
            f64::from(yearly.unwrap_or(0)) * period.quota_share()
        })
        .collect();
    let cells: Vec<Cell> = homes_c.rows.values().copied().collect();
    let values: Vec<u64> = by_corp.values().copied().collect();
    let met = quota_met(&values, &cells, homes_c.total, &quotas, threshold);
    let homes_by_corporation = (homes_c.rows.iter().zip(quotas).zip(met))
        .map(|(((org, cell), quota), quota_met)| {
            (
                org.clone(),
                Homes {
                    homes: *cell,
                    youth_homes: Some(youth_c.rows[org]),
                    quota,
                    quota_met,
                    waiting: waiting_of(*cell, &|c| c.housed_by.as_deref() == Some(org)),
                },
            )
        })
        .collect();

    // Homes per municipality: the outflow table's column totals (one publication of them).
    let homes_by_municipality = places
        .iter()
        .zip(&outflow_by_group.column_totals)
        .filter(|(m, _)| municipalities.contains(*m))
        .map(|(m, cell)| {
            let quota = f64::from(
                policy
                    .allocation
                    .municipalities
                    .get(m)
                    .map_or(0, |a| a.quota),
            );
            (
                m.clone(),
                Homes {
                    homes: *cell,
                    youth_homes: None,
                    quota: quota * period.quota_share(),
                    quota_met: None,
                    waiting: waiting_of(*cell, &|c| c.home_municipality.as_deref() == Some(m)),
                },
            )
        })
        .collect();
    let total_quota: u32 = policy.allocation.corporations.values().sum();
    let homes_total = Homes {
        homes: outflow_by_group.total,
        youth_homes: Some(youth_c.total),
        quota: f64::from(total_quota) * period.quota_share(),
        quota_met: None,
        waiting: waiting_of(outflow_by_group.total, &|_| true),
    };

    // Reported counts: a half year takes its own reports; a year takes each party's yearly
    // report, or else the sum of its two half-year reports.
    let mut values: BTreeMap<(String, String), u64> = BTreeMap::new();
    let period_text = period.to_string();
    let yearly: BTreeSet<(String, String)> = reports
        .iter()
        .filter(|r| r.period == period_text)
        .map(|r| (r.org.clone(), r.indicator.clone()))
        .collect();
    for r in reports {
        let counts = r.period == period_text
            || (period.half.is_none()
                && (r.period == format!("{}-H1", period.year)
                    || r.period == format!("{}-H2", period.year))
                && !yearly.contains(&(r.org.clone(), r.indicator.clone())));
        if counts {
            *values
                .entry((r.indicator.clone(), r.org.clone()))
                .or_default() += r.value;
        }
    }
    let mut reported = BTreeMap::new();
    for (role, indicators) in &policy.monitor.indicators {
        let orgs = orgs_of(role);
        for indicator in indicators {
            let per_org: BTreeMap<String, u64> = orgs
                .iter()
                .map(|o| {
                    (
                        o.clone(),
                        values
                            .get(&(indicator.clone(), o.clone()))
                            .copied()
                            .unwrap_or(0),
                    )
                })
                .collect();
            reported.insert(indicator.clone(), one_way(&per_org, threshold));
        }
    }
    let mut special_assistance_days_average = BTreeMap::new();
    if let Some(requests) = reported.get("special_assistance_requests") {
        for (org, cell) in &requests.rows {
            let days = values.get(&("special_assistance_days_total".to_owned(), org.clone()));
            if let (Some(n), Some(days)) = (cell.count(), days)
                && n > 0
            {
                special_assistance_days_average
                    .insert(org.clone(), (*days as f64 / n as f64 * 10.0).round() / 10.0);
            }
        }
    }

    let mut signallers = corporations.clone();
    signallers.extend(municipalities.iter().cloned());
    let orgs = (&municipalities, &signallers, &corporations);
    let recorded = recorded::recorded(period, cases, orgs, threshold);
    Monitor {
        period: period_text,
        threshold,
        view: "all".into(),
        registrations,
        registrations_total,
        origin_by_group: Some(origin_by_group),
        outflow_by_group: Some(outflow_by_group),
        homes_by_corporation,
        homes_by_municipality,
        homes_total,
        reported,
        special_assistance_days_average,
        recorded,
    }
}

impl Monitor {
    /// One organisation's own rows: its registrations, its homes, its municipality's homes and
    /// its reported counts; no client-group table and no totals.
    pub fn own_rows(mut self, org: &str) -> Self {
        let zero = Cell::Count(0);
        self.view = org.to_owned();
        self.registrations.retain(|o, _| o == org);
        self.registrations_total = Registrations {
            registered: zero,
            accepted: zero,
            rejected: zero,
        };
        self.origin_by_group = None;
        self.outflow_by_group = None;
        self.homes_by_corporation.retain(|o, _| o == org);
        self.homes_by_municipality.retain(|o, _| o == org);
        self.homes_total = Homes {
            homes: zero,
            youth_homes: None,
            quota: 0.0,
            quota_met: None,
            waiting: Waiting {
                homes: zero,
                median_days: None,
                q1_days: None,
                q3_days: None,
            },
        };
        for counts in self.reported.values_mut() {
            counts.rows.retain(|o, _| o == org);
            counts.total = zero;
        }
        self.reported.retain(|_, c| !c.rows.is_empty());
        self.special_assistance_days_average.retain(|o, _| o == org);
        self.recorded.own_rows(org);
        self
    }

    /// As CSV: `section,row,column,value`, suppressed counts as `<threshold` or `x`.
    pub fn to_csv(&self) -> String {
        let t = self.threshold;
        let mut out = String::from("period,section,row,column,value\n");
        let mut line = |section: &str, row: &str, column: &str, value: String| {
            out.push_str(&format!(
                "{},{section},{row},{column},{value}\n",
                self.period
            ));
        };
        for (org, r) in &self.registrations {
            line("registrations", org, "registered", r.registered.show(t));
            line("registrations", org, "accepted", r.accepted.show(t));
            line("registrations", org, "rejected", r.rejected.show(t));
        }
        if self.view == "all" {
            let r = &self.registrations_total;
            line("registrations", "total", "registered", r.registered.show(t));
            line("registrations", "total", "accepted", r.accepted.show(t));
            line("registrations", "total", "rejected", r.rejected.show(t));
        }
        for (name, table) in [
            ("origin_by_group", &self.origin_by_group),
            ("outflow_by_group", &self.outflow_by_group),
        ] {
            let Some(table) = table else { continue };
            for (r, row) in table.rows.iter().enumerate() {
                for (c, column) in table.columns.iter().enumerate() {
                    line(name, row, column, table.cells[r][c].show(t));
                }
                line(name, row, "total", table.row_totals[r].show(t));
            }
            for (c, column) in table.columns.iter().enumerate() {
                line(name, "total", column, table.column_totals[c].show(t));
            }
            line(name, "total", "total", table.total.show(t));
        }
        let mut homes = |section: &str, key: &str, h: &Homes| {
            line(section, key, "homes", h.homes.show(t));
            if let Some(y) = h.youth_homes {
                line(section, key, "youth_homes", y.show(t));
            }
            line(section, key, "quota", format!("{}", h.quota));
            if let Some(met) = h.quota_met {
                line(
                    section,
                    key,
                    "quota_met",
                    if met { "met" } else { "not met" }.into(),
                );
            }
            let opt = |v: Option<f64>| v.map(|d| d.to_string()).unwrap_or_default();
            line(
                section,
                key,
                "waiting_median_days",
                opt(h.waiting.median_days),
            );
            line(section, key, "waiting_q1_days", opt(h.waiting.q1_days));
            line(section, key, "waiting_q3_days", opt(h.waiting.q3_days));
        };
        for (org, h) in &self.homes_by_corporation {
            homes("homes_by_corporation", org, h);
        }
        for (m, h) in &self.homes_by_municipality {
            homes("homes_by_municipality", m, h);
        }
        if self.view == "all" {
            homes("homes", "total", &self.homes_total);
        }
        for (indicator, counts) in &self.reported {
            for (org, cell) in &counts.rows {
                line("reported", org, indicator, cell.show(t));
            }
            if self.view == "all" {
                line("reported", "total", indicator, counts.total.show(t));
            }
        }
        for (org, days) in &self.special_assistance_days_average {
            line(
                "reported",
                org,
                "special_assistance_days_average",
                days.to_string(),
            );
        }
        for [section, row, column, value] in self.recorded.csv_lines(t, self.view == "all") {
            line(&section, &row, &column, value);
        }
        out
    }

    /// As a table for a person at a terminal.
    pub fn to_text(&self) -> String {
        let t = self.threshold;
        let mut out = format!(
            "Monitor {} ({}) — counts below {t} shown as <{t}; x hides a count that a total would give away\n",
            self.period,
            if self.view == "all" {
                "all parties".to_owned()
            } else {
                format!("own rows of {}", self.view)
            }
        );
        out.push_str("\nRegistrations per care organisation\n");
        out.push_str(&format!(
            "  {:<22}{:>12}{:>10}{:>10}\n",
            "", "registered", "accepted", "rejected"
        ));
        let mut reg_row = |k: &str, r: &Registrations| {
            out.push_str(&format!(
                "  {k:<22}{:>12}{:>10}{:>10}\n",
                r.registered.show(t),
                r.accepted.show(t),
                r.rejected.show(t)
            ));
        };
        for (org, r) in &self.registrations {
            reg_row(org, r);
        }
        if self.view == "all" {
            reg_row("total", &self.registrations_total);
        }
        for (title, table) in [
            (
                "Registrations by client group and municipality of origin",
                &self.origin_by_group,
            ),
            (
                "Homes by client group and municipality of the home",
                &self.outflow_by_group,
            ),
        ] {
            let Some(table) = table else { continue };
            out.push_str(&format!("\n{title}\n  {:<14}", ""));
            for c in &table.columns {
                out.push_str(&format!("{:>13}", c));
            }
            out.push_str(&format!("{:>8}\n", "total"));
            for (r, row) in table.rows.iter().enumerate() {
                out.push_str(&format!("  {row:<14}"));
                for cell in &table.cells[r] {
                    out.push_str(&format!("{:>13}", cell.show(t)));
                }
                out.push_str(&format!("{:>8}\n", table.row_totals[r].show(t)));
            }
            out.push_str(&format!("  {:<14}", "total"));
            for cell in &table.column_totals {
                out.push_str(&format!("{:>13}", cell.show(t)));
            }
            out.push_str(&format!("{:>8}\n", table.total.show(t)));
        }
        let days = |v: Option<f64>| v.map_or("-".to_owned(), |d| format!("{d}"));
        let mut homes = |title: &str, rows: &BTreeMap<String, Homes>, total: Option<&Homes>| {
            out.push_str(&format!(
                "\n{title}\n  {:<18}{:>7}{:>7}{:>8}{:>10}{:>8}{:>8}{:>9}\n",
                "", "homes", "youth", "quota", "median d", "q1 d", "q3 d", "quota"
            ));
            for (k, h) in rows
                .iter()
                .map(|(k, h)| (k.as_str(), h))
                .chain(total.map(|h| ("total", h)))
            {
                let met = match h.quota_met {
                    Some(true) => "met",
                    Some(false) => "not met",
                    None => "",
                };
                let line = format!(
                    "  {k:<18}{:>7}{:>7}{:>8}{:>10}{:>8}{:>8}{met:>9}",
                    h.homes.show(t),
                    h.youth_homes.map_or("-".to_owned(), |y| y.show(t)),
                    h.quota,
                    days(h.waiting.median_days),
                    days(h.waiting.q1_days),
                    days(h.waiting.q3_days)
                );
                out.push_str(line.trim_end());
                out.push('\n');
            }
        };
        let total = (self.view == "all").then_some(&self.homes_total);
        homes(
            "Homes per corporation against the art. 11 quota",
            &self.homes_by_corporation,
            total,
        );
        homes(
            "Homes per municipality against the art. 11 quota",
            &self.homes_by_municipality,
            total,
        );
        if !self.reported.is_empty() {
            out.push_str("\nCounts reported by the parties\n");
            for (indicator, counts) in &self.reported {
                let rows: Vec<String> = counts
                    .rows
                    .iter()
                    .filter(|(_, c)| **c != Cell::Count(0))
                    .map(|(o, c)| format!("{o} {}", c.show(t)))
                    .collect();
                out.push_str(&format!(
                    "  {indicator:<32}{:>6}  {}\n",
                    if self.view == "all" {
                        counts.total.show(t)
                    } else {
                        String::new()
                    },
                    rows.join(", ")
                ));
            }
        }
        out.push_str(
            "\nRecorded by the broker (decisions on applications, signals, lease conversions)\n",
        );
        for [section, row, column, value] in self.recorded.csv_lines(t, self.view == "all") {
            out.push_str(&format!("  {section:<18}{row:<22}{column:<12}{value:>6}\n"));
        }
        out
    }
}

/// A party's reported counts for the monitor, checked: each an indicator its role reports
/// (`allowed`), each a whole number from 0 to `max`. Problems name the indicator by id,
/// never the value.
pub fn valid_counts(
    policy: &Policy,
    allowed: &[String],
    counts: &BTreeMap<String, i64>,
    max: i64,
) -> Result<Vec<(String, u64)>, Vec<crate::form::FieldProblem>> {
    let known = |i: &str| {
        policy
            .monitor
            .indicators
            .values()
            .any(|l| l.iter().any(|k| k == i))
    };
    let problem = |field: String, problem: String| crate::form::FieldProblem { field, problem };
    let mut problems = Vec::new();
    if counts.is_empty() {
        problems.push(problem(
            "counts".into(),
            format!("no counts given; your role reports: {}", allowed.join(", ")),
        ));
    }
    let mut valid = Vec::new();
    for (i, (indicator, value)) in counts.iter().enumerate() {
        if !allowed.contains(indicator) {
            let named = if known(indicator) {
                indicator.clone()
            } else {
                format!("counts member {}", i + 1)
            };
            problems.push(problem(
                named,
                format!(
                    "is not a count your role reports; it reports: {}",
                    allowed.join(", ")
                ),
            ));
        } else if !(0..=max).contains(value) {
            problems.push(problem(
                indicator.clone(),
                format!("must be a whole number from 0 to {max}"),
            ));
        } else {
            valid.push((indicator.clone(), u64::try_from(*value).unwrap_or(0)));
        }
    }
    if problems.is_empty() {
        Ok(valid)
    } else {
        Err(problems)
    }
}
