//! One writer per run directory: `gan.lock` holds the training process's PID.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::TrainError;

pub const LOCK_FILE: &str = "gan.lock";

/// Held while a process trains in a run directory; released (file removed) on drop.
#[derive(Debug)]
pub struct RunLock {
    path: PathBuf,
}

impl RunLock {
    /// Takes the lock of the run directory `root`. A lock whose process is gone (a crash, a
    /// `kill -9`) is taken over with a warning; a live one is an error naming its PID.
    pub fn acquire(root: &Path) -> Result<RunLock, TrainError> {
        let path = root.join(LOCK_FILE);
        for _ in 0..2 {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    writeln!(file, "{}", std::process::id())
                        .and_then(|()| file.sync_all())
                        .map_err(|e| TrainError::io(&path, e))?;
                    return Ok(RunLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    match text.trim().parse::<u32>() {
                        Ok(pid) if pid != std::process::id() && process_alive(pid) => {
                            return Err(TrainError::Locked {
                                path: root.to_owned(),
                                pid,
                            });
                        }
                        _ => {
                            tracing::warn!(
                                lock = %path.display(),
                                holder = text.trim(),
                                "taking over a stale lock (its process is gone)"
                            );
                            std::fs::remove_file(&path).map_err(|e| TrainError::io(&path, e))?;
                        }
                    }
                }
                Err(e) => return Err(TrainError::io(&path, e)),
            }
        }
        Err(TrainError::io(
            &path,
            std::io::Error::other("another process keeps re-creating the lock"),
        ))
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Whether a process with this PID exists (Linux: `/proc/<pid>`; elsewhere assumed alive).
fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_holder_is_refused_with_the_pid_then_released() {
        let dir = tempfile::tempdir().unwrap();
        // PID 1 is alive on any Unix system and is never this test.
        std::fs::write(dir.path().join(LOCK_FILE), "1\n").unwrap();
        let err = RunLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(err.contains("PID 1"), "{err}");
        std::fs::remove_file(dir.path().join(LOCK_FILE)).unwrap();
        let lock = RunLock::acquire(dir.path()).unwrap();
        assert!(dir.path().join(LOCK_FILE).exists());
        drop(lock);
        assert!(!dir.path().join(LOCK_FILE).exists());
    }

    #[test]
    fn stale_lock_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        // Beyond Linux's PID limit (2^22), so no such process.
        std::fs::write(dir.path().join(LOCK_FILE), "99999999\n").unwrap();
        let _lock = RunLock::acquire(dir.path()).unwrap();
        let holder = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert_eq!(holder.trim(), std::process::id().to_string());
    }
}
