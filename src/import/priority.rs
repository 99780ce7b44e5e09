//! Imports before views on this machine's cores. A person's import is what they wait for; a table
//! view that reads for long (a sort by a column without an index, a search without its index, an
//! export) can wait a little. While an import runs in this process, such a view yields: after it
//! has read for [`HEAVY`], it pauses [`PAUSE`] at each look at the clock (about every millisecond
//! of its work, see `db::reads`), so it runs at about a quarter of its speed. Pages of an indexed
//! sort or of a small table end long before [`HEAVY`] and are not slowed.
//!
//! Measured with `bench/load.py` (2 cores, SQLite): an attacker's pages sorted without an index,
//! two at once (their share), made an honest person's import of a million rows take 2.05 times
//! as long as on a quiet server, the four busy threads sharing two cores; with the pause, 1.17 and
//! 1.05 times in two runs (BENCHMARKS.md has the last). On PostgreSQL the views run in the
//! database's own processes, out of reach here.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// How long a view reads at full speed before it yields to a running import.
pub const HEAVY: Duration = Duration::from_millis(50);
/// A heavy view's pause at each look at the clock while an import runs.
pub const PAUSE: Duration = Duration::from_millis(3);

static RUNNING: AtomicUsize = AtomicUsize::new(0);

/// An import running in this process, for as long as this is held.
#[derive(Debug)]
pub struct Running(());

/// Marks an import as running until the returned guard is dropped.
pub fn running() -> Running {
    RUNNING.fetch_add(1, Ordering::Relaxed);
    Running(())
}

impl Drop for Running {
    fn drop(&mut self) {
        RUNNING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Whether an import runs in this process now.
pub fn importing() -> bool {
    RUNNING.load(Ordering::Relaxed) > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_import_counts_while_its_guard_is_held() {
        let before = RUNNING.load(Ordering::Relaxed);
        let a = running();
        let b = running();
        assert!(importing());
        assert_eq!(RUNNING.load(Ordering::Relaxed), before + 2);
        drop(a);
        drop(b);
        assert_eq!(RUNNING.load(Ordering::Relaxed), before);
    }
}
