//! The access log (toegangslog) for the AVG and NEN 7513: events, their canonical encoding,
//! the hash chain and RFC 9162 Merkle tree over them, signed checkpoints in the C2SP
//! signed-note format, proofs, and verification. Pure: the store persists, this module decides.
//!
//! **Canonical encoding of an event** (the Merkle leaf): the event as compact JSON (no
//! whitespace), keys in exactly this order: `seq, time, action, outcome, reason, user, role,
//! org, on_behalf_of, purpose, case, client, fields, categories, recipients, consent,
//! policy_rule, request_id, source, user_agent`; absent values are `null`, lists are arrays of
//! strings. Leaf hash = SHA-256(0x00 ‖ encoding), node = SHA-256(0x01 ‖ left ‖ right)
//! (RFC 9162 §2.1.1). Each event also carries a chain hash = SHA-256(previous chain ‖ leaf
//! hash), starting from 32 zero bytes, so the first changed event can be named.

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use rayon::prelude::*;
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

impl Event {
    /// A new event of `action` with `outcome`; the store assigns `seq` and `time`.
    pub fn new(action: &str, outcome: &str) -> Self {
        Self {
            action: action.to_owned(),
            outcome: outcome.to_owned(),
            ..Self::default()
        }
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
}

/// The RFC 9162 tree over events in log order.
pub struct Tree(MemoryBackedTree<Sha256, Vec<u8>>);

impl std::fmt::Debug for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tree({} leaves)", self.0.len())
    }
}

impl Tree {
    /// The tree of these events' canonical encodings.
    pub fn of<'a>(events: impl IntoIterator<Item = &'a Event>) -> Self {
        let mut t = MemoryBackedTree::new();
        for e in events {
            t.push(e.canonical());
        }
        Self(t)
    }

    /// Number of leaves.
    pub fn size(&self) -> u64 {
        self.0.len()
    }

    /// Root hash (SHA-256 of the empty string for an empty tree, as RFC 9162 defines).
    pub fn root(&self) -> [u8; 32] {
        if self.0.is_empty() {
            return Sha256::digest([]).into();
        }
        let root = self.0.root();
        let mut out = [0u8; 32];
        out.copy_from_slice(root.as_bytes());
        out
    }

    /// Inclusion proof of the event with sequence number `seq` (1-based) in this tree.
    pub fn inclusion_proof(&self, seq: u64) -> Option<Vec<[u8; 32]>> {
        if seq == 0 || seq > self.size() {
            return None;
        }
        let proof = self.0.prove_inclusion(usize::try_from(seq - 1).ok()?);
        Some(split_hashes(proof.as_bytes()))
    }

    /// Consistency proof from the first `old_size` leaves to this tree.
    pub fn consistency_proof(&self, old_size: u64) -> Option<Vec<[u8; 32]>> {
        if old_size == 0 || old_size > self.size() {
            return None;
        }
        if old_size == self.size() {
            return Some(Vec::new());
        }
        let proof = self
            .0
            .prove_consistency(usize::try_from(self.size() - old_size).ok()?);
        Some(split_hashes(proof.as_bytes()))
    }
}

fn split_hashes(bytes: &[u8]) -> Vec<[u8; 32]> {
    bytes
        .chunks(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect()
}

fn root_hash(root: &[u8; 32], size: u64) -> RootHash<Sha256> {
    let mut digest = ct_merkle::digest::Output::<Sha256>::default();
    digest.copy_from_slice(root);
    RootHash::new(digest, size)
}

/// Checks that `event` is leaf `seq` of the tree of `size` leaves with `root`.
pub fn verify_inclusion(event: &Event, size: u64, root: &[u8; 32], proof: &[[u8; 32]]) -> bool {
    let Ok(seq) = u64::try_from(event.seq) else {
        return false;
    };
    if seq == 0 {
        return false;
    }
    let bytes: Vec<u8> = proof.iter().flatten().copied().collect();
    let Ok(proof) = InclusionProof::<Sha256>::try_from_bytes(bytes) else {
        return false;
    };
    root_hash(root, size)
        .verify_inclusion(&event.canonical(), seq - 1, &proof)
        .is_ok()
}

/// Checks that the tree (`old_size`, `old_root`) is a prefix of (`new_size`, `new_root`).
pub fn verify_consistency(
    old_size: u64,
    old_root: &[u8; 32],
    new_size: u64,
    new_root: &[u8; 32],
    proof: &[[u8; 32]],
) -> bool {
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    let bytes: Vec<u8> = proof.iter().flatten().copied().collect();
    let Ok(proof) = ConsistencyProof::<Sha256>::try_from_bytes(bytes) else {
        return false;
    };
    root_hash(new_root, new_size)
        .verify_consistency(&root_hash(old_root, old_size), &proof)
        .is_ok()
}

// ---- checkpoints (C2SP signed note) ---------------------------------------------------------

/// A signed checkpoint: the log's size and root at a moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The log's origin line.
    pub origin: String,
    /// Number of events covered.
    pub size: u64,
    /// Root hash.
    #[serde(with = "hex_array")]
    pub root: [u8; 32],
    /// Unix time of signing.
    pub time: i64,
    /// The whole signed note text.
    pub note: String,
}

mod hex_array {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let bytes = hex::decode(text).map_err(serde::de::Error::custom)?;
        bytes
            .try_into()
            .map_err(|_| serde::de::Error::custom("a hash has 32 bytes"))
    }
}

/// Something that signs checkpoints with Ed25519.
pub trait NoteSigner {
    /// The key's name (the log origin).
    fn name(&self) -> &str;
    /// The raw 32-byte public key.
    fn public_key(&self) -> [u8; 32];
    /// Ed25519 signature of `message`.
    fn sign(&self, message: &[u8]) -> [u8; 64];
}

/// A note verifier key: the name and public key of a checkpoint signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierKey {
    /// Key name (the log origin).
    pub name: String,
    /// Raw Ed25519 public key.
    pub public_key: [u8; 32],
}

impl VerifierKey {
    /// The 4-byte key id: SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)[..4].
    pub fn key_id(&self) -> [u8; 4] {
        let mut h = Sha256::new();
        h.update(self.name.as_bytes());
        h.update(b"\n");
        h.update([0x01]);
        h.update(self.public_key);
        let d = h.finalize();
        [d[0], d[1], d[2], d[3]]
    }

