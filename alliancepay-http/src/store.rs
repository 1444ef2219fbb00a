//! Files: the merchant key and the session file, written atomically and readable by the
//! owner only.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use alliancepay_jose::PrivateJwk;
use zeroize::Zeroizing;

use crate::Error;
use crate::error::ConfigError;

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

fn unreadable_key(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| {
        Error::Config(ConfigError::KeyFileUnreadable {
            path: path.to_owned(),
            source,
        })
    }
}

/// How many random characters (`[A-Za-z0-9]`) `tempfile` puts between the prefix and the suffix.
const TEMP_RANDOM_LEN: usize = 12;

/// The directory, prefix and suffix of the temporary files [`write_private_file`] makes beside
/// `path`: `.NAME.` + random + `.tmp`.
fn temp_affixes(path: &Path) -> (PathBuf, String, &'static str) {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    (dir, format!(".{name}."), ".tmp")
}

/// A new, empty temporary file beside `path` (named by [`temp_affixes`], owner-only), and the
/// directory it is in.
fn temp_beside(path: &Path) -> std::io::Result<(tempfile::NamedTempFile, PathBuf)> {
    let (dir, prefix, suffix) = temp_affixes(path);
    let mut builder = tempfile::Builder::new();
    builder
        .prefix(&prefix)
        .suffix(suffix)
        .rand_bytes(TEMP_RANDOM_LEN);
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600));
    Ok((builder.tempfile_in(&dir)?, dir))
}

/// Writes `contents` to `path` atomically: a temporary file beside it (`tempfile` creates it
/// exclusively under a random name, mode 0600 on Unix), flushed to disk, then renamed over
/// `path`. A crash leaves the old file or the new one, never half of one; a temporary file
/// left by a crash is removed by [`remove_stale_temps`].
///
/// # Errors
/// [`Error::Io`] naming the file.
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), Error> {
    // On an error before the rename, dropping the temporary file removes it.
    let (mut temp, dir) = temp_beside(path).map_err(io_error(path))?;
    temp.write_all(contents).map_err(io_error(path))?;
    temp.as_file().sync_all().map_err(io_error(path))?;
    temp.persist(path).map_err(|e| io_error(path)(e.error))?;
    // Make the rename itself durable; not every platform lets a directory be opened.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Removes the temporary files [`write_private_file`] left beside `path` when its writer died
/// (`.NAME.RANDOM.tmp`). Call it only when no other writer of `path` can be running, such
/// as while holding the session store's lock. Returns how many were removed.
pub fn remove_stale_temps(path: &Path) -> usize {
    let (dir, prefix, suffix) = temp_affixes(path);
    let Ok(entries) = fs::read_dir(&dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.strip_prefix(prefix.as_str())
                .and_then(|rest| rest.strip_suffix(suffix))
                .is_some_and(is_temp_middle)
        })
        .filter(|e| fs::remove_file(e.path()).is_ok())
        .count()
}

/// Whether `middle` is the random part of one of our temporary names: exactly
/// [`TEMP_RANDOM_LEN`] ASCII letters and digits, or the `PID.8-HEX-DIGITS` that versions
/// before `tempfile` wrote (so their leftovers go too). Only these, so a sibling store's
/// temporaries (`.NAME.other.…`, its name starting with this one's) are never taken for this
/// store's.
fn is_temp_middle(middle: &str) -> bool {
    let current =
        middle.len() == TEMP_RANDOM_LEN && middle.bytes().all(|b| b.is_ascii_alphanumeric());
    let earlier = middle.split_once('.').is_some_and(|(pid, random)| {
        !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && random.len() == 8
            && random.bytes().all(|b| b.is_ascii_hexdigit())
    });
    current || earlier
}

