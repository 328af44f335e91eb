//! The synchronisation primitives the hub is written against.
//!
//! In a normal build these are `std`'s. Built with `RUSTFLAGS="--cfg framechat_loom"` they are loom's
//! instrumented doubles, so that `tests/loom.rs` can explore every interleaving of the hub's code. The
//! cfg is private to framechat on purpose: a plain `--cfg loom` would also switch async-std's own
//! dependencies into loom mode and break the build.
//!
//! Code elsewhere in the crate that holds hub values (the `Arc<Outbox<M>>` that [`Hub::join`]
//! returns) names them through this module, so that it compiles under both cfgs.
//!
//! [`Hub::join`]: crate::hub::Hub::join

#[cfg(framechat_loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicU64, Ordering},
    Arc, Mutex, MutexGuard,
};

#[cfg(not(framechat_loom))]
pub(crate) use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc, Mutex, MutexGuard,
};

/// Locks `mutex`, recovering the guard if a thread panicked while holding it.
///
/// The hub runs no code of its callers while it holds a lock (messages are cloned, weighed and
/// dropped, and wakers woken, outside every critical section), and each critical section leaves its
/// state consistent at every point where it could unwind, so a poisoned lock still guards valid
/// state. Recovering keeps one panicking task from taking every other connection down with it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
