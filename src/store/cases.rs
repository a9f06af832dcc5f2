//! Cases, their parties, lifecycle steps, consent records, the inbox and the referral queue.

use sqlx::Row as _;

use crate::audit::{Event, NoteSigner};
use crate::cases::{
    Application, Case, CaseFacts, CaseParty, MonitorDeclaration, NewSealedField, Notification, Step,
};
use crate::consent::ConsentRecord;

use super::access_log::append_event;
use super::rows::{delete_sealed, insert_parties, insert_sealed};
use super::{Store, StoreError};

impl Store {
    // ---- cases ---------------------------------------------------------------------------

    /// Stores a new case with its parties, sealed fields and its audit event, all or nothing.
    pub async fn create_case(
        &self,
        case: &Case,
        parties: &[CaseParty],
        sealed: &[NewSealedField],
        consent: &ConsentRecord,
        monitor: &MonitorDeclaration,
        event: Event,
    ) -> Result<Event, StoreError> {
        let (_writing, mut tx, event) = self.write_recorded(event).await?;
        sqlx::query(
            "INSERT INTO cases (id, form, state, created_by, created_at, updated_at, client_pseudonym) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&case.id)
        .bind(&case.form)
        .bind(&case.state)
        .bind(&case.created_by)
        .bind(&case.created_at)
        .bind(&case.updated_at)
        .bind(case.client_pseudonym.as_deref())
        .execute(&mut *tx)
        .await?;
        insert_parties(&mut tx, &case.id, parties).await?;
        insert_sealed(
            &mut tx,
            &case.id,
            &case.created_by,
            &case.created_at,
            sealed,
        )
        .await?;
        insert_state(
            &mut tx,
            &case.id,
            &case.state,
            &case.created_by,
            &case.created_at,
        )
        .await?;
        insert_consent(&mut tx, consent).await?;
        if monitor.client_group.is_some() || monitor.origin_municipality.is_some() {
            sqlx::query(
                "INSERT INTO case_monitor (case_id, client_group, origin_municipality) VALUES ($1, $2, $3)",
            )
            .bind(&case.id)
            .bind(monitor.client_group.as_deref())
            .bind(monitor.origin_municipality.as_deref())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(event)
    }

    /// Carries out one lifecycle step in one transaction with its audit event: the state
    /// change (only if the case is still in `step.from`, else [`StoreError::Conflict`]), new
    /// facts, parties, sealed fields, deletions, notifications and evaluation bookkeeping.
    pub async fn apply(&self, step: &Step, event: Event) -> Result<Event, StoreError> {
        let (_writing, mut tx, event) = self.write_recorded(event).await?;
        let now = event.time.clone();
        let f = &step.facts;
        let done = sqlx::query(
            "UPDATE cases SET state = $1, updated_at = $2, \
             queue_position = COALESCE($3, queue_position), referred_at = COALESCE($4, referred_at), \
             matched_at = COALESCE($5, matched_at), matched_by = COALESCE($6, matched_by), \
             home_municipality = COALESCE($7, home_municipality), home_kind = COALESCE($8, home_kind), \
             key_handover = COALESCE($9, key_handover), end_reason = COALESCE($12, end_reason), \
             lease_kind = COALESCE($13, lease_kind), lease_converted_on = COALESCE($14, lease_converted_on) \
             WHERE id = $10 AND state = $11",
        )
        .bind(&step.to)
        .bind(&now)
        .bind(f.queue_position)
        .bind(f.referred_at.as_deref())
        .bind(f.matched_at.as_deref())
        .bind(f.matched_by.as_deref())
        .bind(f.home_municipality.as_deref())
        .bind(f.home_kind.as_deref())
        .bind(f.key_handover.as_deref())
        .bind(&step.case_id)
        .bind(&step.from)
        .bind(f.end_reason.as_deref())
        .bind(f.lease_kind.as_deref())
        .bind(f.lease_converted_on.as_deref())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Refused(
                "the case changed state meanwhile; reload it".into(),
            ));
        }
        if step.to != step.from {
            insert_state(&mut tx, &step.case_id, &step.to, &step.by_org, &now).await?;
        }
        if let Some(keep) = &step.delete_sealed_except {
            delete_sealed(&mut tx, &step.case_id, keep).await?;
        }
        insert_parties(&mut tx, &step.case_id, &step.new_parties).await?;
        insert_sealed(&mut tx, &step.case_id, &step.by_org, &now, &step.sealed).await?;
        if let Some((user, org)) = &step.withdraw_consent {
            sqlx::query(
                "UPDATE consents SET status = 'withdrawn', withdrawn_at = $1, withdrawn_by_user = $2, \
                 withdrawn_by_org = $3 WHERE case_id = $4 AND status = 'active'",
            )
            .bind(&now)
            .bind(user)
            .bind(org)
            .bind(&step.case_id)
            .execute(&mut *tx)
            .await?;
        }
        for (org, revoked) in &step.revoke {
            revoke_party(&mut tx, &step.case_id, org).await?;
            append_event(&self.clock, &mut tx, revoked.clone()).await?;
        }
        if let Some(renewal) = &step.renew_consent {
            sqlx::query(
                "UPDATE consents SET status = 'superseded' WHERE case_id = $1 AND status = 'active'",
            )
            .bind(&step.case_id)
            .execute(&mut *tx)
            .await?;
            insert_consent(&mut tx, renewal).await?;
        }
        for (period, due_on) in &step.evaluations_due {
            // A client housed again (after replacement housing, art. 9.11) is evaluated anew.
            sqlx::query(
                "INSERT INTO evaluations (case_id, period, due_on, received_at) VALUES ($1, $2, $3, NULL) \
                 ON CONFLICT (case_id, period) DO UPDATE SET due_on = excluded.due_on, received_at = NULL",
            )
                .bind(&step.case_id)
                .bind(*period)
                .bind(due_on)
                .execute(&mut *tx)
                .await?;
        }
        if let Some(period) = step.evaluation_received {
            let done = sqlx::query(
                "UPDATE evaluations SET received_at = $1 WHERE case_id = $2 AND period = $3 AND received_at IS NULL",
            )
            .bind(&now)
            .bind(&step.case_id)
            .bind(period)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Refused(format!(
                    "evaluation {period} is not due or was already received"
                )));
            }
        }
        if let Some(a) = &step.application {
            sqlx::query(
                "INSERT INTO applications (id, case_id, municipality, kind, applied_at, due_on) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&a.id)
            .bind(&step.case_id)
            .bind(&a.municipality)
            .bind(&a.kind)
            .bind(&a.applied_at)
            .bind(&a.due_on)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(d) = &step.decision {
            let done = sqlx::query(
                "UPDATE applications SET outcome = $1, decided_on = $2, decided_at = $3 \
                 WHERE id = $4 AND case_id = $5 AND outcome IS NULL",
            )
            .bind(d.outcome.as_deref())
            .bind(d.decided_on.as_deref())
            .bind(d.decided_at.as_deref())
            .bind(&d.id)
            .bind(&step.case_id)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Refused(
                    "the application was decided meanwhile; reload it".into(),
                ));
            }
        }
        for (condition, met_on) in &step.lease_conditions {
            sqlx::query(
                "INSERT INTO lease_conditions (case_id, condition, met_on) VALUES ($1, $2, $3) \
                 ON CONFLICT (case_id, condition) DO UPDATE SET met_on = excluded.met_on",
            )
            .bind(&step.case_id)
            .bind(condition)
            .bind(met_on)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(id) = &step.signal {
            sqlx::query(
                "INSERT INTO signals (id, case_id, org_id, signalled_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(&step.case_id)
            .bind(&step.by_org)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        if let Some(m) = &step.message {
            super::messages::insert_message(&mut tx, m).await?;
        }
        if let Some(message) = &step.acknowledged {
            let of = (
                step.case_id.as_str(),
                message.as_str(),
                step.by_org.as_str(),
            );
            super::messages::acknowledge(&mut tx, of, &now).await?;
        }
        for crate::cases::Notice { org, kind, detail } in &step.notify {
            sqlx::query(
                "INSERT INTO notifications (id, org_id, case_id, kind, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(uuid::Uuid::new_v4().to_string())
            .bind(org)
            .bind(&step.case_id)
            .bind(kind)
            .bind(detail)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(event)
    }

    /// The states a case passed, in order.
    pub async fn states(&self, case_id: &str) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query("SELECT state FROM case_states WHERE case_id = $1 ORDER BY seq")
            .bind(case_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("state")?)).collect()
    }

    /// The case's consent record: the one in force (active, or the withdrawn one), not one a
    /// renewal superseded.
    pub async fn consent(&self, case_id: &str) -> Result<Option<ConsentRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT * FROM consents WHERE case_id = $1 \
             ORDER BY CASE status WHEN 'superseded' THEN 1 ELSE 0 END, recorded_at DESC LIMIT 1",
        )
        .bind(case_id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(consent_from_row).transpose()
    }

    /// Every consent declaration of the case, oldest first: the chain of renewals.
    pub async fn consents(&self, case_id: &str) -> Result<Vec<ConsentRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM consents WHERE case_id = $1 \
             ORDER BY recorded_at, CASE status WHEN 'superseded' THEN 0 ELSE 1 END",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(consent_from_row).collect()
    }

    /// An organisation's inbox, newest first; only what it has not marked read if `unread`.
    pub async fn inbox(&self, org_id: &str, unread: bool) -> Result<Vec<Notification>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, case_id, kind, detail, created_at, read_at FROM notifications              WHERE org_id = $1 AND ($2 = 0 OR read_at IS NULL) ORDER BY created_at DESC, id LIMIT 500",
        )
        .bind(org_id)
        .bind(i64::from(unread))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Notification {
                    id: Some(r.try_get("id")?),
                    read: r.try_get::<Option<String>, _>("read_at")?.is_some(),
                    case: r.try_get("case_id")?,
                    kind: r.try_get("kind")?,
                    detail: r.try_get("detail")?,
                    at: r.try_get("created_at")?,
                })
            })
            .collect()
    }

    /// Marks `org_id`'s notifications read at `now`: those of `ids`, or every unread one if
    /// `ids` is `None`. Another organisation's ids are not touched. How many were marked.
    pub async fn mark_read(
        &self,
        org_id: &str,
        ids: Option<&[String]>,
        now: &str,
    ) -> Result<u64, StoreError> {
        let (_writing, mut tx) = self.begin_write().await?;
        let mut marked = 0;
        let all = [None];
        let chosen: Vec<Option<&String>> = match ids {
            Some(ids) => ids.iter().filter(|id| !id.is_empty()).map(Some).collect(),
            None => all.to_vec(),
        };
        for id in chosen {
            let done = sqlx::query(
                "UPDATE notifications SET read_at = $1 WHERE org_id = $2 AND read_at IS NULL \
                 AND ($3 = '' OR id = $3)",
            )
            .bind(now)
            .bind(org_id)
            .bind(id.map_or("", String::as_str))
            .execute(&mut *tx)
            .await?;
            marked += done.rows_affected();
        }
        tx.commit().await?;
        Ok(marked)
    }

    /// The conversion's conditions recorded for a case, with the day each was met.
    pub async fn lease_conditions(
        &self,
        case_id: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT condition, met_on FROM lease_conditions WHERE case_id = $1 ORDER BY condition",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("condition")?, r.try_get("met_on")?)))
            .collect()
    }

    /// The applications of a case, oldest first.
    pub async fn applications(&self, case_id: &str) -> Result<Vec<Application>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {APPLICATION} FROM applications a WHERE a.case_id = $1 ORDER BY a.applied_at, a.id"
        ))
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(application_from_row).collect()
    }

    /// The undecided applications of open cases whose last day lies before `today`, soonest
    /// due first; only those to `municipality` if given.
    pub async fn overdue_applications(
        &self,
        today: &str,
        municipality: Option<&str>,
    ) -> Result<Vec<Application>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {APPLICATION} FROM applications a JOIN cases c ON c.id = a.case_id \
             WHERE a.outcome IS NULL AND a.due_on < $1 AND ($2 = '' OR a.municipality = $2) \
             AND c.state NOT IN ('rejected', 'ended', 'withdrawn') ORDER BY a.due_on, a.id"
        ))
        .bind(today)
        .bind(municipality.unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(application_from_row).collect()
    }

    /// Evaluations due on or before `today` and not received, oldest first: (case, period, due).
    pub async fn overdue_evaluations(
        &self,
        today: &str,
    ) -> Result<Vec<(String, i64, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.case_id, e.period, e.due_on FROM evaluations e JOIN cases c ON c.id = e.case_id \
             WHERE e.received_at IS NULL AND e.due_on <= $1 AND c.state IN ('housed', 'lease_converted') \
             ORDER BY e.due_on, e.case_id",
        )
        .bind(today)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("case_id")?,
                    r.try_get("period")?,
                    r.try_get("due_on")?,
                ))
            })
            .collect()
    }

    /// The consents in force on open cases `org_id` is a party of that hold no later than
    /// `until` (`YYYY-MM-DD`; expired ones too): (case, consent, valid until), soonest first.
    pub async fn expiring_consents(
        &self,
        org_id: &str,
        until: &str,
    ) -> Result<Vec<(String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.case_id, c.id, c.valid_until FROM consents c \
             JOIN cases k ON k.id = c.case_id \
             JOIN case_parties p ON p.case_id = c.case_id AND p.org_id = $1 \
             WHERE c.status = 'active' AND c.valid_until <= $2 \
             AND k.state NOT IN ('withdrawn', 'rejected', 'ended') \
             ORDER BY c.valid_until, c.case_id",
        )
        .bind(org_id)
        .bind(until)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("case_id")?,
                    r.try_get("id")?,
                    r.try_get("valid_until")?,
                ))
            })
            .collect()
    }

    /// Sets the queue order of referred cases (art. 8.4): position 1, 2, … in `order`.
    pub async fn set_queue(&self, order: &[String], event: Event) -> Result<(), StoreError> {
        let (_writing, mut tx, _) = self.write_recorded(event).await?;
        for (i, case) in order.iter().enumerate() {
            let done = sqlx::query(
                "UPDATE cases SET queue_position = $1 WHERE id = $2 AND state = 'referred'",
            )
            .bind(i as i64 + 1)
            .bind(case)
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::Refused(format!(
                    "member {} of `order` is not a referred case",
                    i + 1
                )));
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// A case's metadata.
    pub async fn case(&self, id: &str) -> Result<Option<Case>, StoreError> {
        let row = sqlx::query("SELECT * FROM cases WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| case_from_row(&r)).transpose()
    }

    /// Deletes the age files of every closed case past its retention (policy `[retention]`,
    /// on the store's today): per case, in one transaction, the files and an access event
    /// (`delete`, naming the fields and the rule) and its deletion receipt — what was deleted
    /// when under which rule — signed by `signer` and kept. Returns what was purged of each case.
    pub async fn purge(
        &self,
        policy: &crate::policy::Policy,
        signer: &(dyn NoteSigner + Sync),
    ) -> Result<Vec<PurgedCase>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM cases WHERE state IN ('rejected', 'ended', 'withdrawn') \
             AND EXISTS (SELECT 1 FROM sealed_fields f WHERE f.case_id = cases.id) ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        let today = self.clock.today();
        let mut purged = Vec::new();
        for case in rows.iter().map(case_from_row) {
            let case = case?;
            let Some(rule) = crate::cases::lifecycle::retention_due(policy, &case, &today) else {
                continue;
            };
            let (_writing, mut tx) = self.begin_write().await?;
            let fields = delete_sealed(&mut tx, &case.id, &[]).await?;
            let mut event = Event::admin(format!("purge: {rule}"));
            event.action = "delete".into();
            event.case = Some(case.id.clone());
            event.client.clone_from(&case.client_pseudonym);
            event.fields.clone_from(&fields);
            let event = append_event(&self.clock, &mut tx, event).await?;
            let done = PurgedCase {
                case: case.id,
                state: case.state,
                fields,
                rule,
                deleted_at: event.time,
                receipt: String::new(),
            };
            let done = done.kept(&mut tx, signer).await?;
            tx.commit().await?;
            purged.push(done);
        }
        Ok(purged)
    }

    /// An erasure request (AVG art. 17) for the client of `case_id`: in one transaction, with
    /// the request's `event` and a `delete` event per case, every age file of every case of
    /// that client (by its pseudonym) is deleted, and each open one is withdrawn (its consent
    /// too). Each case's deletion receipt is signed by `signer` and kept. Returns what was
    /// deleted of each case.
    pub async fn erase_client(
        &self,
        case_id: &str,
        by_org: &str,
        event: Event,
        signer: &(dyn NoteSigner + Sync),
    ) -> Result<Vec<PurgedCase>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM cases WHERE id = $1 OR (client_pseudonym IS NOT NULL AND \
             client_pseudonym = (SELECT client_pseudonym FROM cases WHERE id = $2)) ORDER BY id",
        )
        .bind(case_id)
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        let cases: Vec<Case> = rows.iter().map(case_from_row).collect::<Result<_, _>>()?;
        let (_writing, mut tx, request) = self.write_recorded(event).await?;
        let mut erased = Vec::with_capacity(cases.len());
        for case in cases {
            let fields = delete_sealed(&mut tx, &case.id, &[]).await?;
            let open = !matches!(case.state.as_str(), "rejected" | "ended" | "withdrawn");
            if open {
                sqlx::query(
                    "UPDATE consents SET status = 'withdrawn', withdrawn_at = $1, \
                     withdrawn_by_user = $2, withdrawn_by_org = $3 WHERE case_id = $4 AND status = 'active'",
                )
                .bind(&request.time)
                .bind(request.user.as_deref().unwrap_or_default())
                .bind(by_org)
                .bind(&case.id)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE cases SET state = 'withdrawn', updated_at = $1 WHERE id = $2")
                    .bind(&request.time)
                    .bind(&case.id)
                    .execute(&mut *tx)
                    .await?;
                insert_state(&mut tx, &case.id, "withdrawn", by_org, &request.time).await?;
            }
            let mut deleted = request.clone();
            deleted.case = Some(case.id.clone());
            deleted.client.clone_from(&case.client_pseudonym);
            deleted.fields.clone_from(&fields);
            deleted.reason = Some("erasure request (AVG art. 17): every copy deleted".into());
            let deleted = append_event(&self.clock, &mut tx, deleted).await?;
            let done = PurgedCase {
                case: case.id,
                state: if open { "withdrawn".into() } else { case.state },
                fields,
                rule: "erasure request (AVG art. 17)".into(),
                deleted_at: deleted.time,
                receipt: String::new(),
            };
            erased.push(done.kept(&mut tx, signer).await?);
        }
        tx.commit().await?;
        Ok(erased)
    }

    /// The deletion receipts kept for a case, oldest first.
    pub async fn receipts(&self, case_id: &str) -> Result<Vec<String>, StoreError> {
        let rows =
            sqlx::query("SELECT note FROM deletion_receipts WHERE case_id = $1 ORDER BY time")
                .bind(case_id)
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|r| r.try_get("note").map_err(StoreError::from))
            .collect()
    }

    /// The cases an organisation is a party to, newest first.
    pub async fn cases_of(&self, org_id: &str) -> Result<Vec<Case>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.* \
             FROM cases c JOIN case_parties p ON p.case_id = c.id \
             WHERE p.org_id = $1 ORDER BY c.created_at DESC, c.id",
        )
        .bind(org_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(case_from_row).collect()
    }

    /// The parties of a case, in the order they joined.
    pub async fn parties(&self, case_id: &str) -> Result<Vec<CaseParty>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.org_id, p.role, p.added_at, p.added_by, \
             (SELECT COUNT(*) FROM applications a WHERE a.case_id = p.case_id AND a.municipality = p.org_id) AS applied \
             FROM case_parties p WHERE p.case_id = $1 ORDER BY p.added_at, p.org_id",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CaseParty {
                    org_id: r.try_get("org_id")?,
                    role: r.try_get("role")?,
                    added_at: r.try_get("added_at")?,
                    added_by: r.try_get("added_by")?,
                    applied: r.try_get::<i64, _>("applied")? > 0,
                })
            })
            .collect()
    }
}

