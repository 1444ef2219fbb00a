//! A shared store (Redis) with a host-local [`FileStore`] behind it, used only while the
//! shared one does not answer.
//!
//! Without it, a bank-side session loss during a Redis outage would make every process on
//! every host authorize on its own, and each authorization ends the session of all the
//! others. With it, the processes of one host still take one lease and share one session
//! through a file while Redis is down: an outage costs at most one authorization per host per
//! event instead of one per process. When Redis answers again, the client's usual
//! re-synchronization publishes there the session obtained meanwhile (generations follow the
//! bank's clock, so the newer session wins whichever store it is in).
//!
//! Every operation asks the shared store first; only [`StoreError::Unavailable`] sends it to
//! the local file (the Redis store answers "unavailable" at once during its quiet period after
//! a failure, so an outage costs no timeout per call). A lease remembers where it was taken,
//! and is published under and released there.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::{FileStore, Lease, Record, SessionStore, StoreError};

/// The shared store, and the host-local file used while it is unavailable.
#[derive(Debug)]
pub struct WithHostFallback {
    shared: Box<dyn SessionStore>,
    local: FileStore,
    /// Whether the last answer came from the local file: one warning per outage.
    on_fallback: AtomicBool,
}

/// Where the host-local file of `scope` lives: `$XDG_RUNTIME_DIR` (a directory of the user's
/// own, mode 0700, on systemd hosts) if set, else the system's temporary directory. The name
/// carries the keyed scope tag, which nobody without the merchant key can predict, so another
/// user of the host cannot plant a file there ahead of us.
#[must_use]
pub fn fallback_path(scope: &str) -> PathBuf {
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .filter(|d| d.is_absolute())
        .unwrap_or_else(std::env::temp_dir);
    // The scope is `THUMBPRINT:TAG`; `:` is not welcome in every file system.
    dir.join(format!("alliancepay-{}.session", scope.replace(':', "-")))
}

impl WithHostFallback {
    /// `shared`, falling back to `local` while it is unavailable.
    #[must_use]
    pub fn new(shared: Box<dyn SessionStore>, local: FileStore) -> Self {
        Self {
            shared,
            local,
            on_fallback: AtomicBool::new(false),
        }
    }

    /// The host-local file's path.
    #[must_use]
    pub fn local_path(&self) -> &Path {
        self.local.path()
    }

    /// `op` on the shared store, or on the local file if the shared store is unavailable.
    fn either<T>(
        &self,
        op: impl Fn(&dyn SessionStore) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match op(&*self.shared) {
            Err(StoreError::Unavailable(why)) => {
                if !self.on_fallback.swap(true, Ordering::SeqCst) {
                    tracing::warn!(
                        "session store unavailable: {why}; the processes of this host share {} until it answers again",
                        self.local.path().display()
                    );
                }
                op(&self.local)
            }
            answer => {
                if self.on_fallback.swap(false, Ordering::SeqCst) {
                    tracing::info!("the session store answers again; leaving the host-local file");
                }
                answer
            }
        }
    }

    /// The store a lease was taken from: a file store's lease holds its locked file.
    fn owner(&self, lease: &Lease) -> &dyn SessionStore {
        if lease.file.is_some() {
            &self.local
        } else {
            &*self.shared
        }
    }
}

impl SessionStore for WithHostFallback {
    fn generation(&self) -> Result<u64, StoreError> {
        self.either(|s| s.generation())
    }

    fn leased(&self) -> Result<bool, StoreError> {
        self.either(|s| s.leased())
    }

    fn peek(&self) -> Result<(u64, bool), StoreError> {
        self.either(|s| s.peek())
    }

    fn load(&self) -> Result<Option<Record>, StoreError> {
        self.either(|s| s.load())
    }

    fn try_lease(&self, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        self.either(|s| s.try_lease(ttl))
    }

    fn publish(&self, lease: &Lease, expected: u64, record: &Record) -> Result<(), StoreError> {
        self.owner(lease).publish(lease, expected, record)
    }

