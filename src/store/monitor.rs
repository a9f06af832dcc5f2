//! The monitor's routing facts and the parties' reported counts.

use std::collections::BTreeMap;

use sqlx::Row as _;

use crate::audit::Event;

use super::{Store, StoreError};

impl Store {
    /// The monitor's facts of every case: routing metadata only (this reads no sealed field),
    /// with the decisions on its applications and the signals given on it.
    pub async fn monitor_facts(&self) -> Result<Vec<crate::monitor::CaseFacts>, StoreError> {
        use crate::monitor::{Decision, Signal};
        let mut decisions: BTreeMap<String, Vec<Decision>> = BTreeMap::new();
        let decided = sqlx::query(
            "SELECT case_id, municipality, kind, applied_at, decided_on FROM applications \
             WHERE decided_on IS NOT NULL ORDER BY decided_on, id",
        )
        .fetch_all(&self.pool)
        .await?;
        for r in &decided {
            decisions
                .entry(r.try_get("case_id")?)
                .or_default()
                .push(Decision {
                    municipality: r.try_get("municipality")?,
                    kind: r.try_get("kind")?,
                    applied_at: r.try_get("applied_at")?,
                    decided_on: r.try_get("decided_on")?,
                });
        }
        let mut signals: BTreeMap<String, Vec<Signal>> = BTreeMap::new();
        let given = sqlx::query(
            "SELECT case_id, org_id, signalled_at FROM signals ORDER BY signalled_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        for r in &given {
            signals
                .entry(r.try_get("case_id")?)
                .or_default()
                .push(Signal {
                    org: r.try_get("org_id")?,
                    at: r.try_get("signalled_at")?,
                });
        }
        let rows = sqlx::query(
            "SELECT c.id, c.created_by, c.created_at, m.client_group, m.origin_municipality, \
             c.referred_at, c.matched_by, c.home_municipality, c.home_kind, c.key_handover, \
             c.lease_converted_on, \
             (SELECT COUNT(*) FROM case_states s WHERE s.case_id = c.id AND s.state = 'assessed') AS accepted, \
             (SELECT COUNT(*) FROM case_states s WHERE s.case_id = c.id AND s.state = 'rejected') AS rejected \
             FROM cases c LEFT JOIN case_monitor m ON m.case_id = c.id ORDER BY c.created_at, c.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let id: String = r.try_get("id")?;
                Ok(crate::monitor::CaseFacts {
                    registered_by: r.try_get("created_by")?,
                    registered_at: r.try_get("created_at")?,
                    client_group: r.try_get("client_group")?,
                    origin: r.try_get("origin_municipality")?,
                    accepted: r.try_get::<i64, _>("accepted")? > 0,
                    rejected: r.try_get::<i64, _>("rejected")? > 0,
                    referred_at: r.try_get("referred_at")?,
                    housed_by: r.try_get("matched_by")?,
                    home_municipality: r.try_get("home_municipality")?,
                    home_kind: r.try_get("home_kind")?,
                    key_handover: r.try_get("key_handover")?,
                    lease_converted_on: r.try_get("lease_converted_on")?,
                    decisions: decisions.remove(&id).unwrap_or_default(),
                    signals: signals.remove(&id).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Stores a party's counts for a period (replacing what it reported before for the same
    /// indicators), with the audit event, all or nothing.
    pub async fn put_monitor_report(
        &self,
        org_id: &str,
        period: &str,
        counts: &[(String, u64)],
        event: Event,
    ) -> Result<Event, StoreError> {
        let (_writing, mut tx, event) = self.write_recorded(event).await?;
        for (indicator, value) in counts {
            sqlx::query(
                "INSERT INTO monitor_reports (org_id, period, indicator, value, reported_at, reported_by) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (org_id, period, indicator) DO UPDATE SET \
                 value = excluded.value, reported_at = excluded.reported_at, reported_by = excluded.reported_by",
            )
            .bind(org_id)
            .bind(period)
            .bind(indicator)
            .bind(i64::try_from(*value).unwrap_or(i64::MAX))
            .bind(&event.time)
            .bind(event.user.as_deref().unwrap_or(""))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(event)
    }

    /// Every count reported for periods of `year`.
    pub async fn monitor_reports(
        &self,
        year: i32,
    ) -> Result<Vec<crate::monitor::ReportedCount>, StoreError> {
        let rows = sqlx::query(
            "SELECT org_id, period, indicator, value FROM monitor_reports \
             WHERE period = $1 OR period = $2 OR period = $3 ORDER BY org_id, period, indicator",
        )
        .bind(year.to_string())
        .bind(format!("{year}-H1"))
        .bind(format!("{year}-H2"))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(crate::monitor::ReportedCount {
                    org: r.try_get("org_id")?,
                    period: r.try_get("period")?,
                    indicator: r.try_get("indicator")?,
                    value: u64::try_from(r.try_get::<i64, _>("value")?).unwrap_or(0),
                })
            })
            .collect()
    }
}
