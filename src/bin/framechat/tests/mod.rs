//! The binary's own commands, driven in-process: the demo and the bench.

mod bench;
mod demo;
