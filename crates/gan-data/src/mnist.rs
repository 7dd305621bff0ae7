//! The four canonical MNIST files, their checksums, and the validated train/test splits.

use std::path::{Path, PathBuf};

use crate::error::{DataError, IdxError};
use crate::idx::{read_images, read_labels, Images};

/// Number of classes (digits) in MNIST.
pub const MNIST_CLASSES: usize = 10;

/// One of the four files that make up MNIST.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MnistFile {
    TrainImages,
    TrainLabels,
    TestImages,
    TestLabels,
}

impl MnistFile {
    pub const ALL: [MnistFile; 4] = [
        MnistFile::TrainImages,
        MnistFile::TrainLabels,
        MnistFile::TestImages,
        MnistFile::TestLabels,
    ];

    /// The canonical (uncompressed) file name, as published by LeCun et al.
    pub fn file_name(self) -> &'static str {
        match self {
            MnistFile::TrainImages => "train-images-idx3-ubyte",
            MnistFile::TrainLabels => "train-labels-idx1-ubyte",
            MnistFile::TestImages => "t10k-images-idx3-ubyte",
            MnistFile::TestLabels => "t10k-labels-idx1-ubyte",
        }
    }

    /// The gzipped name under which mirrors publish it and under which it is stored.
    pub fn gz_name(self) -> String {
        format!("{}.gz", self.file_name())
    }

    /// SHA-256 of the decompressed file. Mirrors recompress, so the gzip bytes differ between
    /// them; the content does not.
    pub fn sha256(self) -> &'static str {
        match self {
            MnistFile::TrainImages => {
                "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db"
            }
            MnistFile::TrainLabels => {
                "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5"
            }
            MnistFile::TestImages => {
                "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7"
            }
            MnistFile::TestLabels => {
                "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"
            }
        }
    }

    /// Name and checksum, for fetching and verifying.
    pub fn data_file(self) -> DataFile {
        DataFile {
            gz_name: self.gz_name(),
            raw_name: self.file_name().to_owned(),
            sha256: self.sha256().to_owned(),
        }
    }

    /// Where this file lives in `dir`: the gzipped name, else the raw one.
    pub fn locate(self, dir: &Path) -> Result<PathBuf, DataError> {
        self.data_file().locate(dir)
    }
}

/// A data file as stored on mirrors and on disk: gzipped or raw, with the SHA-256 of its
/// decompressed content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataFile {
    pub gz_name: String,
    pub raw_name: String,
    pub sha256: String,
}

impl DataFile {
    /// Where this file lives in `dir`: the gzipped name, else the raw one.
    pub fn locate(&self, dir: &Path) -> Result<PathBuf, DataError> {
        let gz = dir.join(&self.gz_name);
        if gz.is_file() {
            return Ok(gz);
        }
        let raw = dir.join(&self.raw_name);
        if raw.is_file() {
            return Ok(raw);
        }
        Err(DataError::Missing {
            dir: dir.to_owned(),
            file: self.gz_name.clone(),
        })
    }
}

/// Labelled images whose counts agree and whose labels are all in range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub images: Images,
    pub labels: Vec<u8>,
}

impl Split {
    /// Pairs images with labels, checking counts and that every label is below `classes`.
    /// The paths only name the sources in errors.
    pub fn new(
        images: Images,
        images_path: &Path,
        labels: Vec<u8>,
        labels_path: &Path,
        classes: usize,
    ) -> Result<Split, IdxError> {
        if images.count != labels.len() {
            return Err(IdxError::CountMismatch {
                images_path: images_path.to_owned(),
                images: images.count,
                labels_path: labels_path.to_owned(),
                labels: labels.len(),
            });
        }
        if let Some((index, &label)) = labels
            .iter()
            .enumerate()
            .find(|(_, &l)| usize::from(l) >= classes)
        {
            return Err(IdxError::LabelOutOfRange {
                path: labels_path.to_owned(),
                index,
                label,
                classes,
            });
        }
        Ok(Split { images, labels })
    }

