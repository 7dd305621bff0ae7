//! # gan-training
//!
//! Everything that turns a [`TrainConfig`] into a trained GAN and a run directory.
//!
//! - [`config`]: [`TrainConfig`] (serde/TOML) and the [`Preset`]s `tutorial` and `mlp`.
//! - [`loss`]: binary cross-entropy on logits, D accuracy.
//! - [`adam`]: [`Adam`], written here so its moments can be checkpointed.
//! - [`Trainer`]: one step of the tutorial's loop (D on real, D on fake, G through D).
//! - [`run`]: the loop with metrics, samples and checkpoints on schedule, reporting to a
//!   [`TrainObserver`]; [`run::resume`] continues a run exactly.
//! - [`RunDir`], [`checkpoint`], [`metrics`]: the files a run leaves behind, written
//!   atomically.
//! - [`TrainedGenerator`]: a checkpoint's generator, for sampling.
//!
//! ```no_run
//! use gan_training::{run, Preset, RunDir, TrainConfig, Trainer};
//!
//! let mnist = gan_data::Mnist::load(&gan_data::default_data_dir())?;
//! let config = TrainConfig::preset(Preset::Mlp);
//! let dir = RunDir::create(std::path::Path::new("runs/example"), &config)?;
//! let mut trainer = Trainer::new(&config, &mnist.train.images)?;
//! let outcome = run::train(&mut trainer, &dir, &mut run::Silent, 0.0, None)?;
//! println!("{} steps in {:.0} s", outcome.steps_done, outcome.elapsed_seconds);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod adam;
mod adam_cpu;
mod atomic;
pub mod checkpoint;
pub mod config;
mod error;
mod inference;
mod lock;
pub mod loss;
pub mod metrics;
mod omp;
pub mod run;
pub mod run_dir;
mod trainer;

pub use adam::{Adam, AdamConfig, EpsilonStyle};
pub use config::{DeviceChoice, FakeMode, Preset, TrainConfig};
pub use error::TrainError;
pub use inference::TrainedGenerator;
pub use lock::RunLock;
pub use run::{RunOutcome, TrainObserver};
pub use run_dir::RunDir;
pub use trainer::{StepMetrics, Trainer};