    /// The C2SP vkey text: `<name>+<hex key id>+<base64(0x01 ‖ public key)>`.
    pub fn to_vkey(&self) -> String {
        let mut body = vec![0x01];
        body.extend_from_slice(&self.public_key);
        format!(
            "{}+{}+{}",
            self.name,
            hex::encode(self.key_id()),
            BASE64.encode(body)
        )
    }

    /// Parses a vkey text.
    pub fn from_vkey(text: &str) -> Option<Self> {
        // The name holds no `+`; the base64 key data may.
        let mut parts = text.trim().splitn(3, '+');
        let name = parts.next()?.to_owned();
        let id = hex::decode(parts.next()?).ok()?;
        let body = BASE64.decode(parts.next()?).ok()?;
        if body.len() != 33 || body[0] != 0x01 {
            return None;
        }
        let mut public_key = [0u8; 32];
        public_key.copy_from_slice(&body[1..]);
        let key = Self { name, public_key };
        (key.key_id().as_slice() == id.as_slice()).then_some(key)
    }
}

/// Writes and signs a checkpoint note:
/// `<origin>\n<size>\n<base64 root>\ntime <unix>\n\n— <name> <base64(key id ‖ signature)>\n`.
pub fn sign_checkpoint(
    signer: &dyn NoteSigner,
    size: u64,
    root: &[u8; 32],
    time: i64,
) -> Checkpoint {
    let body = format!(
        "{}\n{size}\n{}\ntime {time}\n",
        signer.name(),
        BASE64.encode(root)
    );
    let key = VerifierKey {
        name: signer.name().to_owned(),
        public_key: signer.public_key(),
    };
    let mut sig = key.key_id().to_vec();
    sig.extend_from_slice(&signer.sign(body.as_bytes()));
    let note = format!(
        "{body}\n\u{2014} {} {}\n",
        signer.name(),
        BASE64.encode(sig)
    );
    Checkpoint {
        origin: signer.name().to_owned(),
        size,
        root: *root,
        time,
        note,
    }
}

/// Why a checkpoint note was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// Not in the signed-note checkpoint format.
    #[error("not a checkpoint note: {0}")]
    Malformed(&'static str),
    /// No signature by this key, or the signature does not verify.
    #[error("signature invalid")]
    BadSignature,
}

/// Parses a checkpoint note signed by any of `keys` (the current key and those rotated out).
pub fn open_checkpoint_any(note: &str, keys: &[VerifierKey]) -> Result<Checkpoint, NoteError> {
    let mut last = NoteError::BadSignature;
    for key in keys {
        match open_checkpoint(note, key) {
            Ok(cp) => return Ok(cp),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Parses a checkpoint note and verifies its signature by `key`.
pub fn open_checkpoint(note: &str, key: &VerifierKey) -> Result<Checkpoint, NoteError> {
    let (body, sigs) = note
        .split_once("\n\n")
        .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
    let body = format!("{body}\n");
    let mut lines = body.lines();
    let origin = lines
        .next()
        .ok_or(NoteError::Malformed("no origin"))?
        .to_owned();
    let size: u64 = lines
        .next()
        .and_then(|l| l.parse().ok())
        .ok_or(NoteError::Malformed("no tree size"))?;
    let root: [u8; 32] = lines
        .next()
        .and_then(|l| BASE64.decode(l).ok())
        .and_then(|b| b.try_into().ok())
        .ok_or(NoteError::Malformed("no root hash"))?;
    let time: i64 = lines
        .next()
        .and_then(|l| l.strip_prefix("time "))
        .and_then(|t| t.parse().ok())
        .ok_or(NoteError::Malformed("no time line"))?;
    let prefix = format!("\u{2014} {} ", key.name);
    let verified = sigs
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .any(|sig| {
            BASE64.decode(sig).is_ok_and(|raw| {
                raw.len() == 68
                    && raw[..4] == key.key_id()
                    && ring::signature::UnparsedPublicKey::new(
                        &ring::signature::ED25519,
                        key.public_key,
                    )
                    .verify(body.as_bytes(), &raw[4..])
                    .is_ok()
            })
        });
    if !verified || origin != key.name {
        return Err(NoteError::BadSignature);
    }
    Ok(Checkpoint {
        origin,
        size,
        root,
        time,
        note: note.to_owned(),
    })
}

// ---- verification ----------------------------------------------------------------------------

/// What is wrong with the log, at the first place it shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Finding {
    /// A sequence number is absent.
    #[error("seq {seq}: missing")]
    Missing {
        /// The first absent sequence number.
        seq: i64,
    },
    /// The event's content no longer matches the hash written when it was appended.
    #[error("seq {seq}: changed (its content no longer matches its hash)")]
    Changed {
        /// The event.
        seq: i64,
    },
    /// The event is out of order (its time is before its predecessor's, or the chain says
    /// another event belongs here).
    #[error("seq {seq}: reordered")]
    Reordered {
        /// The event.
        seq: i64,
    },
    /// The log is shorter than a signed checkpoint.
    #[error(
        "seq {seq}: missing (truncated: a checkpoint covers {size} events, the log has {have})"
    )]
    Truncated {
        /// First missing sequence number.
        seq: i64,
        /// The checkpoint's size.
        size: u64,
        /// Events present.
        have: u64,
    },
    /// A checkpoint's signature does not verify.
    #[error("checkpoint of size {size}: signature invalid")]
    BadSignature {
        /// The checkpoint's size.
        size: u64,
    },
    /// The log's root at a checkpoint's size differs from the signed one: an event up to it was
    /// rewritten together with its hashes.
    #[error("seq {from}..={to}: changed (the log no longer matches the checkpoint of size {to})")]
    CheckpointMismatch {
        /// First sequence number the mismatch can be in.
        from: i64,
        /// Last sequence number (the checkpoint's size).
        to: i64,
    },
}

/// The result of verifying the log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Events read.
    pub events: u64,
    /// Checkpoints checked.
    pub checkpoints: u64,
    /// The root over all events, hex.
    pub root: String,
    /// The first problem, if any.
    pub first_problem: Option<Finding>,
    /// Whether the log verified.
    pub ok: bool,
}

