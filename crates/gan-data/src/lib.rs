//! # gan-data
//!
//! MNIST for gan-rs, from the bytes on a mirror to batches on a device.
//!
//! - [`idx`]: a validating reader for IDX files, raw or gzipped; every inconsistency is an
//!   [`IdxError`] naming the file.
//! - [`mnist`]: the four canonical files with their checksums, and [`Mnist`] = train + test
//!   [`Split`]s.
//! - [`write_images`], [`write_labels`]: IDX output (raw or gzipped), for generated samples
//!   and their classes.
//! - [`checksum`]: SHA-256 of decompressed content (mirrors recompress, content is canonical).
//! - [`download`] (feature `download`): mirrors, retries, verification, atomic installs.
//! - [`Scaling`] maps bytes to `[0, 1]` or `[-1, 1]`.
//! - With feature `tensor` (default): images as libtorch tensors, [`BatchSampler`] for
//!   seeded, reproducible batches, and [`DeviceRng`], random tensors addressed by
//!   `(seed, stream)` ([`rng`]) rather than drawn from libtorch's global generator.
//! - [`default_data_dir`]: the directory `gan` and `cargo xtask fetch-data` agree on.
//!
//! ```no_run
//! use gan_data::{default_data_dir, BatchSampler, Mnist, Sampling, Scaling};
//! use tch::Device;
//!
//! let mnist = Mnist::load(&default_data_dir())?;
//! let images = mnist.train.images.to_tensor(Scaling::ZeroOne, Device::Cpu)?;
//! let mut sampler = BatchSampler::new(mnist.train.len(), 128, Sampling::WithReplacement, 42);
//! let first_batch = sampler.batch(0, &images)?;
//! assert_eq!(first_batch.size(), vec![128, 1, 28, 28]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "tensor")]
pub mod batch;
pub mod checksum;
#[cfg(feature = "tensor")]
mod device_rng;
#[cfg(feature = "download")]
pub mod download;
pub mod error;
pub mod idx;
mod install;
pub mod mnist;
pub mod paths;
pub mod rng;
pub mod scaling;
#[cfg(feature = "tensor")]
mod tensor;
mod write;

#[cfg(feature = "tensor")]
pub use batch::{BatchSampler, Sampling};
#[cfg(feature = "tensor")]
pub use device_rng::DeviceRng;
#[cfg(feature = "download")]
pub use download::{FetchOutcome, FetchProgress, Fetcher, Mirror, NoProgress};
pub use error::{DataError, IdxError};
pub use idx::{read_idx, read_images, read_labels, IdxArray, Images};
pub use mnist::{DataFile, Mnist, MnistFile, Split, MNIST_CLASSES};
pub use paths::{default_data_dir, local_mnist_dir, DATA_DIR_ENV, DATA_MIRROR_ENV};
pub use scaling::Scaling;
#[cfg(feature = "tensor")]
pub use tensor::write_safetensors;
pub use write::{write_images, write_labels};
