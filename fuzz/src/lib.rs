//! Checks shared by the fuzz targets in `fuzz_targets/` and by `tests/fuzz_regressions.rs`.
//!
//! The files live in the main package (`tests/fuzz/`, and `spec/reference.rs`), so that the
//! published crate carries them and its own tests replay the fuzz inputs on stable; this crate
//! includes them by path. Each module is a crate-root module in both places, so they refer to one
//! another as `crate::...`.

#[path = "../../spec/reference.rs"]
pub mod reference;

#[path = "../../tests/fuzz/decode_check.rs"]
pub mod decode_check;
#[path = "../../tests/fuzz/roundtrip_check.rs"]
pub mod roundtrip_check;
#[path = "../../tests/fuzz/seeds.rs"]
pub mod seeds;
