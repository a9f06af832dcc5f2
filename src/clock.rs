//! Time as Sluis keeps it: the store's clock (system or set by its owner) and the stored text
//! form of a time. A leaf: imports nothing of the crate.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Where the store's times (case, state and event times) come from: the system clock, or a
/// clock its owner sets — `sluis demo` uses one to play a fictional year. Token lifetimes,
/// login windows and checkpoints always use the system clock.
#[derive(Clone, Debug, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that stands at `start` until [`Clock::set`] moves it.
    pub fn manual(start: time::OffsetDateTime) -> Self {
        Self(Some(Arc::new(AtomicI64::new(millis(start)))))
    }

    /// Moves a manual clock to `t` (never backwards); the system clock ignores it.
    pub fn set(&self, t: time::OffsetDateTime) {
        if let Some(at) = &self.0 {
            at.fetch_max(millis(t), Ordering::SeqCst);
        }
    }

    /// Lets a manual clock follow the system clock from now on.
    pub fn follow_system(&self) {
        if let Some(at) = &self.0 {
            at.store(FOLLOW_SYSTEM, Ordering::SeqCst);
        }
    }

    /// Now, by this clock.
    pub fn now(&self) -> time::OffsetDateTime {
        match self.0.as_ref().map(|at| at.load(Ordering::SeqCst)) {
            None | Some(FOLLOW_SYSTEM) => time::OffsetDateTime::now_utc(),
            // `millis` only stores times that came from an `OffsetDateTime`, so this holds.
            Some(ms) => time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
                .unwrap_or_else(|_| time::OffsetDateTime::now_utc()),
        }
    }

    /// Now as stored text.
    pub fn now_text(&self) -> String {
        time_text(self.now())
    }

    /// Today's date in UTC by this clock, `YYYY-MM-DD`.
    pub fn today(&self) -> String {
        let now = self.now().to_offset(time::UtcOffset::UTC);
        format!(
            "{:04}-{:02}-{:02}",
            now.year(),
            u8::from(now.month()),
            now.day()
        )
    }
}

/// The value of a manual clock that follows the system clock.
const FOLLOW_SYSTEM: i64 = i64::MIN;

fn millis(t: time::OffsetDateTime) -> i64 {
    // Milliseconds since 1970 fit in i64 for every year `time` represents.
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// Current UTC time as stored: RFC 3339 with milliseconds.
pub fn now_text() -> String {
    time_text(time::OffsetDateTime::now_utc())
}

/// The same moment `years` calendar years earlier (29 February becomes 28 February).
pub fn years_before(t: time::OffsetDateTime, years: u32) -> time::OffsetDateTime {
    let year = t.year() - i32::try_from(years).unwrap_or(i32::MAX / 2);
    t.replace_year(year)
        .or_else(|_| t.replace_day(28).and_then(|t| t.replace_year(year)))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// A UTC time as stored: RFC 3339 with milliseconds, fixed width, so text order is time order.
pub fn time_text(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

/// The date `months` calendar months after `date`, on the same day or the month's last.
pub fn months_later(date: time::Date, months: u8) -> time::Date {
    let total = u32::from(u8::from(date.month()) - 1) + u32::from(months);
    let year = date.year() + i32::try_from(total / 12).unwrap_or(0);
    let number = u8::try_from(total % 12 + 1).unwrap_or(1);
    let month = time::Month::try_from(number).unwrap_or(time::Month::January);
    let day = date.day().min(month.length(year));
    time::Date::from_calendar_date(year, month, day).unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_time_is_fixed_width_utc() {
        let t = time::macros::datetime!(2026-03-04 05:06:07.089 +02:00);
        assert_eq!(time_text(t), "2026-03-04T03:06:07.089Z");
    }

    #[test]
    fn months_later_keeps_the_day_or_takes_the_months_last() {
        use time::macros::date;
        assert_eq!(
            months_later(date!(2026 - 01 - 31), 1),
            date!(2026 - 02 - 28)
        );
        assert_eq!(
            months_later(date!(2026 - 08 - 15), 6),
            date!(2027 - 02 - 15)
        );
        assert_eq!(
            months_later(date!(2026 - 12 - 01), 12),
            date!(2027 - 12 - 01)
        );
        assert_eq!(
            months_later(date!(2024 - 08 - 31), 6),
            date!(2025 - 02 - 28)
        );
    }

    #[test]
    fn a_manual_clock_gives_its_date() {
        let clock = Clock::manual(time::macros::datetime!(2025-07-09 23:30 UTC));
        assert_eq!(clock.today(), "2025-07-09");
        assert_eq!(clock.now_text(), "2025-07-09T23:30:00.000Z");
    }
}
