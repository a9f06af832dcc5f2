//! Uses `a`.

/// Two.
pub fn two() -> u8 {
    crate::a::one() + 2
}
