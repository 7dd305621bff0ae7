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
        .map_err(|e| DataError::io(path, e.error))?;
    #[cfg(unix)]
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| DataError::io(dir, e))?;
    }
    Ok(())
}
