//! A case's correspondence: messages and reports with their addressees and acknowledgements
//! (routing metadata; the text is in `sealed_fields` under the message's item).

use sqlx::Row as _;

use crate::cases::Message;
use crate::cases::message::Addressee;

use super::{Store, StoreError};

impl Store {
    /// The messages and reports of a case, oldest first, each with its addressees.
    pub async fn messages(&self, case_id: &str) -> Result<Vec<Message>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, case_id, kind, sender, about, sent_at, held_on, reply_to FROM messages \
             WHERE case_id = $1 ORDER BY sent_at, id",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        let addressees = sqlx::query(
            "SELECT r.message_id, r.org_id, r.acknowledged_at FROM message_recipients r \
             JOIN messages m ON m.id = r.message_id WHERE m.case_id = $1 ORDER BY r.org_id",
        )
        .bind(case_id)
        .fetch_all(&self.pool)
        .await?;
        let mut messages = Vec::with_capacity(rows.len());
        for r in &rows {
            let id: String = r.try_get("id")?;
            let mut to = Vec::new();
            for a in addressees.iter() {
                if a.try_get::<String, _>("message_id")? == id {
                    to.push(Addressee {
                        org: a.try_get("org_id")?,
                        acknowledged_at: a.try_get("acknowledged_at")?,
                    });
                }
            }
            messages.push(Message {
                id,
                case: r.try_get("case_id")?,
                kind: r.try_get("kind")?,
                sender: r.try_get("sender")?,
                about: r.try_get("about")?,
                to,
                sent_at: r.try_get("sent_at")?,
                held_on: r.try_get("held_on")?,
                reply_to: r.try_get("reply_to")?,
            });
        }
        Ok(messages)
    }

    /// The reports of open cases addressed to `org_id` that it has not acknowledged yet:
    /// (case, report id, kind, sent at), oldest first.
    pub async fn reports_to_acknowledge(
        &self,
        org_id: &str,
    ) -> Result<Vec<(String, String, String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT m.case_id, m.id, m.kind, m.sent_at FROM message_recipients r \
             JOIN messages m ON m.id = r.message_id JOIN cases c ON c.id = m.case_id \
             WHERE r.org_id = $1 AND r.acknowledged_at IS NULL AND m.kind <> 'message' \
             AND c.state NOT IN ('rejected', 'ended', 'withdrawn') ORDER BY m.sent_at, m.id",
        )
        .bind(org_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    r.try_get("case_id")?,
                    r.try_get("id")?,
                    r.try_get("kind")?,
                    r.try_get("sent_at")?,
                ))
            })
            .collect()
    }
}

/// Stores a new message with its addressees.
pub(super) async fn insert_message(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    m: &Message,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO messages (id, case_id, kind, sender, about, sent_at, held_on, reply_to) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(&m.id)
    .bind(&m.case)
    .bind(&m.kind)
    .bind(&m.sender)
    .bind(&m.about)
    .bind(&m.sent_at)
    .bind(m.held_on.as_deref())
    .bind(m.reply_to.as_deref())
    .execute(&mut **tx)
    .await?;
    for a in &m.to {
        sqlx::query("INSERT INTO message_recipients (message_id, org_id) VALUES ($1, $2)")
            .bind(&m.id)
            .bind(&a.org)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Records `org`'s acknowledgement of report `message` of `case_id` at `now`; refused if it
/// was acknowledged meanwhile.
pub(super) async fn acknowledge(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    (case_id, message, org): (&str, &str, &str),
    now: &str,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE message_recipients SET acknowledged_at = $1 WHERE message_id = $2 AND org_id = $3 \
         AND acknowledged_at IS NULL AND message_id IN (SELECT id FROM messages WHERE case_id = $4)",
    )
    .bind(now)
    .bind(message)
    .bind(org)
    .bind(case_id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::Refused(
            "the report was acknowledged meanwhile; reload it".into(),
        ));
    }
    Ok(())
}