/// Whether the event, unchanged but for its sequence number, is the one hashed for another
/// position: it was moved, not altered. Only run once a mismatch is found.
fn belongs_elsewhere(stored: &StoredEvent, len: usize) -> bool {
    (1..=len as i64)
        .filter(|&seq| seq != stored.event.seq)
        .any(|seq| {
            let moved = Event {
                seq,
                ..stored.event.clone()
            };
            hex::encode(moved.leaf_hash()) == stored.leaf_hash
        })
}

/// Verifies the stored log in one pass: sequence, each event's hashes, order, and every
/// checkpoint's signature and root. Stops at the first problem.
/// `keys`: the log's verifier keys, current and previous (a checkpoint verifies under any).
pub fn verify(
    events: &[StoredEvent],
    checkpoints: &[String],
    keys: &[VerifierKey],
) -> VerifyReport {
    verify_in_blocks(events, checkpoints, keys, VERIFY_BLOCK)
}

/// `verify`, hashing `block` events at a time on all cores (`block` a power of two).
fn verify_in_blocks(
    events: &[StoredEvent],
    checkpoints: &[String],
    keys: &[VerifierKey],
    block: usize,
) -> VerifyReport {
    let report = |problem: Option<Finding>, checked: u64, root: [u8; 32]| VerifyReport {
        events: events.len() as u64,
        checkpoints: checked,
        root: hex::encode(root),
        ok: problem.is_none(),
        first_problem: problem,
    };
    let mut signed = Vec::with_capacity(checkpoints.len());
    for note in checkpoints {
        match open_checkpoint_any(note, keys) {
            Ok(cp) => signed.push(cp),
            Err(_) => {
                let size = note
                    .lines()
                    .nth(1)
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0);
                return report(
                    Some(Finding::BadSignature { size }),
                    signed.len() as u64 + 1,
                    [0; 32],
                );
            }
        }
    }
    signed.sort_by_key(|cp| cp.size);
    let mut pending = signed.iter().filter(|cp| cp.size > 0).peekable();
    let mut tree = RootBuilder::default();
    let mut previous = [0u8; 32];
    let mut previous_time = "";
    let mut last_good = 0i64;
    let mut problem = None;
    // Leaf hashes (encoding and hashing, most of the work) on all cores, a block at a time,
    // each with whether it is the stored one; and, for a whole block that no checkpoint ends
    // inside, its subtree's root too. The chain, which depends on order, in one pass.
    let mut leaves: Vec<([u8; 32], bool)> = Vec::new();
    let mut block_root = None;
    for (i, stored) in events.iter().enumerate() {
        if i % block == 0 {
            let end = (i + block).min(events.len());
            leaves = events[i..end]
                .par_iter()
                .map(|s| {
                    let leaf = s.event.leaf_hash();
                    (leaf, hex_is(&leaf, &s.leaf_hash))
                })
                .collect();
            let whole = end - i == block
                && pending
                    .peek()
                    .is_none_or(|cp| cp.size >= (i + block) as u64);
            block_root = whole.then(|| perfect_root(&leaves));
        }
        let (leaf, leaf_matches) = leaves[i % block];
        let e = &stored.event;
        let expected_seq = i as i64 + 1;
        if e.seq != expected_seq {
            problem = Some(if e.seq > expected_seq {
                Finding::Missing { seq: expected_seq }
            } else {
                Finding::Reordered { seq: e.seq }
            });
            break;
        }
        let chain = chain_hash(&previous, &leaf);
        if !leaf_matches {
            problem = Some(if belongs_elsewhere(stored, events.len()) {
                Finding::Reordered { seq: e.seq }
            } else {
                Finding::Changed { seq: e.seq }
            });
            break;
        }
        if !hex_is(&chain, &stored.chain_hash) || e.time.as_str() < previous_time {
            problem = Some(Finding::Reordered { seq: e.seq });
            break;
        }
        previous = chain;
        previous_time = &e.time;
        match block_root {
            None => tree.push(leaf),
            Some(root) if i % block == block - 1 => tree.push_subtree(block as u64, root),
            Some(_) => {}
        }
        while let Some(cp) = pending.next_if(|cp| cp.size == tree.len()) {
            if tree.root().as_slice() != cp.root.as_slice() {
                problem = Some(Finding::CheckpointMismatch {
                    from: last_good + 1,
                    to: cp.size as i64,
                });
                break;
            }
            last_good = cp.size as i64;
        }
        if problem.is_some() {
            break;
        }
    }
    if problem.is_none() {
        if let Some(cp) = pending.next() {
            problem = Some(Finding::Truncated {
                seq: events.len() as i64 + 1,
                size: cp.size,
                have: events.len() as u64,
            });
        }
    }
    report(problem, signed.len() as u64, tree.root())
}

/// Events whose leaf hashes `verify` computes together, in parallel.
const VERIFY_BLOCK: usize = 65_536;

/// The root of the perfect subtree over `leaves` (a power of two of them), halves in parallel.
fn perfect_root(leaves: &[([u8; 32], bool)]) -> [u8; 32] {
    if leaves.len() == 1 {
        return leaves[0].0;
    }
    let (left, right) = leaves.split_at(leaves.len() / 2);
    let (l, r) = if leaves.len() >= 1024 {
        rayon::join(|| perfect_root(left), || perfect_root(right))
    } else {
        (perfect_root(left), perfect_root(right))
    };
    node_hash(&l, &r)
}

/// Whether `text` is the lower-case hex of `hash` (without allocating).
fn hex_is(hash: &[u8; 32], text: &str) -> bool {
    let mut buf = [0u8; 64];
    hex::encode_to_slice(hash, &mut buf).is_ok() && buf.as_slice() == text.as_bytes()
}

/// The RFC 9162 root over leaf hashes, kept incrementally as a stack of perfect subtrees
/// (no leaf is stored): for verifying a whole log in one pass.
#[derive(Debug, Default)]
struct RootBuilder {
    /// (leaves, hash) of perfect subtrees, largest first.
    stack: Vec<(u64, [u8; 32])>,
    size: u64,
}

