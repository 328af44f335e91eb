//! The synchronisation primitives the hub is written against, and its one lock-poisoning policy.
//!
//! In every build of the library these are `std`'s. Only the library's own unit tests built with
//! `RUSTFLAGS="--cfg framechat_loom"` swap in loom's instrumented doubles, so that
//! `src/hub/loom_tests.rs` can explore every interleaving of the hub's code (the way tokio
//! checks itself). Tying loom to `cfg(test)` keeps it a dev-dependency: an embedder's build never
//! resolves it, whatever cfgs are set. The cfg is private to framechat on purpose: a plain
//! `--cfg loom` would also switch async-std's own dependencies into loom mode and break the build.
//!
//! Nothing outside `src/hub/` names this module: the hub's public types ([`Outbox`] is a handle
//! around this module's `Arc`) hide which primitives they were built with.
//!
//! [`Outbox`]: super::Outbox

#[cfg(all(test, framechat_loom))]
pub(super) use loom::sync::{
    atomic::{AtomicU64, Ordering},
    Arc, Mutex, MutexGuard,
};

#[cfg(not(all(test, framechat_loom)))]
pub(super) use std::sync::{
    atomic::{AtomicU64, Ordering},
    Arc, Mutex, MutexGuard,
};

/// Locks `mutex`, recovering the guard if a thread panicked while holding it.
///
/// The hub runs no code of its callers while it holds a lock (messages are cloned, weighed and
/// dropped, and wakers woken, outside every critical section), and each critical section leaves its
/// state consistent at every point where it could unwind, so a poisoned lock still guards valid
/// state. Recovering keeps one panicking task from taking every other connection down with it.
pub(super) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