/// Whether a file is readable or writable by group or others (always `false` off Unix).
#[must_use]
pub fn is_exposed(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// Reads a private JWK from `path`, warning (through `log`) when others may read the file.
///
/// # Errors
/// [`ConfigError::KeyFileUnreadable`] (its source is the I/O error) or
/// [`ConfigError::KeyInvalid`] (its source is the JWK parser's reason), naming the file.
pub fn load_private_key(path: &Path) -> Result<PrivateJwk, Error> {
    let text = Zeroizing::new(fs::read(path).map_err(unreadable_key(path))?);
    if is_exposed(path) {
        tracing::warn!(
            "private key file {} is readable by other users; run: chmod 600 {}",
            path.display(),
            path.display()
        );
    }
    PrivateJwk::from_json(text.trim_ascii()).map_err(|source| {
        Error::Config(ConfigError::KeyInvalid {
            path: path.to_owned(),
            private: true,
            source,
        })
    })
}

/// Reads a public JWK (a private one is accepted and its public half used).
///
/// # Errors
/// As [`load_private_key`].
pub fn load_public_key(path: &Path) -> Result<alliancepay_jose::PublicJwk, Error> {
    let text = fs::read(path).map_err(unreadable_key(path))?;
    alliancepay_jose::PublicJwk::from_json(text.trim_ascii())
        .or_else(|e| {
            PrivateJwk::from_json(text.trim_ascii())
                .map(|k| *k.public_jwk())
                .map_err(|_| e)
        })
        .map_err(|source| {
            Error::Config(ConfigError::KeyInvalid {
                path: path.to_owned(),
                private: false,
                source,
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_restricts() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("session.json");
        write_private_file(&path, b"one").unwrap();
        write_private_file(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert!(!is_exposed(&path));
        let leftovers: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name() != "session.json")
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        let missing = write_private_file(&dir.join("no/such/dir/x"), b"x").unwrap_err();
        assert!(missing.to_string().contains("no/such/dir"), "{missing}");
    }

    #[cfg(unix)]
    #[test]
    fn exposed_key_files_are_detected() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("key.jwk");
        let key = PrivateJwk::generate(&mut crate::crypto::os_rng()).unwrap();
        write_private_file(&path, crate::crypto::private_jwk_to_string(&key).as_bytes()).unwrap();
        assert!(!is_exposed(&path));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(is_exposed(&path));
        assert_eq!(
            load_private_key(&path).unwrap().public_jwk(),
            key.public_jwk()
        );
        assert_eq!(load_public_key(&path).unwrap(), *key.public_jwk());
        fs::write(&path, b"{\"kty\":\"EC\"}").unwrap();
        assert!(
            load_private_key(&path)
                .unwrap_err()
                .to_string()
                .contains("key.jwk")
        );
    }

    /// A key file that is missing or not a JWK is a configuration error whose source is the
    /// operating system's error or the JWK parser's.
    #[test]
    fn key_file_errors_keep_their_cause() {
        use std::error::Error as _;
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("missing.jwk");
        let e = load_private_key(&missing).unwrap_err();
        assert!(
            matches!(e, Error::Config(ConfigError::KeyFileUnreadable { .. })),
            "{e:?}"
        );
        assert!(e.to_string().contains("missing.jwk"), "{e}");
        let io = e
            .source()
            .and_then(|s| s.downcast_ref::<std::io::Error>())
            .unwrap_or_else(|| panic!("no io::Error under {e:?}"));
        assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
        let e = load_public_key(&missing).unwrap_err();
        assert!(e.source().is_some_and(|s| s.is::<std::io::Error>()));

        let garbage = tmp.path().join("garbage.jwk");
        fs::write(&garbage, b"{\"kty\":\"EC\"}").unwrap();
        let e = load_private_key(&garbage).unwrap_err();
        assert!(
            e.source()
                .is_some_and(|s| s.is::<alliancepay_jose::JwkError>()),
            "{e:?}"
        );
    }

    /// A writer that dies between creating its temporary file and the rename leaves the file
    /// behind; the next lease holder's sweep recognises exactly that name and nothing else.
    #[test]
    fn a_dead_writers_temporary_file_is_swept() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("session.json");
        let (temp, _) = temp_beside(&path).unwrap();
        let (_, left) = temp.keep().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&left).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        }
        fs::write(tmp.path().join(".session.json.old.tmp"), b"keep").unwrap();
        fs::write(tmp.path().join(".session.json.4242.0123abcd.tmp"), b"x").unwrap();
        assert_eq!(remove_stale_temps(&path), 2);
        assert!(!left.exists(), "{}", left.display());
        assert!(tmp.path().join(".session.json.old.tmp").exists());
    }
}