impl RootBuilder {
    fn push(&mut self, leaf: [u8; 32]) {
        self.push_subtree(1, leaf);
    }

    /// Appends a perfect subtree of `leaves` leaves; the tree so far must be a multiple of it.
    fn push_subtree(&mut self, leaves: u64, hash: [u8; 32]) {
        debug_assert_eq!(self.size % leaves, 0);
        let mut node = (leaves, hash);
        while let Some(&(size, hash)) = self.stack.last() {
            if size != node.0 {
                break;
            }
            self.stack.pop();
            node = (size * 2, node_hash(&hash, &node.1));
        }
        self.stack.push(node);
        self.size += leaves;
    }

    fn len(&self) -> u64 {
        self.size
    }

    /// MTH(D[0:n]) = H(0x01 ‖ MTH(D[0:k]) ‖ MTH(D[k:n])), k the largest power of two below n:
    /// the subtrees folded from the right. SHA-256 of the empty string for no leaves.
    fn root(&self) -> [u8; 32] {
        let mut subtrees = self.stack.iter().rev();
        let Some(&(_, mut acc)) = subtrees.next() else {
            return Sha256::digest([]).into();
        };
        for (_, left) in subtrees {
            acc = node_hash(left, &acc);
        }
        acc
    }
}

fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

// ---- the stored tree -----------------------------------------------------------------------

/// A perfect subtree of the log's tree: the `2^level` leaves from leaf `index · 2^level`
/// (0-based). Level 0 is one leaf (its hash is the event's leaf hash).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Node {
    /// Height above the leaves.
    pub level: u32,
    /// Position among the subtrees of this level.
    pub index: u64,
}

impl Node {
    /// Its two halves.
    pub fn children(self) -> (Node, Node) {
        let child = |index| Node {
            level: self.level - 1,
            index,
        };
        (child(self.index * 2), child(self.index * 2 + 1))
    }
}

/// The subtrees of two or more leaves that appending leaf `leaf` (0-based) completes, lowest
/// first: each one's hash is `node_hash` of its children's.
pub fn completed_by(leaf: u64) -> Vec<Node> {
    let mut out = Vec::new();
    let mut node = Node {
        level: 0,
        index: leaf,
    };
    while node.index % 2 == 1 {
        node = Node {
            level: node.level + 1,
            index: node.index / 2,
        };
        out.push(node);
    }
    out
}

/// The perfect subtrees that make up the leaves `start..end`, largest first. `start` must be a
/// multiple of the largest power of two not above `end - start`, as every range in RFC 9162's
/// recursions is.
pub fn subtrees(start: u64, end: u64) -> Vec<Node> {
    let mut out = Vec::new();
    let mut at = start;
    let len = end.saturating_sub(start);
    for level in (0..64u32).rev() {
        let width = 1u64 << level;
        if len & width != 0 {
            debug_assert_eq!(at % width, 0, "unaligned range {start}..{end}");
            out.push(Node {
                level,
                index: at >> level,
            });
            at += width;
        }
    }
    out
}

/// MTH of a range from its perfect subtrees' hashes, largest first (folded from the right).
pub fn fold_subtrees(hashes: &[[u8; 32]]) -> [u8; 32] {
    let mut rev = hashes.iter().rev();
    let Some(&last) = rev.next() else {
        return Sha256::digest([]).into();
    };
    rev.fold(last, |acc, left| node_hash(left, &acc))
}

/// MTH of the leaves `range.0..range.1` from stored subtree hashes, if all are there.
pub fn range_hash(range: (u64, u64), nodes: &HashMap<Node, [u8; 32]>) -> Option<[u8; 32]> {
    let hashes: Option<Vec<[u8; 32]>> = subtrees(range.0, range.1)
        .iter()
        .map(|n| nodes.get(n).copied())
        .collect();
    Some(fold_subtrees(&hashes?))
}

/// The hash of a perfect subtree from its children's.
pub fn parent_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    node_hash(left, right)
}

fn largest_power_below(n: u64) -> u64 {
    debug_assert!(n > 1);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The leaf ranges whose MTHs are the inclusion proof of leaf `m` (0-based) in the tree of
/// `n` leaves, in proof order (RFC 9162 §2.1.3.1). Empty if `m >= n`.
pub fn inclusion_ranges(m: u64, n: u64) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    if m >= n {
        return out;
    }
    let (mut start, mut end) = (0, n);
    while end - start > 1 {
        let k = largest_power_below(end - start);
        if m < start + k {
            out.push((start + k, end));
            end = start + k;
        } else {
            out.push((start, start + k));
            start += k;
        }
    }
    out.reverse();
    out
}

/// The leaf ranges whose MTHs are the consistency proof from the first `m` leaves to `n`
/// (RFC 9162 §2.1.4.1), in proof order. Empty if `m == n`; `None` unless `0 < m <= n`.
pub fn consistency_ranges(m: u64, n: u64) -> Option<Vec<(u64, u64)>> {
    if m == 0 || m > n {
        return None;
    }
    let mut out = Vec::new();
    // SUBPROOF(m, D[start:end], whole): `m` counts from `start`; `whole` while the range
    // is the first m leaves' own tree, whose root the verifier already has.
    let (mut start, mut end, mut m, mut whole) = (0, n, m, true);
    loop {
        if m == end - start {
            if !whole {
                out.push((start, end));
            }
            break;
        }
        let k = largest_power_below(end - start);
        if m <= k {
            out.push((start + k, end));
            end = start + k;
        } else {
            out.push((start, start + k));
            start += k;
            m -= k;
            whole = false;
        }
    }
    out.reverse();
    Some(out)
}

// ---- signals -------------------------------------------------------------------------------

/// A key (user, address, client) with a count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Count {
    /// What was counted.
    pub key: String,
    /// How often.
    pub count: u64,
}

/// A user who opened many distinct clients on one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusyDay {
    /// User id.
    pub user: String,
    /// Organisation.
    pub org: String,
    /// Day (Dutch local date).
    pub day: String,
    /// Distinct clients opened.
    pub clients: u64,
}

