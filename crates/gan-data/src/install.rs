//! Putting a finished temporary file in place: readable by everyone, renamed over the target,
//! the rename made durable. Readers see the old file or the new one, never a part.

use std::path::Path;

use crate::error::DataError;

/// Installs the (already written and synced) temporary file `part` at `path`.
pub(crate) fn install(part: tempfile::NamedTempFile, path: &Path) -> Result<(), DataError> {
    // Temporary files are private (0600); data files are for every user of the cache.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        part.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(|e| DataError::io(path, e))?;
    }
    part.persist(path)
        .map_err(|e| DataError::io(path, without_temp_path(e.error)))?;
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| DataError::io(dir, e))?;
    }
    Ok(())
}

/// `e` without the " at path …" that `tempfile` adds: the name of a temporary file means
/// nothing to the person reading the error, which names the file being written.
pub(crate) fn without_temp_path(e: std::io::Error) -> std::io::Error {
    let text = e.to_string();
    match text.find(" at path ") {
        Some(at) => std::io::Error::new(e.kind(), &text[..at]),
        None => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_names_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("gone");
        let err = tempfile::NamedTempFile::new_in(&missing).unwrap_err();
        assert!(err.to_string().contains(" at path "), "{err}");
        let clean = without_temp_path(err).to_string();
        assert!(
            !clean.contains("gone") && !clean.contains(".tmp"),
            "{clean}"
        );
        assert_eq!(clean, std::io::Error::from_raw_os_error(2).to_string());
    }
}
