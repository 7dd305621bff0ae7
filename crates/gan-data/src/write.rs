//! Writing IDX files, so generated samples (and the classes they were asked to show) can be
//! evaluated by any tool that reads MNIST.

use std::io::Write;
use std::path::Path;

use crate::error::DataError;
use crate::idx::{encode_idx, Images};
use crate::install::install;

/// Writes `images` as an IDX images file (magic 0x803), gzipped when `path` ends in `.gz`.
/// The file appears complete or not at all (temporary file, sync, rename).
pub fn write_images(path: &Path, images: &Images) -> Result<(), DataError> {
    let too_big = |what: &str| {
        DataError::io(
            path,
            std::io::Error::other(format!("{what} exceeds the IDX limit of 2^32-1")),
        )
    };
    let dims = [
        u32::try_from(images.count).map_err(|_| too_big("count"))?,
        u32::try_from(images.rows).map_err(|_| too_big("rows"))?,
        u32::try_from(images.cols).map_err(|_| too_big("columns"))?,
    ];
    write_idx(path, &dims, &images.pixels)
}

/// Writes `labels` as an IDX labels file (magic 0x801, MNIST's `*-labels-idx1-ubyte`),
/// gzipped when `path` ends in `.gz`; atomically, as [`write_images`].
pub fn write_labels(path: &Path, labels: &[u8]) -> Result<(), DataError> {
    let count = u32::try_from(labels.len()).map_err(|_| {
        DataError::io(
            path,
            std::io::Error::other("count exceeds the IDX limit of 2^32-1"),
        )
    })?;
    write_idx(path, &[count], labels)
}

fn write_idx(path: &Path, dims: &[u32], data: &[u8]) -> Result<(), DataError> {
    let raw = encode_idx(dims, data);
    let bytes = if path.extension().is_some_and(|e| e == "gz") {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&raw).map_err(|e| DataError::io(path, e))?;
        enc.finish().map_err(|e| DataError::io(path, e))?
    } else {
        raw
    };
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| DataError::io(path, crate::install::without_temp_path(e)))?;
    tmp.write_all(&bytes)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| DataError::io(path, e))?;
    install(tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::{read_images, read_labels};

    #[test]
    fn labels_round_trip_as_idx1() {
        let dir = tempfile::tempdir().unwrap();
        let labels: Vec<u8> = (0..25).map(|i| i % 10).collect();
        for name in ["l.idx", "l.idx.gz"] {
            let path = dir.path().join(name);
            write_labels(&path, &labels).unwrap();
            assert_eq!(read_labels(&path).unwrap(), labels);
        }
        let raw = std::fs::read(dir.path().join("l.idx")).unwrap();
        assert_eq!(&raw[..8], &[0, 0, 8, 1, 0, 0, 0, 25]);
    }

    #[test]
    fn round_trips_raw_and_gzipped() {
        let dir = tempfile::tempdir().unwrap();
        let images = Images {
            count: 3,
            rows: 2,
            cols: 4,
            pixels: (0..24).collect(),
        };
        for name in ["s.idx", "s.idx.gz"] {
            let path = dir.path().join(name);
            write_images(&path, &images).unwrap();
            assert_eq!(read_images(&path).unwrap(), images);
        }
        let gz = std::fs::read(dir.path().join("s.idx.gz")).unwrap();
        assert_eq!(&gz[..2], &[0x1f, 0x8b]);
    }

    #[test]
    fn unwritable_directory_names_the_path() {
        let images = Images {
            count: 1,
            rows: 1,
            cols: 1,
            pixels: vec![0],
        };
        let err = write_images(Path::new("/nonexistent/dir/s.idx"), &images).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/dir"), "{err}");
    }
}
