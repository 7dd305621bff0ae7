//! # gan-data
//!
//! MNIST for gan-rs, from the bytes on a mirror to batches on a device.
//!
//! - [`idx`]: a validating reader for IDX files, raw or gzipped; every inconsistency is an
//!   [`IdxError`] naming the file.
//! - [`mnist`]: the four canonical files with their checksums, and [`Mnist`] = train + test
//!   [`Split`]s.
//! - [`checksum`]: SHA-256 of decompressed content (mirrors recompress, content is canonical).
//! - [`download`] (feature `download`): mirrors, retries, verification, atomic installs.
//! - [`Scaling`] maps bytes to `[0, 1]` or `[-1, 1]`; [`BatchSampler`] picks seeded,
//!   reproducible batches; with feature `tensor` (default) both work on libtorch tensors.
//! - [`default_data_dir`]: the directory `gan` and `cargo xtask fetch-data` agree on.
//!
//! ```no_run
//! use gan_data::{default_data_dir, BatchSampler, Mnist, Sampling};
//!
//! let mnist = Mnist::load(&default_data_dir())?;
//! let mut sampler = BatchSampler::new(mnist.train.len(), 128, Sampling::WithReplacement, 42);
//! let first_batch: Vec<i64> = sampler.indices(0);
//! assert_eq!(first_batch.len(), 128);
//! # Ok::<(), gan_data::DataError>(())
//! ```

pub mod batch;
pub mod checksum;
#[cfg(feature = "download")]
pub mod download;
pub mod error;
pub mod idx;
pub mod mnist;
pub mod paths;
pub mod scaling;
#[cfg(feature = "tensor")]
mod tensor;

pub use batch::{BatchSampler, Sampling};
#[cfg(feature = "download")]
pub use download::{FetchOutcome, FetchProgress, Fetcher, Mirror, NoProgress};
pub use error::{DataError, IdxError};
pub use idx::{read_idx, read_images, read_labels, IdxArray, Images};
pub use mnist::{DataFile, Mnist, MnistFile, Split, MNIST_CLASSES};
pub use paths::{default_data_dir, DATA_DIR_ENV, DATA_MIRROR_ENV};
pub use scaling::Scaling;
