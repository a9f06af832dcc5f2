//! Verification of a copy of the log: chain, tree and every checkpoint, naming the first bad
//! sequence number.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::checkpoint::{Checkpoint, VerifierKey, open_checkpoint_any};
use super::event::{Event, StoredEvent, chain_hash};
use super::tree::parent_hash;

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
    /// A checkpoint names another log than the keys given: the configuration's `log_origin`
    /// (or `--log-origin`) is not this log's. Nothing is wrong with the log itself.
    #[error("checkpoint of another log (origin {origin}, expected {expected})")]
    OtherLog {
        /// The checkpoint's origin (its first line).
        origin: String,
        /// The origin of the keys given.
        expected: String,
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
    /// Of them expired after their retention: their hashes checked in the chain and the tree,
    /// their content gone.
    #[serde(default)]
    pub expired: u64,
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

pub(super) fn verify_in_blocks(
    events: &[StoredEvent],
    checkpoints: &[String],
    keys: &[VerifierKey],
    block: usize,
) -> VerifyReport {
    let mut verifier = Verifier::with_block(checkpoints, keys, events.len() as u64, block);
    for chunk in events.chunks(block.max(1)) {
        if verifier.feed(chunk).is_break() {
            break;
        }
    }
    verifier.finish()
}

/// Verification of a log read a block at a time (so its memory stays flat however long the
/// log is): feed the events in sequence order, then `finish`. Each whole block that no
/// checkpoint ends inside is hashed on all cores into its subtree's root; the chain, which
/// depends on order, goes in one pass.
pub struct Verifier {
    signed: Vec<Checkpoint>,
    next_checkpoint: usize,
    checked: u64,
    tree: RootBuilder,
    previous: [u8; 32],
    previous_time: String,
    last_good: i64,
    problem: Option<Finding>,
    read: u64,
    total: u64,
    block: usize,
    expired: u64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Verifier({} of {} events)", self.read, self.total)
    }
}

impl Verifier {
    /// A verification of a log of `total` events against its signed `checkpoints`.
    pub fn new(checkpoints: &[String], keys: &[VerifierKey], total: u64) -> Self {
        Self::with_block(checkpoints, keys, total, VERIFY_BLOCK)
    }

    /// The events to feed at a time for the fastest verification.
    pub const BLOCK: usize = VERIFY_BLOCK;

    pub(super) fn with_block(
        checkpoints: &[String],
        keys: &[VerifierKey],
        total: u64,
        block: usize,
    ) -> Self {
        let mut verifier = Self {
            signed: Vec::with_capacity(checkpoints.len()),
            next_checkpoint: 0,
            checked: 0,
            tree: RootBuilder::default(),
            previous: [0u8; 32],
            previous_time: String::new(),
            last_good: 0,
            problem: None,
            read: 0,
            total,
            block: block.max(1),
            expired: 0,
        };
        for note in checkpoints {
            match open_checkpoint_any(note, keys) {
                Ok(cp) => verifier.signed.push(cp),
                Err(_) => {
                    let origin = note.lines().next().unwrap_or_default();
                    let size = note
                        .lines()
                        .nth(1)
                        .and_then(|l| l.parse().ok())
                        .unwrap_or(0);
                    verifier.checked = verifier.signed.len() as u64 + 1;
                    verifier.problem = Some(match keys.first() {
                        Some(key) if keys.iter().all(|k| k.name != origin) => Finding::OtherLog {
                            origin: origin.to_owned(),
                            expected: key.name.clone(),
                        },
                        _ => Finding::BadSignature { size },
                    });
                    return verifier;
                }
            }
        }
        verifier.checked = verifier.signed.len() as u64;
        verifier.signed.retain(|cp| cp.size > 0);
        verifier.signed.sort_by_key(|cp| cp.size);
        verifier
    }

    fn pending(&self) -> Option<&Checkpoint> {
        self.signed.get(self.next_checkpoint)
    }

