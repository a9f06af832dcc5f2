//! Sealed fields: storing age files with their recipients, documents in pieces, re-shares,
//! rekeys, and reading an organisation's slice.

use sqlx::Row as _;

use crate::audit::Event;
use crate::cases::{CaseParty, NewSealedField, Rekeyed, SealedField};
use crate::clock::time_text;

use super::rows::{insert_parties, insert_sealed};
use super::{Store, StoreError};

impl Store {
    /// Number of age files stored for a case (all recipients), for checks after withdrawal.
    pub async fn sealed_count(&self, case_id: &str) -> Result<(i64, i64), StoreError> {
        let files: i64 = sqlx::query("SELECT COUNT(*) AS n FROM sealed_fields WHERE case_id = $1")
            .bind(case_id)
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?;
        let copies: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM sealed_field_recipients WHERE case_id = $1")
                .bind(case_id)
                .fetch_one(&self.pool)
                .await?
                .try_get("n")?;
        Ok((files, copies))
    }

    /// The ids of the fields a case has sealed (whoever they are sealed to).
    pub async fn sealed_field_ids(
        &self,
        case_id: &str,
    ) -> Result<std::collections::BTreeSet<String>, StoreError> {
        let rows = sqlx::query("SELECT DISTINCT field_id FROM sealed_fields WHERE case_id = $1")
            .bind(case_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("field_id")?)).collect()
    }

    /// Adds parties and sealed fields to a case (a re-share) with its audit event, all or nothing.
    pub async fn add_share(
        &self,
        case_id: &str,
        sealed_by: &str,
        new_parties: &[CaseParty],
        sealed: &[NewSealedField],
        event: Event,
    ) -> Result<Event, StoreError> {
        let (_writing, mut tx, event) = self.write_recorded(event).await?;
        let now = event.time.clone();
        let done = sqlx::query("UPDATE cases SET updated_at = $1 WHERE id = $2")
            .bind(&now)
            .bind(case_id)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        insert_parties(&mut tx, case_id, new_parties).await?;
        insert_sealed(&mut tx, case_id, sealed_by, &now, sealed).await?;
        tx.commit().await?;
        Ok(event)
    }

    /// Replaces an organisation's copies of a case's age files by files sealed to its new key,
    /// with the audit event, all or nothing. Each new file takes the place (position, time,
    /// origin) of the one it replaces; the organisation is taken off the old file, which is
    /// deleted once nobody holds it. `NotFound` when a file is not the case's, not of the named
    /// field or not sealed to `org_id`.
    pub async fn rekey(
        &self,
        case_id: &str,
        org_id: &str,
        replacements: &[Rekeyed],
        event: Event,
    ) -> Result<Event, StoreError> {
        let (_writing, mut tx, event) = self.write_recorded(event).await?;
        for r in replacements {
            let old = sqlx::query(
                "SELECT f.category, f.policy_version, f.sealed_at, f.sealed_by, f.seq, f.item_id, \
                 r.key_set_at, o.recipient_set_at \
                 FROM sealed_fields f JOIN sealed_field_recipients r ON r.sealed_field_id = f.id \
                 JOIN organisations o ON o.id = r.org_id \
                 WHERE f.id = $1 AND f.case_id = $2 AND f.field_id = $3 AND r.org_id = $4",
            )
            .bind(&r.replaces)
            .bind(case_id)
            .bind(&r.field_id)
            .bind(org_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
            let sealed_under: Option<String> = old.try_get("key_set_at")?;
            let changed_at: Option<String> = old.try_get("recipient_set_at")?;
            if changed_at.is_none() || sealed_under == changed_at {
                return Err(StoreError::Refused(
                    "a file is already sealed to your current recipient: rekey after registering a new one"
                        .into(),
                ));
            }
            let seq: i64 = old.try_get("seq")?;
            sqlx::query(
                "INSERT INTO sealed_fields \
                 (id, case_id, field_id, category, ciphertext, policy_version, sealed_at, sealed_by, seq, item_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&r.id)
            .bind(case_id)
            .bind(&r.field_id)
            .bind(old.try_get::<String, _>("category")?)
            .bind(&r.ciphertext)
            .bind(old.try_get::<String, _>("policy_version")?)
            .bind(old.try_get::<String, _>("sealed_at")?)
            .bind(old.try_get::<String, _>("sealed_by")?)
            .bind(seq)
            .bind(old.try_get::<Option<String>, _>("item_id")?)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO sealed_field_recipients (sealed_field_id, case_id, org_id, key_set_at) \
                 VALUES ($1, $2, $3, (SELECT recipient_set_at FROM organisations WHERE id = $3))",
            )
            .bind(&r.id)
            .bind(case_id)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM sealed_field_recipients WHERE sealed_field_id = $1 AND org_id = $2",
            )
            .bind(&r.replaces)
            .bind(org_id)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM sealed_chunks WHERE sealed_field_id = $1 AND NOT EXISTS \
                 (SELECT 1 FROM sealed_field_recipients WHERE sealed_field_id = $1)",
            )
            .bind(&r.replaces)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM sealed_fields WHERE id = $1 AND NOT EXISTS \
                 (SELECT 1 FROM sealed_field_recipients WHERE sealed_field_id = $1)",
            )
            .bind(&r.replaces)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(event)
    }

    /// Stores piece `n` of the age file of sealed field `id` while it streams in (its own
    /// short transaction; the field's row, written when the upload completes, links them).
    pub async fn put_chunk(&self, id: &str, n: i64, body: &[u8]) -> Result<(), StoreError> {
        let _writing = self.embedded_turn().await;
        sqlx::query(
            "INSERT INTO sealed_chunks (sealed_field_id, n, body, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(n)
        .bind(body)
        .bind(self.clock.now_text())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes the pieces of an upload that did not complete.
    pub async fn drop_chunks(&self, id: &str) -> Result<(), StoreError> {
        let _writing = self.embedded_turn().await;
        sqlx::query(
            "DELETE FROM sealed_chunks WHERE sealed_field_id = $1 AND NOT EXISTS \
             (SELECT 1 FROM sealed_fields WHERE id = $1)",
        )
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Number of stored pieces of age files (all fields).
    pub async fn chunk_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) AS n FROM sealed_chunks")
            .fetch_one(&self.pool)
            .await?
            .try_get("n")?)
    }

    /// Deletes pieces of uploads that broke off more than a day ago (the broker stopped
    /// mid-upload): no sealed field links them.
    pub(super) async fn sweep_chunks(&self) -> Result<(), StoreError> {
        let _writing = self.embedded_turn().await;
        let cutoff = time_text(self.clock.now() - time::Duration::days(1));
        sqlx::query(
            "DELETE FROM sealed_chunks WHERE created_at < $1 AND NOT EXISTS \
             (SELECT 1 FROM sealed_fields f WHERE f.id = sealed_chunks.sealed_field_id)",
        )
        .bind(cutoff)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The age files of a case sealed to `org_id`: for each field the latest one (no event;
    /// for tests and checks of what is stored).
    pub async fn slice(&self, case_id: &str, org_id: &str) -> Result<Vec<SealedField>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        slice_in(&mut conn, case_id, org_id).await
    }
}