/// Things in the log worth a privacy officer's look.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signals {
    /// Denied attempts per user (unknown users under `-`), most first.
    pub denied_by_user: Vec<Count>,
    /// Denied attempts per source address, most first.
    pub denied_by_source: Vec<Count>,
    /// Users who opened more distinct clients in a day than the policy's threshold.
    pub many_clients_in_a_day: Vec<BusyDay>,
    /// Slice downloads outside office hours (Dutch local time): their sequence numbers.
    pub outside_office_hours: Vec<i64>,
    /// Clients whose slices were downloaded most, most first (at most 10).
    pub most_viewed_clients: Vec<Count>,
    /// Attempts to open a case after it ended or its consent was withdrawn: their sequence
    /// numbers.
    #[serde(default)]
    pub after_end_or_withdrawal: Vec<i64>,
}

/// The Netherlands' UTC offset in hours at `t`: +2 from the last Sunday of March 01:00 UTC to
/// the last Sunday of October 01:00 UTC (EU summer time), else +1.
pub fn dutch_offset_hours(t: time::OffsetDateTime) -> i64 {
    let last_sunday = |month: time::Month| {
        let last = time::Date::from_calendar_date(t.year(), month, month.length(t.year()));
        let mut d = last.unwrap_or(t.date());
        while d.weekday() != time::Weekday::Sunday {
            d = d.previous_day().unwrap_or(d);
        }
        time::PrimitiveDateTime::new(d, time::macros::time!(1:00)).assume_utc()
    };
    if t >= last_sunday(time::Month::March) && t < last_sunday(time::Month::October) {
        2
    } else {
        1
    }
}

/// Computes the signals over `events`. `office_hours` is `[start, end)` in Dutch local hours.
pub fn signals(events: &[Event], office_hours: (u8, u8), distinct_clients_per_day: u64) -> Signals {
    use std::collections::{BTreeMap, BTreeSet};
    let mut denied_user: BTreeMap<String, u64> = BTreeMap::new();
    let mut denied_source: BTreeMap<String, u64> = BTreeMap::new();
    let mut per_day: BTreeMap<(String, String, String), BTreeSet<String>> = BTreeMap::new();
    let mut viewed: BTreeMap<String, u64> = BTreeMap::new();
    let mut outside = Vec::new();
    let mut closed: BTreeSet<String> = BTreeSet::new();
    let mut after_close = Vec::new();
    let format = time::format_description::well_known::Rfc3339;
    for e in events {
        if let Some(case) = &e.case {
            if e.action == "read" && closed.contains(case) {
                after_close.push(e.seq);
            }
            if e.action == "update"
                && e.outcome == "allowed"
                && matches!(e.reason.as_deref(), Some("end" | "consent withdrawn"))
            {
                closed.insert(case.clone());
            }
        }
        if e.outcome == "denied" {
            *denied_user
                .entry(e.user.clone().unwrap_or_else(|| "-".into()))
                .or_default() += 1;
            *denied_source
                .entry(e.source.clone().unwrap_or_else(|| "-".into()))
                .or_default() += 1;
            continue;
        }
        if e.action != "read" || e.outcome != "allowed" || e.fields.is_empty() {
            continue;
        }
        let Ok(utc) = time::OffsetDateTime::parse(&e.time, &format) else {
            continue;
        };
        let local = utc + time::Duration::hours(dutch_offset_hours(utc));
        if !(office_hours.0..office_hours.1).contains(&local.hour())
            || local.weekday().number_from_monday() > 5
        {
            outside.push(e.seq);
        }
        if let Some(client) = &e.client {
            *viewed.entry(client.clone()).or_default() += 1;
            if let Some(user) = &e.user {
                per_day
                    .entry((
                        user.clone(),
                        e.org.clone().unwrap_or_default(),
                        local.date().to_string(),
                    ))
                    .or_default()
                    .insert(client.clone());
            }
        }
    }
    let ranked = |m: BTreeMap<String, u64>, top: usize| {
        let mut v: Vec<Count> = m
            .into_iter()
            .map(|(key, count)| Count { key, count })
            .collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.key.cmp(&b.key)));
        v.truncate(top);
        v
    };
    Signals {
        denied_by_user: ranked(denied_user, usize::MAX),
        denied_by_source: ranked(denied_source, usize::MAX),
        many_clients_in_a_day: per_day
            .into_iter()
            .filter(|(_, clients)| clients.len() as u64 > distinct_clients_per_day)
            .map(|((user, org, day), clients)| BusyDay {
                user,
                org,
                day,
                clients: clients.len() as u64,
            })
            .collect(),
        outside_office_hours: outside,
        most_viewed_clients: ranked(viewed, 10),
        after_end_or_withdrawal: after_close,
    }
}

/// A readable table of events.
pub fn table(events: &[Event]) -> String {
    let mut out = format!(
        "{:>5}  {:<24} {:<12} {:<8} {:<18} {:<16} {:<17} {}\n",
        "seq",
        "time (UTC)",
        "action",
        "outcome",
        "organisation",
        "role",
        "purpose",
        "categories / reason"
    );
    for e in events {
        let what = if e.categories.is_empty() {
            e.reason.clone().unwrap_or_default()
        } else {
            e.categories.join(", ")
        };
        out.push_str(&format!(
            "{:>5}  {:<24} {:<12} {:<8} {:<18} {:<16} {:<17} {}\n",
            e.seq,
            e.time,
            e.action,
            e.outcome,
            e.org.as_deref().unwrap_or("-"),
            e.role.as_deref().unwrap_or("-"),
            e.purpose.as_deref().unwrap_or("-"),
            what
        ));
    }
    out
}

#[cfg(test)]
mod root_tests {
    use super::*;

    #[test]
    fn the_incremental_root_is_the_rfc_9162_root() {
        let events: Vec<Event> = (1..=70)
            .map(|i| {
                let mut e = Event::new("read", "allowed");
                e.seq = i;
                e
            })
            .collect();
        let mut builder = RootBuilder::default();
        assert_eq!(builder.root(), Tree::of(&[]).root());
        for n in 1..=events.len() {
            builder.push(events[n - 1].leaf_hash());
            assert_eq!(builder.len(), n as u64);
            assert_eq!(builder.root(), Tree::of(&events[..n]).root(), "{n} leaves");
        }
    }

