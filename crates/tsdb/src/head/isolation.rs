//! Commit isolation: every commit gets an append ID while it applies; a reader records which IDs
//! were complete when it started and hides samples of the others, so every select of one querier
//! sees each commit entirely or not at all.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use rustc_hash::FxHashMap;

#[derive(Default)]
struct State {
    next: u64,
    open: BTreeSet<u64>,
    readers: FxHashMap<u64, u64>,
    next_reader: u64,
}

/// Tracks commits in flight and the readers that may not see them.
pub(crate) struct Isolation {
    state: Mutex<State>,
    /// Every append ID below this is visible to every current and future reader.
    low: AtomicU64,
}

impl Default for Isolation {
    fn default() -> Self {
        Isolation { state: Mutex::new(State { next: 1, ..State::default() }), low: AtomicU64::new(1) }
    }
}

/// What one reader may see.
pub(crate) struct IsoView {
    max: u64,
    open: Vec<u64>,
    reader: u64,
    iso: Arc<Isolation>,
}

impl IsoView {
    /// True when the commit with this append ID had finished when the reader started.
    pub(crate) fn visible(&self, id: u64) -> bool {
        id <= self.max && self.open.binary_search(&id).is_err()
    }
}

impl Drop for IsoView {
    fn drop(&mut self) {
        let mut st = self.iso.state.lock();
        st.readers.remove(&self.reader);
        self.iso.update_low(&st);
    }
}

impl Isolation {
    /// Starts a commit; returns its append ID.
    pub(crate) fn begin_commit(&self) -> u64 {
        let mut st = self.state.lock();
        let id = st.next;
        st.next += 1;
        st.open.insert(id);
        id
    }

    /// Marks the commit complete.
    pub(crate) fn end_commit(&self, id: u64) {
        let mut st = self.state.lock();
        st.open.remove(&id);
        self.update_low(&st);
    }

    /// Starts a reader.
    pub(crate) fn begin_read(self: &Arc<Self>) -> IsoView {
        let mut st = self.state.lock();
        let max = st.next - 1;
        let open: Vec<u64> = st.open.iter().copied().collect();
        let bound = open.first().copied().unwrap_or(st.next);
        let reader = st.next_reader;
        st.next_reader += 1;
        st.readers.insert(reader, bound);
        self.update_low(&st);
        IsoView { max, open, reader, iso: self.clone() }
    }

    /// Append IDs below this need no tracking any more.
    pub(crate) fn low(&self) -> u64 {
        self.low.load(Ordering::Acquire)
    }

    fn update_low(&self, st: &State) {
        let mut low = st.open.first().copied().unwrap_or(st.next);
        if let Some(r) = st.readers.values().min() {
            low = low.min(*r);
        }
        self.low.store(low, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readers_see_commits_finished_before_they_started() {
        let iso = Arc::new(Isolation::default());
        let a = iso.begin_commit();
        let b = iso.begin_commit();
        iso.end_commit(b);
        let view = iso.begin_read();
        assert!(!view.visible(a), "open at read start");
        assert!(view.visible(b));
        let c = iso.begin_commit();
        iso.end_commit(a);
        iso.end_commit(c);
        assert!(!view.visible(c), "started after the reader");
        assert!(!view.visible(a), "still hidden from the older reader");
        assert_eq!(iso.low(), a, "the reader still needs a tracked");
        drop(view);
        assert_eq!(iso.low(), c + 1);
        assert!(iso.begin_read().visible(a));
    }
}
