//! Uses `b`.
use crate::b::two;

/// One.
pub fn one() -> u8 {
    two() - 1
}
