//! The binary's own commands, driven in-process: the command line, the demo and the bench.

mod args;
mod bench;
mod demo;
