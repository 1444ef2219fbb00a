//! The file store: one session file for every process on a host, an OS advisory lock
//! (`flock` on Unix, through `std::fs::File::try_lock`) on a lock file beside it as the lease.
//!
//! The kernel releases the lock when its holder exits, `kill -9` included, so a dead holder
//! is replaced at once. Writes go to a temporary file with a unique name (created exclusively,
//! mode 0600) that is renamed over the session file: a reader sees the old record or the new
//! one, never part of one. Only the lease holder writes, so any temporary file found while
//! holding the lease was left by a writer that died; they are removed then.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Lease, Record, SessionStore, StoreError, StoreFault};
use crate::error::{ConfigError, SessionFileProblem};
use crate::{Error, store};

/// The session file's format marker (version 1 files held the session in clear).
const FORMAT: u32 = 2;

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct OnDisk {
    alliancepay_session: u32,
    generation: u64,
    sealed: String,
}

/// What an existing file at the session path turned out to be.
enum Found {
    /// Nothing, or an empty file: nothing to lose by writing it.
    Nothing,
    /// A record of ours.
    Record(Record),
    /// A session file written by an earlier version (clear-text tokens): ours to replace.
    Legacy,
}

/// Which file version the cache describes: a rename replaces the inode.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Version {
    inode: u64,
    len: u64,
    modified: Option<std::time::SystemTime>,
}

fn version(meta: &std::fs::Metadata) -> Version {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0;
    Version {
        inode,
        len: meta.len(),
        modified: meta.modified().ok(),
    }
}

fn unix_millis() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

/// A session file shared by the processes of one host.
pub struct FileStore {
    path: PathBuf,
    lock_path: PathBuf,
    cache: Mutex<Option<(Version, u64)>>,
}

impl std::fmt::Debug for FileStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

fn classify(bytes: &[u8]) -> Result<Found, SessionFileProblem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Found::Nothing);
    }
    let value = serde_json::from_slice::<Value>(bytes).map_err(SessionFileProblem::NotJson)?;
    if value.get("alliancepaySession").is_some() {
        let on_disk: OnDisk =
            serde_json::from_value(value).map_err(SessionFileProblem::UnreadableRecord)?;
        if on_disk.alliancepay_session != FORMAT {
            return Err(SessionFileProblem::UnknownFormat {
                found: on_disk.alliancepay_session,
                expected: FORMAT,
            });
        }
        return Ok(Found::Record(Record {
            generation: on_disk.generation,
            sealed: on_disk.sealed,
        }));
    }
    let member = |name: &str| value.get(name).is_some();
    if value.get("format").and_then(Value::as_u64) == Some(1)
        && member("deviceId")
        && member("merchantKeyThumbprint")
    {
        return Ok(Found::Legacy);
    }
    if member("kty") {
        return Err(if member("d") {
            SessionFileProblem::HoldsPrivateKey
        } else {
            SessionFileProblem::HoldsKey
        });
    }
    Err(SessionFileProblem::Foreign)
}

fn refused(path: &Path, problem: SessionFileProblem) -> Error {
    Error::Config(ConfigError::SessionFileRefused {
        path: path.to_owned(),
        problem,
    })
}

