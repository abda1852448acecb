//! Replacing a file safely, for everything the kernel and the prelude save (notebooks written
//! by `trainbook run`, checkpoints, studies, images): readers see the old file or the new one,
//! never half of one, and a crash right after a save keeps the save.
//!
//! The new content goes to a temporary file that this call creates exclusively (`O_EXCL`, so a
//! symlink planted under that name is not followed, and two threads saving the same path do
//! not share one), with the permissions of the file it replaces; it is flushed to disk, renamed
//! over the target, and the folder is flushed too.
//!
//! ```
//! let dir = std::env::temp_dir().join(format!("files-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("study.json");
//! trainbook_wire::files::replace(&path, |temporary| std::fs::write(temporary, "{}")).unwrap();
//! assert_eq!(std::fs::read_to_string(&path).unwrap(), "{}");
//! # std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `path` anew: `write` fills the temporary file it is given (by path, for libraries
/// that only save to a path), which then replaces `path`. On error the temporary file is
/// removed and `path` is untouched.
pub fn replace<E: From<io::Error>>(
    path: &Path,
    write: impl FnOnce(&Path) -> Result<(), E>,
) -> Result<(), E> {
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} names no file", path.display()),
        )
    })?;
    // Keep the mode of the file being replaced (a 0600 notebook stays 0600).
    let mode = std::fs::metadata(path).ok().map(|m| permissions_mode(&m));
    let (temporary, file) = create_temporary(&folder, &name.to_string_lossy(), mode)?;
    drop(file);
    let result = write(&temporary).and_then(|()| {
        File::open(&temporary)?.sync_all()?;
        std::fs::rename(&temporary, path)?;
        // The rename itself is on disk once the folder is.
        if let Ok(dir) = File::open(&folder) {
            let _ = dir.sync_all();
        }
        Ok(())
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result
}

fn create_temporary(folder: &Path, name: &str, mode: Option<u32>) -> io::Result<(PathBuf, File)> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let unique = format!(
            ".{name}.{}-{}-{nanos:08x}.tmp",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let candidate = folder.join(unique);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(mode.unwrap_or(0o666));
        }
        #[cfg(not(unix))]
        let _ = mode;
        match options.open(&candidate) {
            Ok(file) => {
                // The umask must not widen or narrow a kept mode.
                #[cfg(unix)]
                if let Some(mode) = mode {
                    use std::os::unix::fs::PermissionsExt;
                    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
                }
                return Ok((candidate, file));
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

#[cfg(unix)]
fn permissions_mode(metadata: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o7777
}

#[cfg(not(unix))]
fn permissions_mode(_: &std::fs::Metadata) -> u32 {
    0o644
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("wire-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[cfg(unix)]
    #[test]
    fn keeps_the_mode_and_does_not_follow_symlinks() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("mode");
        let path = dir.join("private.ipynb");
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        // A symlink planted where a predictable temporary name would be.
        let victim = dir.join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        std::os::unix::fs::symlink(&victim, dir.join("private.ipynb.tmp")).unwrap();
        replace(&path, |t| std::fs::write(t, "new")).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        // Nothing left behind but the three names.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn threads_saving_one_path_never_collide_and_a_failure_leaves_the_old_file() {
        let dir = scratch("threads");
        let path = dir.join("checkpoint.bin");
        let writers: Vec<_> = (0..8)
            .map(|i| {
                let path = path.clone();
                std::thread::spawn(move || {
                    for _ in 0..20 {
                        replace(&path, |t| std::fs::write(t, vec![i as u8; 4096])).unwrap();
                    }
                })
            })
            .collect();
        for writer in writers {
            writer.join().unwrap();
        }
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 4096);
        assert!(bytes.iter().all(|&b| b == bytes[0]), "two saves mixed");
        let failed: Result<(), io::Error> = replace(&path, |_| Err(io::Error::other("disk full")));
        assert!(failed.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "a temporary file was left"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
