//! Signals for the privacy officer: accesses per day, denied attempts, outside office hours,
//! many clients by one user; and the text table of events.

use serde::{Deserialize, Serialize};

use super::event::Event;

/// A key (user, address, client) with a count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    /// What was counted.
    pub key: String,
    /// How often.
    pub count: u64,
}

/// A user who opened many distinct clients on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusyDay {
    /// User id.
    pub user: String,
    /// Organisation.
    pub org: String,
    /// Day (Dutch local date).
    pub day: String,
    /// Distinct clients opened.
    pub clients: u64,
}

/// Things in the log worth a privacy officer's look.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signals {
    /// Denied attempts per user (unknown users under `-`), most first.
    pub denied_by_user: Vec<Count>,
    /// Denied attempts per source address, most first.
    pub denied_by_source: Vec<Count>,
    /// Users who opened more distinct clients in a day than the policy's threshold.
    pub many_clients_in_a_day: Vec<BusyDay>,
    /// Slice downloads outside office hours (Dutch local time): their sequence numbers.
    pub outside_office_hours: Vec<i64>,
    /// Clients whose slices were downloaded most, most first (at most 10).
    pub most_viewed_clients: Vec<Count>,
    /// Attempts to open a case after it ended or its consent was withdrawn: their sequence
    /// numbers.
    #[serde(default)]
    pub after_end_or_withdrawal: Vec<i64>,
}

/// The Netherlands' UTC offset in hours at `t`: +2 from the last Sunday of March 01:00 UTC to
/// the last Sunday of October 01:00 UTC (EU summer time), else +1.
pub fn dutch_offset_hours(t: time::OffsetDateTime) -> i64 {
    let last_sunday = |month: time::Month| {
        let last = time::Date::from_calendar_date(t.year(), month, month.length(t.year()));
        let mut d = last.unwrap_or(t.date());
        while d.weekday() != time::Weekday::Sunday {
            d = d.previous_day().unwrap_or(d);
        }
        time::PrimitiveDateTime::new(d, time::macros::time!(1:00)).assume_utc()
    };
    if t >= last_sunday(time::Month::March) && t < last_sunday(time::Month::October) {
        2
    } else {
        1
    }
}

/// Computes the signals over `events`. `office_hours` is `[start, end)` in Dutch local hours.
pub fn signals(events: &[Event], office_hours: (u8, u8), distinct_clients_per_day: u64) -> Signals {
    use std::collections::{BTreeMap, BTreeSet};
    let mut denied_user: BTreeMap<String, u64> = BTreeMap::new();
    let mut denied_source: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_day: BTreeMap<(String, String, String), BTreeSet<String>> = BTreeMap::new();
    let mut viewed: BTreeMap<String, u64> = BTreeMap::new();
    let mut outside = Vec::new();
    let mut closed: BTreeSet<String> = BTreeSet::new();
    let mut after_close = Vec::new();
    let format = time::format_description::well_known::Rfc3339;
    for e in events {
        if let Some(case) = &e.case {
            if e.action == "read" && closed.contains(case) {
                after_close.push(e.seq);
            }
            if e.action == "update"
                && e.outcome == "allowed"
                && matches!(e.reason.as_deref(), Some("end" | "consent withdrawn"))
            {
                closed.insert(case.clone());
            }
        }
        if e.outcome == "denied" {
            *denied_user
                .entry(e.user.clone().unwrap_or_else(|| "-".into()))
                .or_default() += 1;
            *denied_source
                .entry(e.source.clone().unwrap_or_else(|| "-".into()))
                .or_default() += 1;
            continue;
        }
        if e.action != "read" || e.outcome != "allowed" || e.fields.is_empty() {
            continue;
        }
        let Ok(utc) = time::OffsetDateTime::parse(&e.time, &format) else {
            continue;
        };
        let local = utc + time::Duration::hours(dutch_offset_hours(utc));
        if !(office_hours.0..office_hours.1).contains(&local.hour())
            || local.weekday().number_from_monday() > 5
        {
            outside.push(e.seq);
        }
        if let Some(client) = &e.client {
            *viewed.entry(client.clone()).or_default() += 1;
            if let Some(user) = &e.user {
                per_day
                    .entry((
                        user.clone(),
                        e.org.clone().unwrap_or_default(),
                        local.date().to_string(),
                    ))
                    .or_default()
                    .insert(client.clone());
            }
        }
    }
    let ranked = |m: BTreeMap<String, u64>, top: usize| {
        let mut v: Vec<Count> = m
            .into_iter()
            .map(|(key, count)| Count { key, count })
            .collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        v.truncate(top);
        v
    };
    Signals {
        denied_by_user: ranked(denied_user, usize::MAX),
        denied_by_source: ranked(denied_source, usize::MAX),
        many_clients_in_a_day: per_day
            .into_iter()
            .filter(|(_, clients)| clients.len() as u64 > distinct_clients_per_day)
            .map(|((user, org, day), clients)| BusyDay {
                user,
                org,
                day,
                clients: clients.len() as u64,
            })
            .collect(),
        outside_office_hours: outside,
        most_viewed_clients: ranked(viewed, 10),
        after_end_or_withdrawal: after_close,
    }
}

/// A readable table of events.
pub fn table(events: &[Event]) -> String {
    let mut out = format!(
        "{:>5}  {:<24} {:<12} {:<8} {:<18} {:<16} {:<17} {}\n",
        "seq",
        "time (UTC)",
        "action",
        "outcome",
        "organisation",
        "role",
        "purpose",
        "categories / reason"
    );
    for e in events {
        let what = if e.categories.is_empty() {
            e.reason.clone().unwrap_or_default()
        } else {
            e.categories.join(", ")
        };
        out.push_str(&format!(
            "{:>5}  {:<24} {:<12} {:<8} {:<18} {:<16} {:<17} {}\n",
            e.seq,
            e.time,
            e.action,
            e.outcome,
            e.org.as_deref().unwrap_or("-"),
            e.role.as_deref().unwrap_or("-"),
            e.purpose.as_deref().unwrap_or("-"),
            what
        ));
    }
    out
}
