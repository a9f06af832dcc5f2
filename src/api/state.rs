//! What every handler can reach: the store, the policy, the broker's keys and limits.

use std::sync::Arc;

use crate::audit::{Checkpoint, Pseudonymiser, sign_checkpoint};
use crate::auth::{LogSigner, LoginLimits, SigningKey};
use crate::config::DEFAULT_LOG_ORIGIN;
use crate::policy::Policy;
use crate::store::{Store, StoreError};

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The validated policy.
    pub policy: Arc<Policy>,
    /// The broker's Ed25519 key: signs tokens and access log checkpoints.
    pub signing: Arc<SigningKey>,
    /// Keys rotated out: tokens and checkpoints they signed still verify.
    pub previous_keys: Arc<Vec<SigningKey>>,
    /// Keys client identifiers into pseudonyms.
    pub pseudonyms: Arc<Pseudonymiser>,
    /// The access log's origin (first line of its checkpoints, name of its key).
    pub log_origin: Arc<str>,
    /// Limits on failed logins.
    pub login_limits: LoginLimits,
    /// Request rate limit per organisation (per address before login).
    pub rate: RateLimit,
    /// Requests with a bad bearer token, per address.
    pub token_failures: Arc<TokenFailures>,
    /// The bearer token `/metrics` asks for; without one it answers the machine itself only.
    pub metrics_token: Option<Arc<crate::auth::Secret>>,
}

/// Requests whose bearer token does not verify, counted per peer address: past the budget
/// such a request is refused (429) before anything is written, so forged tokens can neither
/// fill the access log nor slow the database. Only addresses of real connections are keys.
pub struct TokenFailures(governor::DefaultKeyedRateLimiter<std::net::IpAddr>);

impl TokenFailures {
    /// Failures allowed per address at once, refilled at one every two seconds.
    pub const BURST: u32 = 30;

    /// An empty count.
    pub fn new() -> Self {
        let burst = std::num::NonZeroU32::new(Self::BURST).unwrap_or(std::num::NonZeroU32::MIN);
        let quota = governor::Quota::with_period(std::time::Duration::from_secs(2)).map_or_else(
            || governor::Quota::per_second(burst),
            |q| q.allow_burst(burst),
        );
        Self(governor::RateLimiter::keyed(quota))
    }

    /// Counts a failure from `source`; whether it is still within the budget.
    pub fn within_budget(&self, source: std::net::IpAddr) -> bool {
        if self.0.len() > 100_000 {
            self.0.retain_recent();
        }
        self.0.check_key(&source).is_ok()
    }
}

impl Default for TokenFailures {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for TokenFailures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenFailures({} addresses)", self.0.len())
    }
}

/// A token bucket per organisation: `burst` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests per second, sustained.
    pub per_second: u64,
    /// Requests allowed at once.
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self {
            per_second: 50,
            burst: 120,
        }
    }
}

impl AppState {
    /// State with a fresh signing key and pseudonym secret (demo and tests).
    pub fn ephemeral(store: Store, policy: Arc<Policy>) -> Self {
        Self {
            store,
            policy,
            signing: Arc::new(SigningKey::ephemeral()),
            previous_keys: Arc::new(Vec::new()),
            pseudonyms: Arc::new(Pseudonymiser::ephemeral()),
            log_origin: Arc::from(DEFAULT_LOG_ORIGIN),
            login_limits: LoginLimits::default(),
            rate: RateLimit::default(),
            token_failures: Arc::default(),
            metrics_token: None,
        }
    }

    /// Verifies an access token under the current key or a key rotated out.
    pub fn verify_token(&self, token: &str) -> Result<crate::auth::Claims, crate::auth::AuthError> {
        self.signing.verify(token).or_else(|e| {
            self.previous_keys
                .iter()
                .find_map(|k| k.verify(token).ok())
                .ok_or(e)
        })
    }

    /// The access log's verifier keys: the current one first, then those rotated out.
    pub fn verifier_keys(&self) -> Vec<crate::audit::VerifierKey> {
        std::iter::once(&*self.signing)
            .chain(self.previous_keys.iter())
            .map(|k| k.verifier_key(&self.log_origin))
            .collect()
    }

    /// Signs and keeps a checkpoint of the whole log as it is now.
    pub async fn checkpoint(&self) -> Result<Checkpoint, StoreError> {
        let size = self.store.audit_size().await?;
        let root = self.store.tree_root(size).await?;
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let cp = sign_checkpoint(&self.log_signer(), size, &root, now);
        self.store.add_checkpoint(&cp).await?;
        Ok(cp)
    }

    /// The broker's key as the signer of the log's notes (checkpoints, deletion receipts).
    pub fn log_signer(&self) -> LogSigner<'_> {
        LogSigner {
            key: &self.signing,
            origin: &self.log_origin,
        }
    }

    /// Purges what is past its retention (`Store::purge`), signing each receipt with the
    /// broker's key.
    pub async fn purge(&self) -> Result<Vec<crate::store::PurgedCase>, StoreError> {
        self.store.purge(&self.policy, &self.log_signer()).await
    }
}
