//! Files: the merchant key and the session file, written atomically and readable by the
//! owner only.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use alliancepay_jose::PrivateJwk;
use zeroize::Zeroizing;

use crate::Error;

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_owned(),
        source,
    }
}

/// The prefix and suffix of the temporary files [`write_private_file`] makes beside `path`.
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

/// Writes `contents` to `path` atomically: a temporary file beside it with a name no other
/// writer uses (process id and random part, created exclusively, mode 0600 on Unix), flushed
/// to disk, then renamed over `path`. A crash leaves the old file or the new one, never half
/// of one; a temporary file left by a crash is removed by [`remove_stale_temps`].
///
/// # Errors
/// [`Error::Io`] naming the file.
pub fn write_private_file(path: &Path, contents: &[u8]) -> Result<(), Error> {
    let (dir, prefix, suffix) = temp_affixes(path);
    let unique = crate::crypto::new_uuid();
    let temp = dir.join(format!(
        "{prefix}{}.{}{suffix}",
        std::process::id(),
        &unique[..8]
    ));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut created = false;
    let result = (|| {
        let mut file = options.open(&temp)?;
        created = true;
        file.write_all(contents)?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        // Make the rename itself durable; not every platform lets a directory be opened.
        if let Ok(d) = File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() && created {
        let _ = fs::remove_file(&temp);
    }
    result.map_err(io_error(path))
}

/// Removes the temporary files [`write_private_file`] left beside `path` when its writer died
/// (`.NAME.PID.RANDOM.tmp`). Call it only when no other writer of `path` can be running, such
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

/// Whether `middle` is the `PID.RANDOM` part of one of our temporary names: decimal digits,
/// a dot, eight hex digits. Only that, so a sibling store's temporaries (`.NAME.other.…`, its
/// name starting with this one's) are never taken for this store's.
fn is_temp_middle(middle: &str) -> bool {
    middle.split_once('.').is_some_and(|(pid, random)| {
        !pid.is_empty()
            && pid.bytes().all(|b| b.is_ascii_digit())
            && random.len() == 8
            && random.bytes().all(|b| b.is_ascii_hexdigit())
    })
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
/// [`Error::Io`] if unreadable; [`Error::Config`] naming the file and the JWK's problem.
pub fn load_private_key(path: &Path) -> Result<PrivateJwk, Error> {
    let text = Zeroizing::new(fs::read(path).map_err(io_error(path))?);
    if is_exposed(path) {
        tracing::warn!(
            "private key file {} is readable by other users; run: chmod 600 {}",
            path.display(),
            path.display()
        );
    }
    PrivateJwk::from_json(text.trim_ascii()).map_err(|e| {
        Error::Config(format!(
            "{}: not a usable private P-384 JWK: {e}",
            path.display()
        ))
    })
}

/// Reads a public JWK (a private one is accepted and its public half used).
///
/// # Errors
/// [`Error::Io`] if unreadable; [`Error::Config`] naming the file and the JWK's problem.
pub fn load_public_key(path: &Path) -> Result<alliancepay_jose::PublicJwk, Error> {
    let text = fs::read(path).map_err(io_error(path))?;
    alliancepay_jose::PublicJwk::from_json(text.trim_ascii())
        .or_else(|e| {
            PrivateJwk::from_json(text.trim_ascii())
                .map(|k| *k.public_jwk())
                .map_err(|_| e)
        })
        .map_err(|e| Error::Config(format!("{}: not a usable P-384 JWK: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("alliancepay-store-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn atomic_write_replaces_and_restricts() {
        let dir = temp_dir("atomic");
        let path = dir.join("session.json");
        write_private_file(&path, b"one").unwrap();
        write_private_file(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert!(!is_exposed(&path));
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name() != "session.json")
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        let missing = write_private_file(&dir.join("no/such/dir/x"), b"x").unwrap_err();
        assert!(missing.to_string().contains("no/such/dir"), "{missing}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn exposed_key_files_are_detected() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("exposed");
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
        fs::remove_dir_all(dir).unwrap();
    }
}