    fn release(&self, lease: Lease) {
        self.owner(&lease).release(lease);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::MemoryStore;
    use super::super::tests::record;
    use super::*;

    /// A shared store that can be switched off, as a Redis that is killed and restarted.
    #[derive(Debug, Default)]
    struct Switchable {
        store: MemoryStore,
        down: AtomicBool,
    }

    impl Switchable {
        fn up(&self) -> Result<&MemoryStore, StoreError> {
            if self.down.load(Ordering::SeqCst) {
                Err(StoreError::Unavailable("switched off".into()))
            } else {
                Ok(&self.store)
            }
        }
    }

    impl SessionStore for Arc<Switchable> {
        fn generation(&self) -> Result<u64, StoreError> {
            self.up()?.generation()
        }
        fn leased(&self) -> Result<bool, StoreError> {
            self.up()?.leased()
        }
        fn load(&self) -> Result<Option<Record>, StoreError> {
            self.up()?.load()
        }
        fn try_lease(&self, ttl: Duration) -> Result<Option<Lease>, StoreError> {
            self.up()?.try_lease(ttl)
        }
        fn publish(&self, lease: &Lease, expected: u64, record: &Record) -> Result<(), StoreError> {
            self.up()?.publish(lease, expected, record)
        }
        fn release(&self, lease: Lease) {
            self.store.release(lease);
        }
    }

    /// Two "processes" of one host: each its own handle on the shared store and its own
    /// file store on the same path.
    fn host(name: &str) -> (Arc<Switchable>, WithHostFallback, WithHostFallback, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "alliancepay-fallback-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("fallback.session");
        let shared = Arc::new(Switchable::default());
        let open = || {
            WithHostFallback::new(
                Box::new(Arc::clone(&shared)),
                FileStore::open(&path).unwrap(),
            )
        };
        let (a, b) = (open(), open());
        (shared, a, b, dir)
    }

    #[test]
    fn while_the_shared_store_is_down_the_host_shares_one_lease_and_one_session() {
        let (shared, a, b, dir) = host("down");
        let ttl = Duration::from_secs(5);
        // Up: everything goes to the shared store.
        let lease = a.try_lease(ttl).unwrap().unwrap();
        assert!(lease.file.is_none(), "a shared lease");
        a.publish(&lease, 0, &record(10)).unwrap();
        a.release(lease);
        assert_eq!(b.generation().unwrap(), 10);
        assert!(
            !a.local_path().exists(),
            "nothing local while the shared store answers"
        );

        // Down: one lease for the host, and what one process publishes the other sees.
        shared.down.store(true, Ordering::SeqCst);
        assert_eq!(a.generation().unwrap(), 0, "the local file is empty so far");
        let lease = a.try_lease(ttl).unwrap().expect("the host's lease is free");
        assert!(lease.file.is_some(), "a local lease");
        assert!(b.try_lease(ttl).unwrap().is_none(), "one holder per host");
        assert!(b.leased().unwrap());
        a.publish(&lease, 0, &record(20)).unwrap();
        a.release(lease);
        assert_eq!(b.peek().unwrap(), (20, false));
        assert_eq!(b.load().unwrap(), Some(record(20)));

        // Back: the shared store's answers again, still at the generation it had; the client
        // sees its own newer session is missing there and publishes it (`Client::sync`).
        shared.down.store(false, Ordering::SeqCst);
        assert_eq!(b.generation().unwrap(), 10);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_lease_is_published_and_released_where_it_was_taken() {
        let (shared, a, b, dir) = host("routing");
        let ttl = Duration::from_secs(5);
        shared.down.store(true, Ordering::SeqCst);
        let local = a.try_lease(ttl).unwrap().unwrap();
        // The shared store comes back while the local lease is held: the publish still goes
        // to the local file, under the lock that excludes the host's other processes.
        shared.down.store(false, Ordering::SeqCst);
        a.publish(&local, 0, &record(30)).unwrap();
        assert_eq!(
            shared.store.generation().unwrap(),
            0,
            "not published to the shared store"
        );
        a.release(local);
        shared.down.store(true, Ordering::SeqCst);
        assert_eq!(b.generation().unwrap(), 30);
        assert!(b.try_lease(ttl).unwrap().is_some(), "released");

        // A shared lease taken while up is fenced by the shared store, not the file.
        shared.down.store(false, Ordering::SeqCst);
        let remote = a.try_lease(ttl).unwrap().unwrap();
        assert!(matches!(
            a.publish(&remote, 5, &record(40)),
            Err(StoreError::Fenced(_))
        ));
        a.release(remote);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_fallback_file_is_named_by_the_scope_under_the_runtime_directory() {
        let path = fallback_path("thumb:tag");
        assert!(path.is_absolute());
        assert!(
            path.ends_with("alliancepay-thumb-tag.session"),
            "{}",
            path.display()
        );
    }
}