impl FileStore {
    /// Opens the store at `path` (its lock file is `path` + `.lock`). Refuses, before writing
    /// anything, a path that is not a regular file or holds anything but one of our session
    /// files. Removes temporary files left by writers that died, when the lock is free.
    ///
    /// # Errors
    /// [`ConfigError::SessionFileRefused`] naming the file and what is wrong with it;
    /// [`Error::Io`].
    pub fn open(path: &Path) -> Result<Self, Error> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        match std::fs::metadata(path) {
            Ok(meta) if !meta.is_file() => {
                return Err(refused(path, SessionFileProblem::NotARegularFile));
            }
            Ok(_) => {
                let bytes = zeroize::Zeroizing::new(std::fs::read(path).map_err(io)?);
                classify(&bytes).map_err(|problem| refused(path, problem))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        // The lock file holds nothing but a holder's deadline (digits) and is emptied by every
        // lease: never take over a file with anything else in it.
        if let Ok(text) = std::fs::read(&lock_path)
            && !text
                .iter()
                .all(|b| b.is_ascii_digit() || b.is_ascii_whitespace())
        {
            return Err(refused(
                Path::new(&lock_path),
                SessionFileProblem::NotALockFile,
            ));
        }
        let store = Self {
            path: path.to_owned(),
            lock_path: PathBuf::from(lock_path),
            cache: Mutex::new(None),
        };
        // The lock file must be creatable now, so a wrong directory fails at start-up.
        let lock = store.lock_file().map_err(|source| Error::Io {
            path: store.lock_path.clone(),
            source,
        })?;
        if lock.try_lock().is_ok() {
            store::remove_stale_temps(path);
        }
        Ok(store)
    }

    /// The session file's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn lock_file(&self) -> std::io::Result<File> {
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&self.lock_path)
    }

    fn invalid(&self, e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
        StoreError::Invalid(StoreFault::caused_by(self.path.display(), e))
    }

    fn read(&self) -> Result<(Option<Version>, Option<Record>), StoreError> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((None, None)),
            Err(e) => return Err(self.invalid(e)),
        };
        // The version of the file actually read: a rename between stat and read cannot mix
        // one file's version with another's contents.
        let meta = file.metadata().map_err(|e| self.invalid(e))?;
        let mut bytes = zeroize::Zeroizing::new(Vec::new());
        std::io::Read::read_to_end(&mut file, &mut bytes).map_err(|e| self.invalid(e))?;
        match classify(&bytes) {
            Ok(Found::Record(r)) => Ok((Some(version(&meta)), Some(r))),
            Ok(Found::Nothing | Found::Legacy) => Ok((Some(version(&meta)), None)),
            Err(problem) => Err(self.invalid(problem)),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Option<(Version, u64)>> {
        self.cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl SessionStore for FileStore {
    fn generation(&self) -> Result<u64, StoreError> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(self.invalid(e)),
        };
        if let Some((v, g)) = *self.cache()
            && v == version(&meta)
        {
            return Ok(g);
        }
        let (v, record) = self.read()?;
        let g = record.map_or(0, |r| r.generation);
        if let Some(v) = v {
            *self.cache() = Some((v, g));
        }
        Ok(g)
    }

    fn leased(&self) -> Result<bool, StoreError> {
        // The holder writes its deadline into the lock file and empties it before unlocking;
        // a holder killed meanwhile leaves a deadline that simply passes.
        match std::fs::metadata(&self.lock_path) {
            Ok(m) if m.len() == 0 => return Ok(false),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(self.invalid(e)),
        }
        let text = std::fs::read_to_string(&self.lock_path).unwrap_or_default();
        let until = text.trim().parse::<u128>().unwrap_or(0);
        if until <= unix_millis() {
            return Ok(false);
        }
        // The deadline is only a hint: a holder killed with `kill -9` leaves it behind although
        // the kernel released its lock, and trusting it would hold every call back until it
        // passes. The lock itself says: taken on a fresh descriptor (closing it unlocks), it
        // is free; refused, somebody holds it.
        let probe = self.lock_file().map_err(|e| self.invalid(e))?;
        match probe.try_lock() {
            Ok(()) => Ok(false),
            Err(std::fs::TryLockError::WouldBlock) => Ok(true),
            Err(std::fs::TryLockError::Error(e)) => Err(self.invalid(e)),
        }
    }

    fn load(&self) -> Result<Option<Record>, StoreError> {
        Ok(self.read()?.1)
    }

    fn try_lease(&self, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        // The kernel drops the lock when the holder's process ends, so the lock itself needs
        // no expiry; the deadline written below only tells `leased` readers how long to trust
        // a marker whose writer may have died.
        let file = self.lock_file().map_err(|e| self.invalid(e))?;
        match file.try_lock() {
            Ok(()) => {
                store::remove_stale_temps(&self.path);
                let until = unix_millis() + ttl.as_millis();
                // Only a hint for `leased`: the lock is what excludes.
                let _ = file.set_len(0);
                let _ = std::io::Write::write_all(&mut &file, until.to_string().as_bytes());
                Ok(Some(Lease::new(Some(file))))
            }
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(self.invalid(e)),
        }
    }

    fn publish(&self, lease: &Lease, expected: u64, record: &Record) -> Result<(), StoreError> {
        if lease.file.is_none() {
            return Err(StoreError::Fenced("not a lease of this file store".into()));
        }
        let current = self.read()?.1.map_or(0, |r| r.generation);
        if current != expected {
            return Err(StoreError::Fenced(format!(
                "generation {current} is stored, not {expected}"
            )));
        }
        let text = serde_json::to_vec(&OnDisk {
            alliancepay_session: FORMAT,
            generation: record.generation,
            sealed: record.sealed.clone(),
        })
        .map_err(|e| self.invalid(e))?;
        store::write_private_file(&self.path, &text).map_err(|e| self.invalid(e))
    }

    fn release(&self, lease: Lease) {
        if let Some(file) = &lease.file {
            let _ = file.set_len(0);
        }
        // Closing the file releases the lock.
        drop(lease);
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::record;
    use super::*;

    #[test]
    fn lease_publish_and_generations() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        let path = dir.join("session.json");
        let a = FileStore::open(&path).unwrap();
        let b = FileStore::open(&path).unwrap();
        assert_eq!(a.generation().unwrap(), 0);
        let ttl = Duration::from_secs(1);
        let lease = a.try_lease(ttl).unwrap().unwrap();
        assert!(b.try_lease(ttl).unwrap().is_none(), "one holder at a time");
        assert!(matches!(
            a.publish(&lease, 3, &record(4)),
            Err(StoreError::Fenced(_))
        ));
        a.publish(&lease, 0, &record(1)).unwrap();
        assert_eq!(b.generation().unwrap(), 1);
        a.release(lease);
        let lease = b.try_lease(ttl).unwrap().unwrap();
        b.publish(&lease, 1, &record(2)).unwrap();
        assert_eq!(a.generation().unwrap(), 2);
        assert_eq!(a.load().unwrap(), Some(record(2)));
        drop(lease);
        // A lease of another store cannot publish here.
        let memory = super::super::MemoryStore::default();
        let foreign = memory.try_lease(ttl).unwrap().unwrap();
        assert!(matches!(
            a.publish(&foreign, 2, &record(3)),
            Err(StoreError::Fenced(_))
        ));
    }

    #[test]
    fn a_dead_holders_deadline_is_not_a_lease() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        let path = dir.join("session.json");
        let (a, b) = (
            FileStore::open(&path).unwrap(),
            FileStore::open(&path).unwrap(),
        );
        let lease = a.try_lease(Duration::from_secs(40)).unwrap().unwrap();
        assert!(b.leased().unwrap(), "held");
        // As after `kill -9`: the descriptor closes (the kernel unlocks), the deadline stays.
        drop(lease);
        assert!(
            std::fs::metadata(dir.join("session.json.lock"))
                .unwrap()
                .len()
                > 0
        );
        assert!(!b.leased().unwrap(), "the lock is free");
        let lease = b.try_lease(Duration::from_secs(40)).unwrap().unwrap();
        assert!(a.leased().unwrap(), "held again");
        b.release(lease);
    }

    #[test]
    fn foreign_files_are_refused_untouched() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        let key = dir.join("merchant.jwk");
        let jwk = br#"{"kty":"EC","crv":"P-384","x":"a","y":"b","d":"c"}"#;
        std::fs::write(&key, jwk).unwrap();
        let e = FileStore::open(&key).unwrap_err().to_string();
        assert!(
            e.contains("private key") && e.contains("merchant.jwk"),
            "{e}"
        );
        let notes = dir.join("notes.txt");
        std::fs::write(&notes, b"shopping list").unwrap();
        assert!(FileStore::open(&notes).is_err());
        assert!(FileStore::open(&dir).is_err(), "a directory");
        assert_eq!(std::fs::read(&key).unwrap(), jwk);
        assert_eq!(std::fs::read(&notes).unwrap(), b"shopping list");
        assert!(!dir.join("merchant.jwk.lock").exists(), "nothing written");
        // Nor is a foreign file where the lock file would go.
        std::fs::write(dir.join("s.json.lock"), b"precious").unwrap();
        assert!(FileStore::open(&dir.join("s.json")).is_err());
        assert_eq!(std::fs::read(dir.join("s.json.lock")).unwrap(), b"precious");
        // An empty file and a version-1 session file are ours to replace.
        let empty = dir.join("empty.json");
        std::fs::write(&empty, b"").unwrap();
        assert_eq!(FileStore::open(&empty).unwrap().generation().unwrap(), 0);
        let legacy = dir.join("old.json");
        std::fs::write(
            &legacy,
            br#"{"format":1,"deviceId":"d","merchantKeyThumbprint":"t"}"#,
        )
        .unwrap();
        assert_eq!(FileStore::open(&legacy).unwrap().generation().unwrap(), 0);
    }

    #[test]
    fn stale_temporary_files_are_removed_at_start() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_owned();
        let path = dir.join("session.json");
        // What a writer killed before its rename leaves: one of today's names, and one of
        // the versions before `tempfile`.
        let stale = [
            ".session.json.Ab3dEf9hIj0K.tmp",
            ".session.json.9990.abcd0120.tmp",
        ];
        for name in stale {
            std::fs::write(dir.join(name), b"x").unwrap();
        }
        std::fs::write(dir.join("unrelated.tmp"), b"keep").unwrap();
        // A sibling store's temporary (its name starts with this one's) is not ours.
        let sibling = ".session.json.old.4242.0123abcd.tmp";
        std::fs::write(dir.join(sibling), b"keep").unwrap();
        let _store = FileStore::open(&path).unwrap();
        let mut left: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, [sibling, "session.json.lock", "unrelated.tmp"]);
    }

    /// A refused session file says why, and the parser's error is under the problem.
    #[test]
    fn refusals_and_unusable_records_keep_their_cause() {
        use std::error::Error as _;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("session.json");
        std::fs::write(&path, b"not json").unwrap();
        let e = FileStore::open(&path).unwrap_err();
        let Error::Config(ConfigError::SessionFileRefused { problem, .. }) = &e else {
            panic!("{e:?}");
        };
        assert!(matches!(problem, SessionFileProblem::NotJson(_)), "{e:?}");
        assert!(e.to_string().contains("session.json"), "{e}");
        // Error::Config is transparent: its source is the problem, and the parser's error
        // is under that.
        let under = e
            .source()
            .and_then(|s| s.downcast_ref::<SessionFileProblem>())
            .unwrap_or_else(|| panic!("no SessionFileProblem under {e:?}"));
        assert!(under.source().is_some_and(|s| s.is::<serde_json::Error>()));

        // The store was fine at start; then something else overwrote the file.
        std::fs::remove_file(&path).unwrap();
        let store = FileStore::open(&path).unwrap();
        std::fs::write(&path, br#"{"alliancepaySession":2}"#).unwrap();
        let e = store.load().unwrap_err();
        assert!(matches!(e, StoreError::Invalid(_)), "{e:?}");
        let fault = e.source().unwrap();
        let problem = fault
            .source()
            .and_then(|s| s.downcast_ref::<SessionFileProblem>())
            .unwrap_or_else(|| panic!("no SessionFileProblem under {e:?}"));
        assert!(
            matches!(problem, SessionFileProblem::UnreadableRecord(_)),
            "{problem:?}"
        );
        assert!(
            problem
                .source()
                .is_some_and(|s| s.is::<serde_json::Error>())
        );
    }
}
