//! Helpers for the load harness and the canary tests (filling the log, raw inserts, a text
//! dump of every table).

use sqlx::Row as _;

use crate::audit::Event;

use super::access_log::{Appender, to_i64};
use super::rows::{ROWS_PER_INSERT, values_list};
use super::{Store, StoreError};

impl Store {
    /// For the benchmark harness only: appends `count` fictional access events (reads by
    /// `org` of cases of `clients` pseudonyms, in turn) through the ordinary append path, in
    /// transactions of 10,000, so that a report can be timed over a log of realistic size.
    pub async fn bench_fill_log(
        &self,
        count: u64,
        org: &str,
        clients: &[String],
    ) -> Result<(), StoreError> {
        let mut written = 0u64;
        while written < count {
            let n = (count - written).min(10_000);
            let (_writing, mut tx) = self.begin_write().await?;
            let mut appender = Appender::begin(&mut tx, to_i64(n)).await?;
            for i in written..written + n {
                let mut event = Event::new("read", "allowed");
                event.org = Some(org.to_owned());
                event.role = Some("care".into());
                event.purpose = Some("guidance".into());
                event.client = clients.get((i as usize) % clients.len().max(1)).cloned();
                event.fields = vec!["first_name".into(), "last_name".into()];
                event.categories = vec!["identity".into()];
                appender.write(&self.clock, &mut tx, event).await?;
            }
            appender.finish(&mut tx).await?;
            tx.commit().await?;
            written += n;
        }
        Ok(())
    }

    /// The load harness's baseline (`sluis bench`): inserts `blobs` as rows of a scratch table
    /// in one transaction, as a submission's ciphertexts are.
    pub async fn bench_insert(&self, blobs: &[Vec<u8>]) -> Result<(), StoreError> {
        let create = format!(
            "CREATE TABLE IF NOT EXISTS bench_blobs (id TEXT PRIMARY KEY, body {} NOT NULL)",
            self.backend.blob_type()
        );
        sqlx::query(&create).execute(&self.pool).await?;
        let (_writing, mut tx) = self.begin_write().await?;
        for rows in blobs.chunks(ROWS_PER_INSERT) {
            let sql = format!(
                "INSERT INTO bench_blobs (id, body) VALUES {}",
                values_list(2, rows.len())
            );
            let mut query = sqlx::query(&sql);
            for blob in rows {
                query = query.bind(uuid::Uuid::new_v4().to_string()).bind(blob);
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every age file stored for a case, whoever it is addressed to (for tests that try each
    /// with an organisation's identity, as someone with a copy of the database could).
    pub async fn case_ciphertexts(&self, case_id: &str) -> Result<Vec<Vec<u8>>, StoreError> {
        let rows = sqlx::query("SELECT ciphertext FROM sealed_fields WHERE case_id = $1")
            .bind(case_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|r| Ok(r.try_get("ciphertext")?)).collect()
    }

    /// Every table's rows as text, for the canary tests that search the database for plaintext.
    pub async fn dump_text(&self) -> Result<String, StoreError> {
        let mut out = String::new();
        for table in [
            "organisations",
            "users",
            "api_keys",
            "cases",
            "case_parties",
            "sealed_fields",
            "sealed_field_recipients",
            "sealed_chunks",
            "consents",
            "case_states",
            "notifications",
            "evaluations",
            "applications",
            "messages",
            "message_recipients",
            "lease_conditions",
            "signals",
            "audit_events",
            "audit_expired",
            "audit_checkpoints",
            "deletion_receipts",
        ] {
            let rows = sqlx::query(&format!("SELECT * FROM {table}"))
                .fetch_all(&self.pool)
                .await?;
            for row in rows {
                use sqlx::Column as _;
                for (i, col) in row.columns().iter().enumerate() {
                    let text = row
                        .try_get::<String, _>(i)
                        .ok()
                        .or_else(|| row.try_get::<i64, _>(i).ok().map(|n| n.to_string()))
                        .or_else(|| {
                            row.try_get::<Vec<u8>, _>(i)
                                .ok()
                                .map(|b| String::from_utf8_lossy(&b).into_owned())
                        })
                        .unwrap_or_default();
                    out.push_str(&format!("{table}.{}={text}\n", col.name()));
                }
            }
        }
        Ok(out)
    }
}
