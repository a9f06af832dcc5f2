//! The access event and its canonical encoding (the Merkle leaf), the hash chain, and the
//! pseudonyms that key a client across cases.

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// Keys client identifiers into pseudonyms: HMAC-SHA-256 with a secret kept apart from the
/// database, so one client can be followed across cases without the identifier in the log.
pub struct Pseudonymiser(ring::hmac::Key);

impl std::fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymiser(<redacted>)")
    }
}

impl Pseudonymiser {
    /// A pseudonymiser with this secret (at least 32 bytes).
    pub fn new(secret: &[u8]) -> Option<Self> {
        (secret.len() >= 32).then(|| Self(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret)))
    }

    /// A random secret: pseudonyms then hold only for this process.
    #[expect(
        clippy::expect_used,
        reason = "demo and tests only: the system random source is there or nothing can run"
    )]
    pub fn ephemeral() -> Self {
        let mut secret = zeroize::Zeroizing::new([0u8; 32]);
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), secret.as_mut())
            .expect("system randomness");
        Self(ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            secret.as_ref(),
        ))
    }

    /// The pseudonym of a client identifier: `p-` and 32 hex digits. Spaces are ignored.
    pub fn pseudonym(&self, identifier: &[u8]) -> String {
        let normalised: zeroize::Zeroizing<Vec<u8>> = zeroize::Zeroizing::new(
            identifier
                .iter()
                .copied()
                .filter(|b| !b.is_ascii_whitespace())
                .collect(),
        );
        let tag = ring::hmac::sign(&self.0, &normalised);
        format!("p-{}", hex::encode(&tag.as_ref()[..16]))
    }
}

/// Whether `text` has the shape of a client pseudonym: `p-` and 32 lower-case hex digits.
pub fn is_pseudonym(text: &str) -> bool {
    text.strip_prefix("p-").is_some_and(|hex| {
        hex.len() == 32
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// One access event. Never holds a field value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Event {
    /// Position in the log, from 1.
    pub seq: i64,
    /// UTC time, RFC 3339 with milliseconds.
    pub time: String,
    /// `create`, `read`, `share`, `login`, `authenticate`, `search`, `export`, `verify`,
    /// `checkpoint`, `admin`.
    pub action: String,
    /// `allowed`, `denied` or `error`.
    pub outcome: String,
    /// Why it was denied or failed, or what the admin changed.
    pub reason: Option<String>,
    /// User id.
    pub user: Option<String>,
    /// The user's role.
    pub role: Option<String>,
    /// The user's organisation.
    pub org: Option<String>,
    /// The responsible user where someone acts on another's behalf.
    pub on_behalf_of: Option<String>,
    /// The process step of the agreement the access served.
    pub purpose: Option<String>,
    /// Case id.
    pub case: Option<String>,
    /// Client pseudonym (keyed hash of the client's identifier).
    pub client: Option<String>,
    /// Field ids touched.
    pub fields: Vec<String>,
    /// Categories touched.
    pub categories: Vec<String>,
    /// Organisations the fields were sealed for (shares).
    pub recipients: Vec<String>,
    /// Consent record that allowed it.
    pub consent: Option<String>,
    /// The policy rule (and version) that allowed it.
    pub policy_rule: Option<String>,
    /// Request id (W3C trace id when a `traceparent` was sent).
    pub request_id: Option<String>,
    /// Source address.
    pub source: Option<String>,
    /// User agent.
    pub user_agent: Option<String>,
}

/// Most ids an event lists per kind (fields, categories, recipients); a registration has 43
/// fields and a referral a handful of recipients.
pub const MAX_LISTED: usize = 200;

impl Event {
    /// A new event of `action` with `outcome`; the store assigns `seq` and `time`.
    pub fn new(action: &str, outcome: &str) -> Self {
        Self {
            action: action.to_owned(),
            outcome: outcome.to_owned(),
            ..Self::default()
        }
    }

    /// The event as the log keeps it: a denied event keeps only what the broker itself knows
    /// (no user agent, which the caller wrote), and no list is longer than [`MAX_LISTED`]
    /// (the rest counted in the reason), so a refused request cannot make the append-only log
    /// keep its text or grow without bound.
    pub fn as_kept(mut self) -> Self {
        if self.outcome == "denied" {
            self.user_agent = None;
        }
        let mut cut = 0;
        for list in [&mut self.fields, &mut self.categories, &mut self.recipients] {
            if list.len() > MAX_LISTED {
                cut += list.len() - MAX_LISTED;
                list.truncate(MAX_LISTED);
            }
        }
        if cut > 0 {
            let reason = self.reason.take().unwrap_or_default();
            self.reason = Some(
                format!("{reason} ({cut} more ids not listed)")
                    .trim()
                    .to_owned(),
            );
        }
        self
    }

    /// An administrative change made outside the API (`sluis org add` and the like).
    pub fn admin(what: String) -> Self {
        Self {
            user: Some(format!(
                "cli:{}",
                std::env::var("USER").unwrap_or_else(|_| "unknown".into())
            )),
            role: Some("admin".into()),
            reason: Some(what),
            ..Self::new("admin", "allowed")
        }
    }

    /// The canonical encoding (see the module documentation).
    #[expect(
        clippy::expect_used,
        reason = "an event is strings, numbers and lists of strings, which serde_json always writes"
    )]
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an event is plain data")
    }

    /// SHA-256(0x00 ‖ canonical encoding).
    #[expect(
        clippy::expect_used,
        reason = "an event always serialises (see `canonical`) and writing into a hash cannot fail"
    )]
    pub fn leaf_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update([0u8]);
        // The encoding is written straight into the hash: no buffer per event.
        serde_json::to_writer(HashWriter(&mut h), self).expect("an event is plain data");
        h.finalize().into()
    }
}

/// Feeds what is written to a SHA-256 state.
struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The chain hash after `leaf`: SHA-256(previous ‖ leaf).
pub fn chain_hash(previous: &[u8; 32], leaf: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(previous);
    h.update(leaf);
    h.finalize().into()
}

/// An event as stored, with the hashes written when it was appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// The event.
    pub event: Event,
    /// Leaf hash at append time, hex.
    pub leaf_hash: String,
    /// Chain hash at append time, hex.
    pub chain_hash: String,
    /// The event expired after its retention: only its place, time and hashes are left, and
    /// its leaf hash is taken as stored (the tree and the chain still check it).
    pub expired: bool,
}