/// The columns of an application, as [`application_from_row`] reads them.
const APPLICATION: &str = "a.id, a.case_id, a.municipality, a.kind, a.applied_at, a.due_on, \
                           a.outcome, a.decided_on, a.decided_at";

fn application_from_row(r: &sqlx::any::AnyRow) -> Result<Application, StoreError> {
    Ok(Application {
        id: r.try_get("id")?,
        case: r.try_get("case_id")?,
        municipality: r.try_get("municipality")?,
        kind: r.try_get("kind")?,
        applied_at: r.try_get("applied_at")?,
        due_on: r.try_get("due_on")?,
        outcome: r.try_get("outcome")?,
        decided_on: r.try_get("decided_on")?,
        decided_at: r.try_get("decided_at")?,
    })
}

pub(super) fn case_from_row(r: &sqlx::any::AnyRow) -> Result<Case, StoreError> {
    Ok(Case {
        id: r.try_get("id")?,
        form: r.try_get("form")?,
        state: r.try_get("state")?,
        created_by: r.try_get("created_by")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        client_pseudonym: r.try_get("client_pseudonym")?,
        facts: CaseFacts {
            queue_position: r.try_get("queue_position")?,
            referred_at: r.try_get("referred_at")?,
            matched_at: r.try_get("matched_at")?,
            matched_by: r.try_get("matched_by")?,
            home_municipality: r.try_get("home_municipality")?,
            home_kind: r.try_get("home_kind")?,
            key_handover: r.try_get("key_handover")?,
            end_reason: r.try_get("end_reason")?,
            lease_kind: r.try_get("lease_kind")?,
            lease_converted_on: r.try_get("lease_converted_on")?,
        },
    })
}

