//! The I/O adapters: thin shells that move bytes between a transport and the codec, following the
//! crate's driving recipe.

#[cfg(feature = "futures-io")]
pub mod futures;
pub mod io;
#[cfg(feature = "tokio-codec")]
pub mod tokio;
