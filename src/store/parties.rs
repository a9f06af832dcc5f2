//! Organisations, users and API keys.

use std::fmt;

use sqlx::Row as _;

use crate::audit::Event;
use crate::auth::NewApiKey;
use crate::cases::Organisation;

use super::{Rows, Store, StoreError, flag};

/// A user of an organisation.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// User id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Organisation id.
    pub org_id: String,
    /// Role from the policy.
    pub role: String,
    /// argon2id PHC string, for people.
    pub password_hash: Option<String>,
    /// Disabled users cannot log in.
    pub disabled: bool,
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("org_id", &self.org_id)
            .field("role", &self.role)
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("disabled", &self.disabled)
            .finish()
    }
}

/// A stored API key (digest only).
#[derive(Debug, Clone)]
pub struct ApiKey {
    /// Key id.
    pub id: String,
    /// Owner.
    pub user_id: String,
    /// SHA-256 of the secret, hex.
    pub digest: String,
    /// Revoked keys do not work.
    pub revoked: bool,
}

impl Store {
    // ---- organisations -------------------------------------------------------------------

    /// Enrols an organisation.
    pub async fn add_organisation(
        &self,
        id: &str,
        name: &str,
        role: &str,
        event: Event,
    ) -> Result<(), StoreError> {
        let query = sqlx::query(
            "INSERT INTO organisations (id, name, role, recipient, disabled, created_at) \
             VALUES ($1, $2, $3, NULL, 0, $4)",
        )
        .bind(id)
        .bind(name)
        .bind(role)
        .bind(self.clock.now_text());
        self.run_recorded(query, event, Rows::Any).await
    }

    /// Registers (or replaces) an organisation's age recipient.
    pub async fn set_recipient(
        &self,
        id: &str,
        recipient: &str,
        event: Event,
    ) -> Result<(), StoreError> {
        // The change's time marks which copies a rekey may replace (see `Store::rekey`); the
        // same recipient registered again is no change.
        let query = sqlx::query(
            "UPDATE organisations SET recipient = $1, \
             recipient_set_at = CASE WHEN recipient = $1 THEN recipient_set_at ELSE $3 END \
             WHERE id = $2",
        )
        .bind(recipient)
        .bind(id)
        .bind(self.clock.now_text());
        self.run_recorded(query, event, Rows::One).await
    }

    /// Sets (or with `None` clears) the address an organisation is nudged at by e-mail.
    pub async fn set_nudge_address(
        &self,
        id: &str,
        address: Option<&str>,
        event: Event,
    ) -> Result<(), StoreError> {
        let query = sqlx::query("UPDATE organisations SET nudge_email = $1 WHERE id = $2")
            .bind(address)
            .bind(id);
        self.run_recorded(query, event, Rows::One).await
    }

