//! Checks shared by the fuzz targets in `fuzz_targets/` and by `tests/fuzz_regressions.rs`, which
//! includes these files by path to replay inputs on stable.
//!
//! Each module is a crate-root module in both places, so they refer to one another as `crate::...`.

#[path = "../../spec/reference.rs"]
pub mod reference;

pub mod decode_check;
pub mod roundtrip_check;
pub mod seeds;
