//! Signals for the privacy officer: accesses per day, denied attempts, outside office hours,
//! many clients by one user; and the text table of events.

use std::collections::BTreeMap;

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
    /// Slice downloads per day (Dutch local date), oldest first.
    #[serde(default)]
    pub accesses_per_day: Vec<Count>,
    /// Denied attempts per day (Dutch local date), oldest first.
    #[serde(default)]
    pub denied_per_day: Vec<Count>,
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
/// The signals over the whole log (see [`SignalsBuilder`] to read it a page at a time).
pub fn signals(events: &[Event], office_hours: (u8, u8), distinct_clients_per_day: u64) -> Signals {
    let mut builder = SignalsBuilder::new(office_hours, distinct_clients_per_day);
    events.iter().for_each(|e| builder.add(e));
    builder.finish()
}

/// The signals, gathered event by event in sequence order: the log need not be in memory.
#[derive(Debug, Default)]
pub struct SignalsBuilder {
    office_hours: (u8, u8),
    distinct_clients_per_day: u64,
    denied_user: std::collections::BTreeMap<String, u64>,
    denied_source: std::collections::BTreeMap<String, u64>,
    per_day:
        std::collections::BTreeMap<(String, String, String), std::collections::BTreeSet<String>>,
    viewed: std::collections::BTreeMap<String, u64>,
    outside: Vec<i64>,
    closed: std::collections::BTreeSet<String>,
    after_close: Vec<i64>,
    reads_per_day: std::collections::BTreeMap<String, u64>,
    denied_per_day: std::collections::BTreeMap<String, u64>,
}

impl SignalsBuilder {
    /// Signals with these office hours (local time, from–to) and this many distinct clients a
    /// user may open in a day.
    pub fn new(office_hours: (u8, u8), distinct_clients_per_day: u64) -> Self {
        Self {
            office_hours,
            distinct_clients_per_day,
            ..Self::default()
        }
    }

    /// Takes the next event of the log into account.
    pub fn add(&mut self, e: &Event) {
        let format = time::format_description::well_known::Rfc3339;
        let local_day = time::OffsetDateTime::parse(&e.time, &format)
            .ok()
            .map(|utc| {
                (utc + time::Duration::hours(dutch_offset_hours(utc)))
                    .date()
                    .to_string()
            });
        if let Some(case) = &e.case {
            if e.action == "read" && self.closed.contains(case) {
                self.after_close.push(e.seq);
            }
            if e.action == "update"
                && e.outcome == "allowed"
                && matches!(e.reason.as_deref(), Some("end" | "consent withdrawn"))
            {
                self.closed.insert(case.clone());
            }
        }
        if e.outcome == "denied" {
            *self
                .denied_user
                .entry(e.user.clone().unwrap_or_else(|| "-".into()))
                .or_default() += 1;
            *self
                .denied_source
                .entry(e.source.clone().unwrap_or_else(|| "-".into()))
                .or_default() += 1;
            if let Some(day) = local_day {
                *self.denied_per_day.entry(day).or_default() += 1;
            }
            return;
        }
        if e.action != "read" || e.outcome != "allowed" || e.fields.is_empty() {
            return;
        }
        if let Some(day) = local_day {
            *self.reads_per_day.entry(day).or_default() += 1;
        }
        let Ok(utc) = time::OffsetDateTime::parse(&e.time, &format) else {
            return;
        };
        let local = utc + time::Duration::hours(dutch_offset_hours(utc));
        if !(self.office_hours.0..self.office_hours.1).contains(&local.hour())
            || local.weekday().number_from_monday() > 5
        {
            self.outside.push(e.seq);
        }
        if let Some(client) = &e.client {
            *self.viewed.entry(client.clone()).or_default() += 1;
            if let Some(user) = &e.user {
                self.per_day
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

    /// The signals of every event added.
    pub fn finish(self) -> Signals {
        use std::collections::BTreeMap;
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
            denied_by_user: ranked(self.denied_user, usize::MAX),
            denied_by_source: ranked(self.denied_source, usize::MAX),
            many_clients_in_a_day: self
                .per_day
                .into_iter()
                .filter(|(_, clients)| clients.len() as u64 > self.distinct_clients_per_day)
                .map(|((user, org, day), clients)| BusyDay {
                    user,
                    org,
                    day,
                    clients: clients.len() as u64,
                })
                .collect(),
            outside_office_hours: self.outside,
            most_viewed_clients: ranked(self.viewed, 10),
            after_end_or_withdrawal: self.after_close,
            accesses_per_day: per_day(self.reads_per_day),
            denied_per_day: per_day(self.denied_per_day),
        }
    }
}

/// Counts by day, oldest first.
fn per_day(days: std::collections::BTreeMap<String, u64>) -> Vec<Count> {
    days.into_iter()
        .map(|(key, count)| Count { key, count })
        .collect()
}

/// A readable table of events; `names` gives the users' login names by id (a user not in it
/// shows as the start of its id).
pub fn table(events: &[Event], names: &BTreeMap<String, String>) -> String {
    // Case ids and pseudonyms shortened to their first characters, as commit ids are.
    let short =
        |id: Option<&str>, n: usize| id.map_or("-".to_owned(), |i| i.chars().take(n).collect());
    let mut out = format!(
        "{:>5}  {:<24} {:<12} {:<8} {:<18} {:<24} {:<16} {:<17} {:<8} {:<12} {}\n",
        "seq",
        "time (UTC)",
        "action",
        "outcome",
        "organisation",
        "user",
        "role",
        "purpose",
        "case",
        "client",
        "categories / reason"
    );
    for e in events {
        let what = if e.categories.is_empty() {
            e.reason.clone().unwrap_or_default()
        } else {
            e.categories.join(", ")
        };
        out.push_str(&format!(
            "{:>5}  {:<24} {:<12} {:<8} {:<18} {:<24} {:<16} {:<17} {:<8} {:<12} {}\n",
            e.seq,
            e.time,
            e.action,
            e.outcome,
            e.org.as_deref().unwrap_or("-"),
            e.user.as_deref().map_or("-".to_owned(), |u| names
                .get(u)
                .cloned()
                .unwrap_or_else(|| short(Some(u), 8))),
            e.role.as_deref().unwrap_or("-"),
            e.purpose.as_deref().unwrap_or("-"),
            short(e.case.as_deref(), 8),
            short(e.client.as_deref(), 12),
            what
        ));
    }
    out
}