    /// The enabled organisations with a nudge address and a notification not read that came
    /// after their last nudge: (organisation id, address).
    pub async fn nudges_due(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT o.id, o.nudge_email FROM organisations o \
             WHERE o.nudge_email IS NOT NULL AND o.disabled = 0 AND EXISTS ( \
               SELECT 1 FROM notifications n WHERE n.org_id = o.id AND n.read_at IS NULL \
               AND n.created_at > COALESCE(o.nudged_at, '')) ORDER BY o.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("nudge_email")?)))
            .collect()
    }

    /// Records that `id` was nudged for what came up to `at` (taken before `nudges_due`).
    pub async fn nudged(&self, id: &str, at: &str) -> Result<(), StoreError> {
        let _writing = self.embedded_turn().await;
        sqlx::query("UPDATE organisations SET nudged_at = $1 WHERE id = $2")
            .bind(at)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Disables or re-enables an organisation.
    pub async fn set_organisation_disabled(
        &self,
        id: &str,
        disabled: bool,
        event: Event,
    ) -> Result<(), StoreError> {
        let query = sqlx::query("UPDATE organisations SET disabled = $1 WHERE id = $2")
            .bind(flag(disabled))
            .bind(id);
        self.run_recorded(query, event, Rows::One).await
    }

    /// One organisation.
    pub async fn organisation(&self, id: &str) -> Result<Option<Organisation>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, role, recipient, disabled FROM organisations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| org_from_row(&r)).transpose()
    }

    /// All organisations, by id.
    pub async fn organisations(&self) -> Result<Vec<Organisation>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, role, recipient, disabled FROM organisations ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(org_from_row).collect()
    }

    // ---- users and keys ------------------------------------------------------------------

    /// Adds a user.
    pub async fn add_user(&self, user: &User, event: Event) -> Result<(), StoreError> {
        let query = sqlx::query(
            "INSERT INTO users (id, username, org_id, role, password_hash, disabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&user.id)
        .bind(&user.username)
        .bind(&user.org_id)
        .bind(&user.role)
        .bind(user.password_hash.as_deref())
        .bind(flag(user.disabled))
        .bind(self.clock.now_text());
        self.run_recorded(query, event, Rows::Any).await
    }

    /// A user by login name.
    pub async fn user_by_name(&self, username: &str) -> Result<Option<User>, StoreError> {
        self.user_where("username", username).await
    }

    /// Every user's login name by user id (the access log keeps ids; its readers want names).
    pub async fn user_names(
        &self,
    ) -> Result<std::collections::BTreeMap<String, String>, StoreError> {
        let rows = sqlx::query("SELECT id, username FROM users")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("id")?, r.try_get("username")?)))
            .collect()
    }

    /// A user by id.
    pub async fn user_by_id(&self, id: &str) -> Result<Option<User>, StoreError> {
        self.user_where("id", id).await
    }

    pub(super) async fn user_where(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<User>, StoreError> {
        let sql = format!(
            "SELECT id, username, org_id, role, password_hash, disabled FROM users WHERE {column} = $1"
        );
        let row = sqlx::query(&sql)
            .bind(value)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(User {
                id: r.try_get("id")?,
                username: r.try_get("username")?,
                org_id: r.try_get("org_id")?,
                role: r.try_get("role")?,
                password_hash: r.try_get("password_hash")?,
                disabled: r.try_get::<i64, _>("disabled")? != 0,
            })
        })
        .transpose()
    }

    /// Disables or re-enables a user.
    pub async fn set_user_disabled(
        &self,
        username: &str,
        disabled: bool,
        event: Event,
    ) -> Result<(), StoreError> {
        let query = sqlx::query("UPDATE users SET disabled = $1 WHERE username = $2")
            .bind(flag(disabled))
            .bind(username);
        self.run_recorded(query, event, Rows::One).await
    }

    /// Deletes a user, its API keys and its key (with the wrapping of the organisation's
    /// identity); its tokens stop working at once.
    pub async fn delete_user(&self, username: &str, event: Event) -> Result<(), StoreError> {
        let (_writing, mut tx, _) = self.write_recorded(event).await?;
        for table in ["api_keys", "person_keys"] {
            sqlx::query(&format!(
                "DELETE FROM {table} WHERE user_id IN (SELECT id FROM users WHERE username = $1)"
            ))
            .bind(username)
            .execute(&mut *tx)
            .await?;
        }
        let done = sqlx::query("DELETE FROM users WHERE username = $1")
            .bind(username)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        tx.commit().await?;
        Ok(())
    }

    /// Stores the digest of a new API key of `user`, with the admin event that says so.
    pub async fn add_api_key(&self, user: &User, key: &NewApiKey) -> Result<(), StoreError> {
        let query = sqlx::query(
            "INSERT INTO api_keys (id, user_id, digest, revoked, created_at) VALUES ($1, $2, $3, 0, $4)",
        )
        .bind(&key.id)
        .bind(&user.id)
        .bind(&key.digest)
        .bind(self.clock.now_text());
        let event = Event::admin(format!("api key {} for {}", key.id, user.username));
        self.run_recorded(query, event, Rows::Any).await
    }

    /// An API key by id.
    pub async fn api_key(&self, id: &str) -> Result<Option<ApiKey>, StoreError> {
        let row = sqlx::query("SELECT id, user_id, digest, revoked FROM api_keys WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            Ok(ApiKey {
                id: r.try_get("id")?,
                user_id: r.try_get("user_id")?,
                digest: r.try_get("digest")?,
                revoked: r.try_get::<i64, _>("revoked")? != 0,
            })
        })
        .transpose()
    }
}

pub(super) fn org_from_row(r: &sqlx::any::AnyRow) -> Result<Organisation, StoreError> {
    Ok(Organisation {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        role: r.try_get("role")?,
        recipient: r.try_get("recipient")?,
        disabled: r.try_get::<i64, _>("disabled")? != 0,
    })
}
