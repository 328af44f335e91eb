//! Helpers shared by the integration tests: `mod common;` in a test file.

pub mod vectors;
