//! The in-process store: today's behaviour, and what several clients in one process can share
//! (through an `Arc`) to authorize once between them.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Lease, Record, SessionStore, StoreError};

#[derive(Default)]
struct State {
    record: Option<Record>,
    /// The holder's token and when its lease lapses.
    lease: Option<(String, Instant)>,
}

/// A store in this process's memory.
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MemoryStore")
    }
}

impl MemoryStore {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Every update is a single assignment, so a panic elsewhere leaves it consistent.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SessionStore for MemoryStore {
    fn generation(&self) -> Result<u64, StoreError> {
        Ok(self.state().record.as_ref().map_or(0, |r| r.generation))
    }

    fn leased(&self) -> Result<bool, StoreError> {
        let now = Instant::now();
        Ok(self
            .state()
            .lease
            .as_ref()
            .is_some_and(|(_, until)| *until > now))
    }

    fn load(&self) -> Result<Option<Record>, StoreError> {
        Ok(self.state().record.clone())
    }

    fn try_lease(&self, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        let mut state = self.state();
        let now = Instant::now();
        if state.lease.as_ref().is_some_and(|(_, until)| *until > now) {
            return Ok(None);
        }
        let lease = Lease::new(None);
        state.lease = Some((lease.token.clone(), now + ttl));
        Ok(Some(lease))
    }

    fn publish(&self, lease: &Lease, expected: u64, record: &Record) -> Result<(), StoreError> {
        let mut state = self.state();
        let held = state
            .lease
            .as_ref()
            .is_some_and(|(t, until)| *t == lease.token && *until > Instant::now());
        if !held {
            return Err(StoreError::Fenced("the lease expired".into()));
        }
        let current = state.record.as_ref().map_or(0, |r| r.generation);
        if current != expected {
            return Err(StoreError::Fenced(format!(
                "generation {current} is stored, not {expected}"
            )));
        }
        state.record = Some(record.clone());
        Ok(())
    }

    fn release(&self, lease: Lease) {
        let mut state = self.state();
        if state.lease.as_ref().is_some_and(|(t, _)| *t == lease.token) {
            state.lease = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::record;
    use super::*;

    #[test]
    fn one_lease_at_a_time_and_fenced_publish() {
        let store = MemoryStore::default();
        let ttl = Duration::from_secs(5);
        let lease = store.try_lease(ttl).unwrap().unwrap();
        assert!(store.try_lease(ttl).unwrap().is_none());
        assert!(matches!(
            store.publish(&lease, 1, &record(2)),
            Err(StoreError::Fenced(_))
        ));
        store.publish(&lease, 0, &record(1)).unwrap();
        assert_eq!(store.generation().unwrap(), 1);
        store.release(lease);
        // An expired lease is taken over, and its former holder can no longer publish.
        let short = store.try_lease(Duration::from_millis(1)).unwrap().unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let next = store.try_lease(ttl).unwrap().unwrap();
        assert!(matches!(
            store.publish(&short, 1, &record(2)),
            Err(StoreError::Fenced(_))
        ));
        store.publish(&next, 1, &record(2)).unwrap();
        assert_eq!(store.load().unwrap(), Some(record(2)));
    }
}
