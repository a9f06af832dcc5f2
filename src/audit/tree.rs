//! The RFC 9162 Merkle tree over the events: in memory for proofs of a copy, and the
//! arithmetic of the tree stored as it grows (which nodes an append completes, which ranges
//! a proof needs).

use std::collections::HashMap;

use ct_merkle::mem_backed_tree::MemoryBackedTree;
use ct_merkle::{ConsistencyProof, InclusionProof, RootHash};
use sha2::{Digest as _, Sha256};

use super::event::Event;

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
/// first: each one's hash is `parent_hash` of its children's.
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
    rev.fold(last, |acc, left| parent_hash(left, &acc))
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
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
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
