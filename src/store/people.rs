//! A person's own age recipient and the organisation's identity wrapped for them (the
//! password-manager way: the broker keeps wrappings it cannot open).

use std::fmt;

use sqlx::Row as _;

use crate::audit::Event;

use super::{Rows, Store, StoreError};

/// A person's key as the broker holds it.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonKey {
    /// The user.
    pub user_id: String,
    /// Their organisation.
    pub org_id: String,
    /// Their own age recipient (`age1…`), derived from their password in the client.
    pub recipient: String,
    /// The organisation's identity file age-encrypted to `recipient`, base64; none until a
    /// member who holds the identity (or the operator) wrapped it for them.
    pub wrapped: Option<String>,
    /// The user who wrapped it (`operator` for `sluis user add --identity`).
    pub wrapped_by: Option<String>,
}

impl fmt::Debug for PersonKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersonKey")
            .field("user_id", &self.user_id)
            .field("recipient", &self.recipient)
            .field("wrapped", &self.wrapped.as_ref().map(String::len))
            .finish_non_exhaustive()
    }
}

/// A member of an organisation, as its other members see them on the page that gives access.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Member {
    /// User id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Their own recipient, once they set their password.
    pub recipient: Option<String>,
    /// Whether they hold a wrapping of the organisation's identity.
    pub has_identity: bool,
}

/// One user as the admin sees them: never a secret.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Account {
    /// User id.
    pub id: String,
    /// Login name.
    pub username: String,
    /// Organisation.
    pub org_id: String,
    /// Role.
    pub role: String,
    /// A person (logs in with a password), not a system (API keys).
    pub person: bool,
    /// Whether they chose their own password (and so have their own key).
    pub own_key: bool,
    /// Whether they hold a wrapping of the organisation's identity.
    pub has_identity: bool,
    /// Disabled users cannot log in.
    pub disabled: bool,
    /// API keys not revoked.
    pub api_keys: i64,
}

impl Store {
    /// Every user with the state of their keys, by organisation and login name.
    pub async fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.id, u.username, u.org_id, u.role, u.password_hash, u.disabled, \
             k.recipient, k.wrapped, \
             (SELECT COUNT(*) FROM api_keys a WHERE a.user_id = u.id AND a.revoked = 0) AS keys \
             FROM users u LEFT JOIN person_keys k ON k.user_id = u.id ORDER BY u.org_id, u.username",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Account {
                    id: r.try_get("id")?,
                    username: r.try_get("username")?,
                    org_id: r.try_get("org_id")?,
                    role: r.try_get("role")?,
                    person: r.try_get::<Option<String>, _>("password_hash")?.is_some(),
                    own_key: r.try_get::<Option<String>, _>("recipient")?.is_some(),
                    has_identity: r.try_get::<Option<String>, _>("wrapped")?.is_some(),
                    disabled: r.try_get::<i64, _>("disabled")? != 0,
                    api_keys: r.try_get("keys")?,
                })
            })
            .collect()
    }

    /// The key of a person, if they have one.
    pub async fn person_key(&self, user_id: &str) -> Result<Option<PersonKey>, StoreError> {
        let row = sqlx::query(
            "SELECT user_id, org_id, recipient, wrapped, wrapped_by FROM person_keys \
             WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(PersonKey {
                user_id: r.try_get("user_id")?,
                org_id: r.try_get("org_id")?,
                recipient: r.try_get("recipient")?,
                wrapped: r.try_get("wrapped")?,
                wrapped_by: r.try_get("wrapped_by")?,
            })
        })
        .transpose()
    }

    /// A person's own password, in one transaction with `event`: the hash of its login
    /// credential and the own recipient that follows from it. A wrapping made for another
    /// recipient cannot be opened any more and goes; `key.wrapped` (made for the new recipient)
    /// takes its place.
    pub async fn set_own_password(
        &self,
        password_hash: &str,
        key: &PersonKey,
        event: Event,
    ) -> Result<(), StoreError> {
        let (_writing, mut tx, _) = self.write_recorded(event).await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(&key.user_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO person_keys (user_id, org_id, recipient, wrapped, wrapped_by, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (user_id) DO UPDATE SET \
               wrapped = CASE WHEN excluded.wrapped IS NOT NULL THEN excluded.wrapped \
                 WHEN person_keys.recipient = excluded.recipient THEN person_keys.wrapped END, \
               wrapped_by = CASE WHEN excluded.wrapped IS NOT NULL THEN excluded.wrapped_by \
                 WHEN person_keys.recipient = excluded.recipient THEN person_keys.wrapped_by END, \
               recipient = excluded.recipient, updated_at = excluded.updated_at",
        )
        .bind(&key.user_id)
        .bind(&key.org_id)
        .bind(&key.recipient)
        .bind(key.wrapped.as_deref())
        .bind(key.wrapped_by.as_deref())
        .bind(self.clock.now_text())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stores the organisation's identity wrapped for `user_id` (who has a recipient) by
    /// `by`; [`StoreError::NotFound`] if the person has no recipient yet.
    pub async fn set_wrapping(
        &self,
        user_id: &str,
        wrapped: &str,
        by: &str,
        event: Event,
    ) -> Result<(), StoreError> {
        let query = sqlx::query(
            "UPDATE person_keys SET wrapped = $1, wrapped_by = $2, updated_at = $3 \
             WHERE user_id = $4",
        )
        .bind(wrapped)
        .bind(by)
        .bind(self.clock.now_text())
        .bind(user_id);
        self.run_recorded(query, event, Rows::One).await
    }

    /// The users of an organisation with their keys' state, by login name.
    pub async fn members(&self, org_id: &str) -> Result<Vec<Member>, StoreError> {
        let rows = sqlx::query(
            "SELECT u.id, u.username, k.recipient, k.wrapped FROM users u \
             LEFT JOIN person_keys k ON k.user_id = u.id \
             WHERE u.org_id = $1 AND u.password_hash IS NOT NULL ORDER BY u.username",
        )
        .bind(org_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Member {
                    id: r.try_get("id")?,
                    username: r.try_get("username")?,
                    recipient: r.try_get("recipient")?,
                    has_identity: r.try_get::<Option<String>, _>("wrapped")?.is_some(),
                })
            })
            .collect()
    }
}