    /// Checks the next events; `Break` once a problem is found (the rest need not be read).
    pub fn feed(&mut self, events: &[StoredEvent]) -> std::ops::ControlFlow<()> {
        let mut offset = 0;
        while offset < events.len() && self.problem.is_none() {
            let start = self.read as usize;
            // Blocks stay aligned to the log's positions, however the events are fed.
            let room = self.block - start % self.block;
            let part = &events[offset..(offset + room).min(events.len())];
            offset += part.len();
            self.check_block(part);
        }
        if self.problem.is_some() {
            std::ops::ControlFlow::Break(())
        } else {
            std::ops::ControlFlow::Continue(())
        }
    }

    /// `part` starts at position `self.read` and ends at or before the next block boundary.
    fn check_block(&mut self, part: &[StoredEvent]) {
        let start = self.read;
        let leaves: Vec<([u8; 32], bool)> = part
            .par_iter()
            .map(|s| {
                if s.expired {
                    let mut leaf = [0u8; 32];
                    let valid = hex::decode_to_slice(&s.leaf_hash, &mut leaf).is_ok();
                    return (leaf, valid);
                }
                let leaf = s.event.leaf_hash();
                (leaf, hex_is(&leaf, &s.leaf_hash))
            })
            .collect();
        let end = start + part.len() as u64;
        let whole = part.len() == self.block
            && start % self.block as u64 == 0
            && self.pending().is_none_or(|cp| cp.size >= end);
        let block_root = whole.then(|| perfect_root(&leaves));
        for (k, (stored, (leaf, leaf_matches))) in part.iter().zip(leaves).enumerate() {
            let e = &stored.event;
            let expected_seq = i64::try_from(start + k as u64).unwrap_or(i64::MAX) + 1;
            if e.seq != expected_seq {
                self.problem = Some(if e.seq > expected_seq {
                    Finding::Missing { seq: expected_seq }
                } else {
                    Finding::Reordered { seq: e.seq }
                });
                return;
            }
            let chain = chain_hash(&self.previous, &leaf);
            if !leaf_matches {
                self.problem = Some(if belongs_elsewhere(stored, self.total as usize) {
                    Finding::Reordered { seq: e.seq }
                } else {
                    Finding::Changed { seq: e.seq }
                });
                return;
            }
            if !hex_is(&chain, &stored.chain_hash) || e.time.as_str() < self.previous_time.as_str()
            {
                self.problem = Some(Finding::Reordered { seq: e.seq });
                return;
            }
            self.previous = chain;
            self.expired += u64::from(stored.expired);
            self.previous_time.clear();
            self.previous_time.push_str(&e.time);
            self.read += 1;
            match block_root {
                None => self.tree.push(leaf),
                Some(root) if k == part.len() - 1 => {
                    self.tree.push_subtree(self.block as u64, root);
                }
                Some(_) => {}
            }
            while let Some(cp) = self.pending().filter(|cp| cp.size == self.tree.len()) {
                if self.tree.root().as_slice() != cp.root.as_slice() {
                    self.problem = Some(Finding::CheckpointMismatch {
                        from: self.last_good + 1,
                        to: cp.size as i64,
                    });
                    return;
                }
                self.last_good = cp.size as i64;
                self.next_checkpoint += 1;
            }
        }
    }

    /// The report: the first problem, or that every event and checkpoint verified.
    pub fn finish(mut self) -> VerifyReport {
        if self.problem.is_none()
            && let Some(cp) = self.pending()
        {
            self.problem = Some(Finding::Truncated {
                seq: self.read as i64 + 1,
                size: cp.size,
                have: self.read,
            });
        }
        let root = match self.problem {
            // Nothing was read: a checkpoint did not verify.
            Some(Finding::BadSignature { .. } | Finding::OtherLog { .. }) => [0u8; 32],
            _ => self.tree.root(),
        };
        VerifyReport {
            events: self.total.max(self.read),
            expired: self.expired,
            checkpoints: self.checked,
            root: hex::encode(root),
            ok: self.problem.is_none(),
            first_problem: self.problem,
        }
    }
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
    parent_hash(&l, &r)
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
            node = (size * 2, parent_hash(&hash, &node.1));
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
            acc = parent_hash(left, &acc);
        }
        acc
    }
}

#[cfg(test)]
mod root_tests {
    use super::*;
    use crate::audit::*;

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
