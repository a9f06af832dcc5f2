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

mod checkpoint;
mod event;
mod signals;
mod tree;
mod verify;

pub use checkpoint::*;
pub use event::*;
pub use signals::*;
pub use tree::*;
pub use verify::*;

#[cfg(test)]
mod tests;