/// The ids of every sealed field row of the case sealed to the organisation, sorted. Rows are
/// never changed, only added and deleted: the same ids mean the same slice.
pub(super) async fn slice_ids(
    conn: &mut sqlx::AnyConnection,
    case_id: &str,
    org_id: &str,
) -> Result<Vec<String>, StoreError> {
    sqlx::query(
        "SELECT sealed_field_id FROM sealed_field_recipients \
         WHERE case_id = $1 AND org_id = $2 ORDER BY sealed_field_id",
    )
    .bind(case_id)
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| r.try_get("sealed_field_id").map_err(StoreError::from))
    .collect()
}

pub(super) async fn slice_in(
    conn: &mut sqlx::AnyConnection,
    case_id: &str,
    org_id: &str,
) -> Result<Vec<SealedField>, StoreError> {
    Ok(slice_read(conn, case_id, org_id).await?.0)
}

/// The slice (for each field the latest age file) and the ids of every row it was read from.
pub(super) async fn slice_read(
    conn: &mut sqlx::AnyConnection,
    case_id: &str,
    org_id: &str,
) -> Result<(Vec<SealedField>, Vec<String>), StoreError> {
    let rows = sqlx::query(
        "SELECT f.id, f.field_id, f.category, f.ciphertext, f.chunked, f.policy_version, f.sealed_at, f.sealed_by, f.item_id \
         FROM sealed_fields f JOIN sealed_field_recipients r ON r.sealed_field_id = f.id \
         WHERE r.case_id = $1 AND r.org_id = $2 \
         ORDER BY f.seq DESC, f.field_id",
    )
    .bind(case_id)
    .bind(org_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::with_capacity(rows.len());
    let mut ids = Vec::with_capacity(rows.len());
    for r in &rows {
        ids.push(r.try_get::<String, _>("id")?);
        let field_id: String = r.try_get("field_id")?;
        let item: Option<String> = r.try_get("item_id")?;
        if seen.insert((field_id.clone(), item.clone())) {
            let id: String = r.try_get("id")?;
            let ciphertext = if r.try_get::<i64, _>("chunked")? != 0 {
                let mut whole = Vec::new();
                for piece in sqlx::query(
                    "SELECT body FROM sealed_chunks WHERE sealed_field_id = $1 ORDER BY n",
                )
                .bind(&id)
                .fetch_all(&mut *conn)
                .await?
                {
                    whole.extend_from_slice(&piece.try_get::<Vec<u8>, _>("body")?);
                }
                whole
            } else {
                r.try_get("ciphertext")?
            };
            out.push(SealedField {
                id,
                field_id,
                category: r.try_get("category")?,
                ciphertext,
                policy_version: r.try_get("policy_version")?,
                sealed_at: r.try_get("sealed_at")?,
                sealed_by: r.try_get("sealed_by")?,
                item,
            });
        }
    }
    out.sort_by(|a, b| (&a.field_id, &a.item).cmp(&(&b.field_id, &b.item)));
    ids.sort_unstable();
    Ok((out, ids))
}
