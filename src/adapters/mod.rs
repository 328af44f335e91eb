//! The I/O adapters: thin shells that move bytes between a transport and the codec, following the
//! crate's [driving recipe](crate#the-driving-loop-a-recipe). The buffer bookkeeping is written
//! once, sans-IO, in `core`; the error once, in `error`.

mod core;
mod error;
#[cfg(feature = "futures-io")]
pub mod futures;
pub mod io;
#[cfg(feature = "tokio-codec")]
pub mod tokio;