pub(super) async fn insert_state(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    case_id: &str,
    state: &str,
    by_org: &str,
    at: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO case_states (case_id, seq, state, at, by_org) \
         SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4 FROM case_states WHERE case_id = $5",
    )
    .bind(case_id)
    .bind(state)
    .bind(at)
    .bind(by_org)
    .bind(case_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(super) async fn insert_consent(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    c: &ConsentRecord,
) -> Result<(), StoreError> {
    let list = |v: &[String]| serde_json::Value::from(v.to_vec()).to_string();
    sqlx::query(
        "INSERT INTO consents (id, case_id, client_pseudonym, signed_on, valid_until, purpose, roles, \
         categories, document_sha256, status, recorded_at, recorded_by_user, recorded_by_org) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(&c.id)
    .bind(&c.case_id)
    .bind(c.client.as_deref())
    .bind(&c.signed_on)
    .bind(&c.valid_until)
    .bind(&c.purpose)
    .bind(list(&c.roles))
    .bind(list(&c.categories))
    .bind(&c.document_sha256)
    .bind(&c.status)
    .bind(&c.recorded_at)
    .bind(&c.recorded_by_user)
    .bind(&c.recorded_by_org)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

fn consent_from_row(r: &sqlx::any::AnyRow) -> Result<ConsentRecord, StoreError> {
    let list = |c: &str| -> Result<Vec<String>, StoreError> {
        let t: String = r.try_get(c)?;
        serde_json::from_str(&t).map_err(|_| StoreError::Corrupt(format!("consents.{c}")))
    };
    Ok(ConsentRecord {
        id: r.try_get("id")?,
        case_id: r.try_get("case_id")?,
        client: r.try_get("client_pseudonym")?,
        signed_on: r.try_get("signed_on")?,
        valid_until: r.try_get("valid_until")?,
        purpose: r.try_get("purpose")?,
        roles: list("roles")?,
        categories: list("categories")?,
        document_sha256: r.try_get("document_sha256")?,
        status: r.try_get("status")?,
        recorded_at: r.try_get("recorded_at")?,
        recorded_by_user: r.try_get("recorded_by_user")?,
        recorded_by_org: r.try_get("recorded_by_org")?,
        withdrawn_at: r.try_get("withdrawn_at")?,
        withdrawn_by_user: r.try_get("withdrawn_by_user")?,
        withdrawn_by_org: r.try_get("withdrawn_by_org")?,
    })
}

/// Takes an organisation off a case: its copies (and every age file left with no recipient)
/// deleted, its party row removed, so the case is 404 to it from then on.
async fn revoke_party(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    case_id: &str,
    org_id: &str,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM sealed_field_recipients WHERE case_id = $1 AND org_id = $2")
        .bind(case_id)
        .bind(org_id)
        .execute(&mut **tx)
        .await?;
    let orphans = "SELECT id FROM sealed_fields f WHERE f.case_id = $1 AND NOT EXISTS \
                   (SELECT 1 FROM sealed_field_recipients r WHERE r.sealed_field_id = f.id)";
    sqlx::query(&format!(
        "DELETE FROM sealed_chunks WHERE sealed_field_id IN ({orphans})"
    ))
    .bind(case_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query(&format!(
        "DELETE FROM sealed_fields WHERE id IN ({orphans})"
    ))
    .bind(case_id)
    .execute(&mut **tx)
    .await?;
    sqlx::query("DELETE FROM case_parties WHERE case_id = $1 AND org_id = $2")
        .bind(case_id)
        .bind(org_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// What a purge deleted of one case, for its deletion receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgedCase {
    /// The case.
    pub case: String,
    /// Its final state.
    pub state: String,
    /// The field ids whose age files were deleted.
    pub fields: Vec<String>,
    /// The retention rule, with its basis.
    pub rule: String,
    /// When (the access event's time).
    pub deleted_at: String,
    /// The deletion receipt: a C2SP note signed with the broker's key under the log's origin.
    pub receipt: String,
}

impl PurgedCase {
    /// The body of its deletion receipt, a signed note under the log's origin `origin`.
    pub fn receipt_body(&self, origin: &str) -> String {
        format!(
            "{origin}\ndeletion receipt\ncase {}\nstate {}\ndeleted {}\nrule {}\nfields {}\n",
            self.case,
            self.state,
            self.deleted_at,
            self.rule,
            self.fields.join(",")
        )
    }

    /// Itself with its receipt signed by `signer`, the receipt kept in `tx`.
    async fn kept(
        mut self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        signer: &(dyn NoteSigner + Sync),
    ) -> Result<Self, StoreError> {
        let done = &mut self;
        done.receipt = crate::audit::sign_note(signer, &done.receipt_body(signer.name()));
        sqlx::query("INSERT INTO deletion_receipts (case_id, time, note) VALUES ($1, $2, $3)")
            .bind(&done.case)
            .bind(&done.deleted_at)
            .bind(&done.receipt)
            .execute(&mut **tx)
            .await?;
        Ok(self)
    }
}
