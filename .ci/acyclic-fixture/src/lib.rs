//! `a` uses `b` (a `use` declaration) and `b` uses `a` (a path written out): an import cycle.
pub mod a;
pub mod b;