    /// Reads and validates an images file and its labels file.
    pub fn load(images_path: &Path, labels_path: &Path, classes: usize) -> Result<Split, IdxError> {
        let (images, labels) = std::thread::scope(|s| {
            let images = s.spawn(|| read_images(images_path));
            let labels = read_labels(labels_path);
            (images.join().expect("IDX reader thread panicked"), labels)
        });
        Split::new(images?, images_path, labels?, labels_path, classes)
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

/// MNIST: 60,000 training and 10,000 test images of 28×28 handwritten digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mnist {
    pub train: Split,
    pub test: Split,
}

impl Mnist {
    /// Whether `dir` holds all four files (gzipped or raw); says nothing of their content.
    pub fn is_complete(dir: &Path) -> bool {
        MnistFile::ALL.iter().all(|f| f.locate(dir).is_ok())
    }

    /// Loads the four files from `dir` (gzipped or raw), validating structure and labels. Any
    /// size of split is accepted, so subsets load too; checksums are checked when fetching.
    pub fn load(dir: &Path) -> Result<Mnist, DataError> {
        let paths: Vec<PathBuf> = MnistFile::ALL
            .iter()
            .map(|f| f.locate(dir))
            .collect::<Result<_, _>>()?;
        let started = std::time::Instant::now();
        let (train, test) = std::thread::scope(|s| {
            let train = s.spawn(|| Split::load(&paths[0], &paths[1], MNIST_CLASSES));
            let test = Split::load(&paths[2], &paths[3], MNIST_CLASSES);
            (train.join().expect("IDX reader thread panicked"), test)
        });
        let damaged = |source| DataError::DamagedMnist { source };
        let mnist = Mnist {
            train: train.map_err(damaged)?,
            test: test.map_err(damaged)?,
        };
        tracing::debug!(
            dir = %dir.display(),
            train = mnist.train.len(),
            test = mnist.test.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "loaded MNIST"
        );
        Ok(mnist)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::idx::encode_idx;

    fn write_set(dir: &Path, count: u32, labels: &[u8]) {
        let pixels: Vec<u8> = (0..count * 784).map(|i| (i % 256) as u8).collect();
        std::fs::write(
            dir.join(MnistFile::TrainImages.file_name()),
            encode_idx(&[count, 28, 28], &pixels),
        )
        .unwrap();
        std::fs::write(
            dir.join(MnistFile::TrainLabels.file_name()),
            encode_idx(&[labels.len() as u32], labels),
        )
        .unwrap();
        std::fs::write(
            dir.join(MnistFile::TestImages.file_name()),
            encode_idx(&[1, 28, 28], &[0; 784]),
        )
        .unwrap();
        std::fs::write(
            dir.join(MnistFile::TestLabels.file_name()),
            encode_idx(&[1], &[7]),
        )
        .unwrap();
    }

    #[test]
    fn loads_a_small_subset() {
        let dir = tempfile::tempdir().unwrap();
        write_set(dir.path(), 3, &[0, 5, 9]);
        let mnist = Mnist::load(dir.path()).unwrap();
        assert_eq!(mnist.train.len(), 3);
        assert_eq!(mnist.train.labels, vec![0, 5, 9]);
        assert_eq!(mnist.test.labels, vec![7]);
        assert_eq!(mnist.train.images.image(1)[0], (784 % 256) as u8);
    }

    #[test]
    fn label_out_of_range() {
        let dir = tempfile::tempdir().unwrap();
        write_set(dir.path(), 3, &[0, 10, 9]);
        let err = Mnist::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("label 10 at index 1") && err.contains("train-labels"),
            "{err}"
        );
    }

    #[test]
    fn count_mismatch() {
        let dir = tempfile::tempdir().unwrap();
        write_set(dir.path(), 3, &[0, 1]);
        let err = Mnist::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("3 images") && err.contains("2 labels"),
            "{err}"
        );
    }

    #[test]
    fn missing_file_says_how_to_fetch() {
        let dir = tempfile::tempdir().unwrap();
        let err = Mnist::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("train-images-idx3-ubyte.gz") && err.contains("fetch-data"),
            "{err}"
        );
    }
}
