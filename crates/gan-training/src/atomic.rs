//! Durable file replacement: write a temporary file beside the target, sync it, rename it over
//! the target, sync the directory. Readers see the old file or the new one, never a mix. And
//! the removal of a file that may already be gone.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::TrainError;

/// Removes the file at `path`; one that is not there is already what was asked for.
pub fn remove_if_present(path: &Path) -> Result<(), TrainError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(TrainError::io(path, e)),
        _ => Ok(()),
    }
}

/// Replaces `path` with `bytes` atomically and durably.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), TrainError> {
    write_atomic_with(path, |tmp| {
        let mut f = File::create(tmp)?;
        f.write_all(bytes)?;
        Ok(())
    })
}

/// Like [`write_atomic`], with `write` producing the temporary file at the path it is given.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&Path) -> std::io::Result<()>,
) -> Result<(), TrainError> {
    let tmp = temp_path(path);
    let result = write(&tmp)
        .and_then(|()| File::open(&tmp)?.sync_all())
        .and_then(|()| std::fs::rename(&tmp, path))
        .and_then(|()| sync_dir(path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(TrainError::io(path, without_temp_path(e, &tmp)));
    }
    Ok(())
}

/// `e` with the temporary file's path (which a writer such as libtorch's may quote) left out:
/// the error names the file being written.
fn without_temp_path(e: std::io::Error, tmp: &Path) -> std::io::Error {
    let text = e.to_string();
    let tmp = tmp.display().to_string();
    if text.contains(&tmp) {
        std::io::Error::new(e.kind(), text.replace(&tmp, "the temporary file"))
    } else {
        e
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

fn sync_dir(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn errors_do_not_name_the_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.safetensors");
        let err = write_atomic_with(&path, |tmp| {
            Err(std::io::Error::other(format!(
                "cannot write {}",
                tmp.display()
            )))
        })
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("a.safetensors") && !err.contains(".tmp-"),
            "{err}"
        );
    }

    #[test]
    fn failed_write_keeps_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        write_atomic(&path, b"one").unwrap();
        let err = write_atomic_with(&path, |_| Err(std::io::Error::other("disk full")));
        assert!(err.unwrap_err().to_string().contains("disk full"));
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
