//! Tests on the real MNIST files. They run when `GAN_DATA_MIRROR` names a directory holding
//! them (CI points it at a read-only copy) or when they are in the default data directory,
//! and say loudly when they are skipped.

use std::path::{Path, PathBuf};

use gan_data::{local_mnist_dir, Mnist, MnistFile, DATA_MIRROR_ENV};

fn real_mnist_dir() -> Option<PathBuf> {
    let dir = local_mnist_dir();
    if dir.is_none() {
        eprintln!(
            "SKIPPED: real MNIST not found (set {DATA_MIRROR_ENV} to a directory with the four files, \
             or run `cargo xtask fetch-data`)"
        );
    }
    dir
}

#[test]
fn real_mnist_loads_with_canonical_sizes() {
    let Some(dir) = real_mnist_dir() else { return };
    let mnist = Mnist::load(&dir).unwrap();
    assert_eq!(mnist.train.len(), 60_000);
    assert_eq!(mnist.test.len(), 10_000);
    assert_eq!((mnist.train.images.rows, mnist.train.images.cols), (28, 28));
    let mut counts = [0usize; 10];
    mnist
        .train
        .labels
        .iter()
        .for_each(|&l| counts[l as usize] += 1);
    // Published class counts of the training set.
    assert_eq!(
        counts,
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
}

#[test]
fn real_mnist_checksums_match() {
    let Some(dir) = real_mnist_dir() else { return };
    for file in MnistFile::ALL {
        let path = file.locate(&dir).unwrap();
        gan_data::checksum::verify_sha256(&path, &file.gz_name(), file.sha256()).unwrap();
    }
}

/// The `mnist` crate, an independent parser, is the oracle: same bytes, same labels.
#[test]
fn real_mnist_parse_equals_the_mnist_crate() {
    let Some(dir) = real_mnist_dir() else { return };
    let raw_dir = tempfile::tempdir().unwrap();
    for file in MnistFile::ALL {
        decompress_to(
            &file.locate(&dir).unwrap(),
            &raw_dir.path().join(file.file_name()),
        );
    }
    let base = format!("{}/", raw_dir.path().display());
    let oracle = mnist::MnistBuilder::new()
        .base_path(&base)
        .training_set_length(60_000)
        .validation_set_length(0)
        .test_set_length(10_000)
        .finalize();
    let ours = Mnist::load(&dir).unwrap();
    assert!(
        ours.train.images.pixels == oracle.trn_img,
        "training images differ"
    );
    assert!(
        ours.train.labels == oracle.trn_lbl,
        "training labels differ"
    );
    assert!(
        ours.test.images.pixels == oracle.tst_img,
        "test images differ"
    );
    assert!(ours.test.labels == oracle.tst_lbl, "test labels differ");
}

fn decompress_to(source: &Path, dest: &Path) {
    let bytes = std::fs::read(source).unwrap();
    let raw = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut out)
            .unwrap();
        out
    } else {
        bytes
    };
    std::fs::write(dest, raw).unwrap();
}

#[cfg(feature = "download")]
#[test]
fn real_mnist_fetch_from_local_mirror_then_skip() {
    use gan_data::{FetchOutcome, Fetcher, Mirror, NoProgress};
    let Some(dir) = real_mnist_dir() else { return };
    let target = tempfile::tempdir().unwrap();
    let fetcher = Fetcher::new(vec![Mirror::Dir(dir)]);
    let first = fetcher.fetch_mnist(target.path(), &NoProgress).unwrap();
    assert!(first
        .iter()
        .all(|o| matches!(o, FetchOutcome::Fetched { .. })));
    let second = fetcher.fetch_mnist(target.path(), &NoProgress).unwrap();
    assert!(second
        .iter()
        .all(|o| matches!(o, FetchOutcome::AlreadyPresent(_))));
    Mnist::load(target.path()).unwrap();
}