    /// Every node the appends wrote, as the store writes them: leaves, then each completed
    /// subtree from its children.
    fn stored_nodes(leaves: &[[u8; 32]]) -> std::collections::HashMap<Node, [u8; 32]> {
        let mut nodes = std::collections::HashMap::new();
        for (i, leaf) in leaves.iter().enumerate() {
            let leaf_node = Node {
                level: 0,
                index: i as u64,
            };
            nodes.insert(leaf_node, *leaf);
            for node in completed_by(i as u64) {
                let (l, r) = node.children();
                let hash = parent_hash(&nodes[&l], &nodes[&r]);
                nodes.insert(node, hash);
            }
        }
        nodes
    }

    fn range_hash(nodes: &std::collections::HashMap<Node, [u8; 32]>, r: (u64, u64)) -> [u8; 32] {
        let hashes: Vec<[u8; 32]> = subtrees(r.0, r.1).iter().map(|n| nodes[n]).collect();
        fold_subtrees(&hashes)
    }

    #[test]
    fn proofs_from_stored_subtrees_are_the_rfc_9162_proofs() {
        assert_eq!(
            completed_by(11),
            vec![Node { level: 1, index: 5 }, Node { level: 2, index: 2 }]
        );
        assert_eq!(completed_by(4), vec![]);
        assert_eq!(
            subtrees(0, 13),
            vec![
                Node { level: 3, index: 0 },
                Node { level: 2, index: 2 },
                Node {
                    level: 0,
                    index: 12
                }
            ]
        );
        assert_eq!(inclusion_ranges(5, 7), vec![(4, 5), (6, 7), (0, 4)]);
        assert_eq!(
            consistency_ranges(3, 7),
            Some(vec![(2, 3), (3, 4), (0, 2), (4, 7)])
        );
        assert_eq!(consistency_ranges(4, 7), Some(vec![(4, 7)]));
        assert_eq!(consistency_ranges(0, 7), None);
        let events: Vec<Event> = (1..=70)
            .map(|i| {
                let mut e = Event::new("read", "allowed");
                e.seq = i;
                e
            })
            .collect();
        let leaves: Vec<[u8; 32]> = events.iter().map(Event::leaf_hash).collect();
        let nodes = stored_nodes(&leaves);
        for n in 1..=events.len() as u64 {
            let tree = Tree::of(&events[..n as usize]);
            assert_eq!(range_hash(&nodes, (0, n)), tree.root(), "root of {n}");
            for m in 0..n {
                let proof: Vec<[u8; 32]> = inclusion_ranges(m, n)
                    .into_iter()
                    .map(|r| range_hash(&nodes, r))
                    .collect();
                assert_eq!(Some(proof), tree.inclusion_proof(m + 1), "leaf {m} of {n}");
                let proof: Vec<[u8; 32]> = consistency_ranges(m + 1, n)
                    .unwrap()
                    .into_iter()
                    .map(|r| range_hash(&nodes, r))
                    .collect();
                assert_eq!(
                    Some(proof),
                    tree.consistency_proof(m + 1),
                    "{} to {n}",
                    m + 1
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct TestSigner(ring::signature::Ed25519KeyPair);

    impl NoteSigner for TestSigner {
        fn name(&self) -> &str {
            "sluis.test/audit"
        }
        fn public_key(&self) -> [u8; 32] {
            use ring::signature::KeyPair as _;
            self.0.public_key().as_ref().try_into().unwrap()
        }
        fn sign(&self, message: &[u8]) -> [u8; 64] {
            self.0.sign(message).as_ref().try_into().unwrap()
        }
    }

    fn signer() -> TestSigner {
        let doc = ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
            .unwrap();
        TestSigner(ring::signature::Ed25519KeyPair::from_pkcs8(doc.as_ref()).unwrap())
    }

    fn log(n: i64) -> Vec<StoredEvent> {
        let mut previous = [0u8; 32];
        (1..=n)
            .map(|seq| {
                let mut e = Event::new("read", "allowed");
                e.seq = seq;
                e.time = format!("2026-11-23T12:00:{:02}.000Z", seq % 60);
                e.org = Some("intermaris".into());
                let leaf = e.leaf_hash();
                previous = chain_hash(&previous, &leaf);
                StoredEvent {
                    event: e,
                    leaf_hash: hex::encode(leaf),
                    chain_hash: hex::encode(previous),
                }
            })
            .collect()
    }

    #[test]
    fn pseudonyms_are_keyed_and_stable() {
        let a = Pseudonymiser::new(&[1u8; 32]).unwrap();
        let b = Pseudonymiser::new(&[2u8; 32]).unwrap();
        assert_eq!(a.pseudonym(b"111222333"), a.pseudonym(b"111 222 333"));
        assert_ne!(a.pseudonym(b"111222333"), b.pseudonym(b"111222333"));
        assert_ne!(a.pseudonym(b"111222333"), a.pseudonym(b"123456782"));
        assert!(!a.pseudonym(b"111222333").contains("111222333"));
        assert_eq!(a.pseudonym(b"111222333").len(), 34);
        assert!(Pseudonymiser::new(&[0u8; 16]).is_none());
    }

    fn read(seq: i64, time: &str, user: &str, client: &str) -> Event {
        Event {
            seq,
            time: time.into(),
            user: Some(user.into()),
            org: Some("intermaris".into()),
            client: Some(client.into()),
            fields: vec!["full_name".into()],
            ..Event::new("read", "allowed")
        }
    }

    #[test]
    fn signals_point_at_what_deserves_a_look() {
        let mut events = vec![
            // Monday 23 November 2026, 09:00 in Hoorn (08:00 UTC, winter time): office hours.
            read(1, "2026-11-23T08:00:00.000Z", "u1", "p-a"),
            // 22:30 local: outside office hours.
            read(2, "2026-11-23T21:30:00.000Z", "u1", "p-b"),
            // Saturday: outside office hours.
            read(3, "2026-11-28T10:00:00.000Z", "u2", "p-a"),
            // Summer: 06:30 UTC is 08:30 local (inside); 05:30 UTC is 07:30 local (inside).
            read(4, "2026-07-01T05:30:00.000Z", "u2", "p-a"),
            read(5, "2026-11-23T09:00:00.000Z", "u1", "p-c"),
        ];
        let mut withdrawn = Event::new("update", "allowed");
        withdrawn.seq = 8;
        withdrawn.case = Some("k1".into());
        withdrawn.reason = Some("consent withdrawn".into());
        let mut late = read(9, "2026-11-23T10:00:00.000Z", "u4", "p-d");
        late.case = Some("k1".into());
        let mut early = read(10, "2026-11-23T10:00:00.000Z", "u4", "p-d");
        early.case = Some("k2".into());
        let mut denied = Event::new("read", "denied");
        denied.seq = 6;
        denied.user = Some("u3".into());
        denied.source = Some("10.0.0.9".into());
        events.push(denied.clone());
        denied.seq = 7;
        events.push(denied);
        events.extend([withdrawn, late, early]);
        let s = signals(&events, (7, 19), 2);
        assert_eq!(s.outside_office_hours, vec![2, 3]);
        assert_eq!(
            s.denied_by_user,
            vec![Count {
                key: "u3".into(),
                count: 2
            }]
        );
        assert_eq!(
            s.denied_by_source,
            vec![Count {
                key: "10.0.0.9".into(),
                count: 2
            }]
        );
        assert_eq!(
            s.many_clients_in_a_day,
            vec![BusyDay {
                user: "u1".into(),
                org: "intermaris".into(),
                day: "2026-11-23".into(),
                clients: 3
            }]
        );
        assert_eq!(
            s.most_viewed_clients[0],
            Count {
                key: "p-a".into(),
                count: 3
            }
        );
    }

    #[test]
    fn dutch_time_switches_on_the_last_sundays_of_march_and_october() {
        let at = |s: &str| {
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
        };
        assert_eq!(dutch_offset_hours(at("2026-03-29T00:59:59Z")), 1);
        assert_eq!(dutch_offset_hours(at("2026-03-29T01:00:00Z")), 2);
        assert_eq!(dutch_offset_hours(at("2026-10-25T00:59:59Z")), 2);
        assert_eq!(dutch_offset_hours(at("2026-10-25T01:00:00Z")), 1);
    }

    #[test]
    fn canonical_encoding_is_fixed() {
        let mut e = Event::new("read", "allowed");
        e.seq = 7;
        e.time = "2026-11-23T12:00:00.000Z".into();
        e.fields = vec!["full_name".into()];
        assert_eq!(
            String::from_utf8(e.canonical()).unwrap(),
            r#"{"seq":7,"time":"2026-11-23T12:00:00.000Z","action":"read","outcome":"allowed","reason":null,"user":null,"role":null,"org":null,"on_behalf_of":null,"purpose":null,"case":null,"client":null,"fields":["full_name"],"categories":[],"recipients":[],"consent":null,"policy_rule":null,"request_id":null,"source":null,"user_agent":null}"#
        );
    }

    #[test]
    fn rfc9162_hashing_of_a_small_tree() {
        // Three leaves: root = H(0x01 ‖ H(0x01 ‖ l0 ‖ l1) ‖ l2), written out with sha2 here.
        let events: Vec<Event> = log(3).into_iter().map(|s| s.event).collect();
        let leaf = |e: &Event| -> [u8; 32] {
            let mut h = Sha256::new();
            h.update([0]);
            h.update(e.canonical());
            h.finalize().into()
        };
        let node = |l: &[u8; 32], r: &[u8; 32]| -> [u8; 32] {
            let mut h = Sha256::new();
            h.update([1]);
            h.update(l);
            h.update(r);
            h.finalize().into()
        };
        let expected = node(
            &node(&leaf(&events[0]), &leaf(&events[1])),
            &leaf(&events[2]),
        );
        assert_eq!(Tree::of(&events).root(), expected);
        assert_eq!(events[0].leaf_hash(), leaf(&events[0]));
    }

    #[test]
    fn proofs_verify_and_forgeries_do_not() {
        let events: Vec<Event> = log(13).into_iter().map(|s| s.event).collect();
        let tree = Tree::of(&events);
        let root = tree.root();
        for e in &events {
            let proof = tree.inclusion_proof(e.seq as u64).unwrap();
            assert!(proof.len() <= 4, "at most ceil(log2 13) = 4 hashes");
            assert!(verify_inclusion(e, 13, &root, &proof));
        }
        let proof = tree.inclusion_proof(5).unwrap();
        assert!(
            !verify_inclusion(&events[5], 13, &root, &proof),
            "wrong event"
        );
        let mut forged = proof.clone();
        forged[0][0] ^= 1;
        assert!(
            !verify_inclusion(&events[4], 13, &root, &forged),
            "altered hash"
        );
        assert!(
            !verify_inclusion(&events[4], 13, &root, &proof[1..]),
            "short proof"
        );

        let old = Tree::of(&events[..6]);
        let consistency = tree.consistency_proof(6).unwrap();
        assert!(consistency.len() <= 4);
        assert!(verify_consistency(6, &old.root(), 13, &root, &consistency));
        let other = Tree::of(
            &log(6)
                .into_iter()
                .map(|mut s| {
                    s.event.org = Some("hoorn".into());
                    s.event
                })
                .collect::<Vec<_>>(),
        );
        assert!(
            !verify_consistency(6, &other.root(), 13, &root, &consistency),
            "not a prefix"
        );
        let mut bad = consistency;
        bad[0][5] ^= 0x80;
        assert!(!verify_consistency(6, &old.root(), 13, &root, &bad));
    }

    #[test]
    fn checkpoint_notes_sign_and_verify() {
        let s = signer();
        let key = VerifierKey {
            name: s.name().into(),
            public_key: s.public_key(),
        };
        let cp = sign_checkpoint(&s, 13, &[7u8; 32], 1_795_000_000);
        assert!(cp.note.starts_with("sluis.test/audit\n13\n"));
        assert!(
            cp.note
                .contains("\ntime 1795000000\n\n\u{2014} sluis.test/audit ")
        );
        assert_eq!(open_checkpoint(&cp.note, &key).unwrap(), cp);
        assert_eq!(VerifierKey::from_vkey(&key.to_vkey()).unwrap(), key);
        // Base64 key data may contain `+`, the separator.
        let plus = VerifierKey {
            name: "a/b".into(),
            public_key: [0xfb; 32],
        };
        assert!(plus.to_vkey().matches('+').count() > 2);
        assert_eq!(VerifierKey::from_vkey(&plus.to_vkey()).unwrap(), plus);
        let tampered = cp.note.replace("\n13\n", "\n12\n");
        assert_eq!(
            open_checkpoint(&tampered, &key),
            Err(NoteError::BadSignature)
        );
        let other = signer();
        let other_key = VerifierKey {
            name: other.name().into(),
            public_key: other.public_key(),
        };
        assert_eq!(
            open_checkpoint(&cp.note, &other_key),
            Err(NoteError::BadSignature)
        );
    }

    #[test]
    fn verifying_in_blocks_gives_the_same_report() {
        let s = signer();
        let key = VerifierKey {
            name: s.name().into(),
            public_key: s.public_key(),
        };
        let good = log(37);
        let events: Vec<Event> = good.iter().map(|e| e.event.clone()).collect();
        let checkpoint =
            |n: usize| sign_checkpoint(&s, n as u64, &Tree::of(&events[..n]).root(), 1).note;
        // Checkpoints inside blocks, at their ends, and at the end of the log.
        let notes = vec![checkpoint(3), checkpoint(8), checkpoint(16), checkpoint(37)];
        let mut changed = good.clone();
        changed[20].event.org = Some("someone-else".into());
        for n in [1, 7, 8, 9, 16, 33, 37] {
            let covered: Vec<String> = [3, 8, 16, 37]
                .iter()
                .zip(&notes)
                .filter(|(size, _)| **size <= n)
                .map(|(_, note)| note.clone())
                .collect();
            let whole = verify_in_blocks(&good[..n], &covered, std::slice::from_ref(&key), 1 << 20);
            assert!(whole.ok, "{n}");
            assert_eq!(whole.checkpoints, covered.len() as u64);
            assert_eq!(
                whole.root,
                hex::encode(Tree::of(&events[..n]).root()),
                "{n}"
            );
            for block in [1, 2, 4, 8] {
                let blocks =
                    verify_in_blocks(&good[..n], &covered, std::slice::from_ref(&key), block);
                assert!(blocks.ok, "{n} in blocks of {block}");
                assert_eq!(blocks.root, whole.root, "{n} in blocks of {block}");
                assert_eq!(blocks.checkpoints, whole.checkpoints);
            }
        }
        for block in [1, 4, 8, 1 << 20] {
            assert_eq!(
                verify_in_blocks(&changed, &notes, std::slice::from_ref(&key), block).first_problem,
                Some(Finding::Changed { seq: 21 }),
                "blocks of {block}"
            );
        }
        // A checkpoint whose root does not match, inside a block: found with blocks too.
        let wrong = sign_checkpoint(&s, 11, &[7u8; 32], 1).note;
        for block in [4, 8, 1 << 20] {
            assert_eq!(
                verify_in_blocks(
                    &good,
                    std::slice::from_ref(&wrong),
                    std::slice::from_ref(&key),
                    block
                )
                .first_problem,
                Some(Finding::CheckpointMismatch { from: 1, to: 11 }),
                "blocks of {block}"
            );
        }
    }

    #[test]
    fn verify_names_the_first_bad_sequence_number() {
        let s = signer();
        let key = VerifierKey {
            name: s.name().into(),
            public_key: s.public_key(),
        };
        let good = log(10);
        let tree = Tree::of(good.iter().map(|e| &e.event));
        let cp = sign_checkpoint(&s, 10, &tree.root(), 1).note;
        assert!(verify(&good, std::slice::from_ref(&cp), std::slice::from_ref(&key)).ok);

        let mut changed = good.clone();
        changed[3].event.org = Some("hoorn".into());
        assert_eq!(
            verify(&changed, &[], std::slice::from_ref(&key)).first_problem,
            Some(Finding::Changed { seq: 4 })
        );

        let mut missing = good.clone();
        missing.remove(6);
        assert_eq!(
            verify(&missing, &[], std::slice::from_ref(&key)).first_problem,
            Some(Finding::Missing { seq: 7 })
        );

        let mut swapped = good.clone();
        let (a, b) = (swapped[2].clone(), swapped[5].clone());
        swapped[2] = StoredEvent {
            event: Event { seq: 3, ..b.event },
            ..b
        };
        swapped[5] = StoredEvent {
            event: Event { seq: 6, ..a.event },
            ..a
        };
        let found = verify(&swapped, &[], std::slice::from_ref(&key))
            .first_problem
            .unwrap();
        assert!(
            matches!(
                found,
                Finding::Changed { seq: 3 } | Finding::Reordered { seq: 3 }
            ),
            "{found}"
        );

        let truncated = good[..8].to_vec();
        assert_eq!(
            verify(
                &truncated,
                std::slice::from_ref(&cp),
                std::slice::from_ref(&key)
            )
            .first_problem,
            Some(Finding::Truncated {
                seq: 9,
                size: 10,
                have: 8
            })
        );

        // Rewritten with fresh hashes: only the checkpoint can tell.
        let mut rewritten: Vec<Event> = good.iter().map(|s| s.event.clone()).collect();
        rewritten[4].org = Some("hoorn".into());
        let mut previous = [0u8; 32];
        let rehashed: Vec<StoredEvent> = rewritten
            .into_iter()
            .map(|e| {
                let leaf = e.leaf_hash();
                previous = chain_hash(&previous, &leaf);
                StoredEvent {
                    event: e,
                    leaf_hash: hex::encode(leaf),
                    chain_hash: hex::encode(previous),
                }
            })
            .collect();
        assert_eq!(
            verify(
                &rehashed,
                std::slice::from_ref(&cp),
                std::slice::from_ref(&key)
            )
            .first_problem,
            Some(Finding::CheckpointMismatch { from: 1, to: 10 })
        );
        let forged_note = cp.replace("\ntime 1\n", "\ntime 2\n");
        assert_eq!(
            verify(&good, &[forged_note], std::slice::from_ref(&key)).first_problem,
            Some(Finding::BadSignature { size: 10 })
        );
    }
}
