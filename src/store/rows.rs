//! Statements several writes share: a case's parties, sealed fields with their recipients
//! (many rows per statement), and deleting a case's sealed fields.

use sqlx::Row as _;

use crate::cases::{CaseParty, NewSealedField};

use super::{StoreError, flag};

/// `($1, …, $k), ($k+1, …)`: placeholders of `rows` rows of `columns` values, so that many
/// rows go in one statement (one round trip to the database instead of one per row).
pub(super) fn values_list(columns: usize, rows: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=columns)
                .map(|c| format!("${}", r * columns + c))
                .collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows per multi-row INSERT (well under both engines' limit on bound values).
pub(super) const ROWS_PER_INSERT: usize = 100;

pub(super) async fn insert_parties(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    case_id: &str,
    parties: &[CaseParty],
) -> Result<(), StoreError> {
    for p in parties {
        sqlx::query(
            "INSERT INTO case_parties (case_id, org_id, role, added_at, added_by) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(case_id)
        .bind(&p.org_id)
        .bind(&p.role)
        .bind(&p.added_at)
        .bind(&p.added_by)
        .execute(&mut **tx)
        .await?;
    }
    Ok(())
}

pub(super) async fn insert_sealed(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    case_id: &str,
    sealed_by: &str,
    sealed_at: &str,
    sealed: &[NewSealedField],
) -> Result<(), StoreError> {
    let seq: i64 = sqlx::query(
        "SELECT COALESCE(MAX(seq), 0) + 1 AS next FROM sealed_fields WHERE case_id = $1",
    )
    .bind(case_id)
    .fetch_one(&mut **tx)
    .await?
    .try_get("next")?;
    for rows in sealed.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO sealed_fields \
             (id, case_id, field_id, category, ciphertext, policy_version, sealed_at, sealed_by, seq, chunked, item_id) \
             VALUES {}",
            values_list(11, rows.len())
        );
        let mut query = sqlx::query(&sql);
        for f in rows {
            query = query
                .bind(&f.id)
                .bind(case_id)
                .bind(&f.field_id)
                .bind(&f.category)
                .bind(&f.ciphertext)
                .bind(&f.policy_version)
                .bind(sealed_at)
                .bind(sealed_by)
                .bind(seq)
                .bind(flag(f.chunked))
                .bind(f.item.as_deref());
        }
        query.execute(&mut **tx).await?;
    }
    let copies: Vec<(&str, &str)> = sealed
        .iter()
        .flat_map(|f| f.recipients.iter().map(|org| (f.id.as_str(), org.as_str())))
        .collect();
    for rows in copies.chunks(ROWS_PER_INSERT) {
        // Each copy remembers the recipient change of its organisation it was sealed under.
        let sql = format!(
            "INSERT INTO sealed_field_recipients (sealed_field_id, case_id, org_id, key_set_at) \
             SELECT v.column1, v.column2, v.column3, o.recipient_set_at \
             FROM (VALUES {}) AS v LEFT JOIN organisations o ON o.id = v.column3",
            values_list(3, rows.len())
        );
        let mut query = sqlx::query(&sql);
        for (id, org) in rows {
            query = query.bind(*id).bind(case_id).bind(*org);
        }
        query.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Deletes a case's age files except those of the `keep` categories (withdrawal; none kept for
/// a purge or an erasure); the ids of the fields deleted, sorted.
pub(super) async fn delete_sealed(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    case_id: &str,
    keep: &[String],
) -> Result<Vec<String>, StoreError> {
    let rows = sqlx::query("SELECT id, field_id, category FROM sealed_fields WHERE case_id = $1")
        .bind(case_id)
        .fetch_all(&mut **tx)
        .await?;
    let mut deleted = std::collections::BTreeSet::new();
    for r in rows {
        let category: String = r.try_get("category")?;
        if keep.contains(&category) {
            continue;
        }
        deleted.insert(r.try_get::<String, _>("field_id")?);
        let id: String = r.try_get("id")?;
        sqlx::query("DELETE FROM sealed_field_recipients WHERE sealed_field_id = $1")
            .bind(&id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM sealed_chunks WHERE sealed_field_id = $1")
            .bind(&id)
            .execute(&mut **tx)
            .await?;
        sqlx::query("DELETE FROM sealed_fields WHERE id = $1")
            .bind(&id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(deleted.into_iter().collect())
}
