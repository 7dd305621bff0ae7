//! # gan-training
//!
//! Everything that turns a [`TrainConfig`] into a trained model and a run directory.
//!
//! - [`config`]: [`TrainConfig`] (serde/TOML): the run's schedule and data, and the model.
//! - [`presets`]: named starting points as data ([`PRESETS`]).
//! - [`family`]: model families behind one [`Family`] trait (GAN, VAE), configured by
//!   [`ModelConfig`]; each is made of [`Part`]s.
//! - [`likelihood`]: held-out ELBO and importance-weighted log-likelihood of a
//!   [`LikelihoodModel`] (the VAE), in nats and bits per dimension.
//! - [`part`]: a network with its own optimizer and optional [`ema`] of its weights; it owns
//!   its checkpoint tensors.
//! - [`loss`]: the GAN losses ([`GanLoss`]: BCE, hinge, least squares, Wasserstein) and
//!   WGAN-GP's gradient penalty, D accuracy.
//! - [`adam`]: [`Adam`], written here so its moments can be checkpointed; [`schedule`]: its
//!   learning rate as a function of the step.
//! - [`Trainer`]: data, batches, step counter and fixed noise around a family.
//! - [`Backprop`] and the run's kernel: how the family's networks execute, set up below them
//!   (a [`gan_models::Execution`]) when the trainer builds the family.
//! - [`probe`]: a step's matrix products measured on a copy of the model; [`pin_matmul`]:
//!   `matmul = "auto"` resolved for a new run by timing them.
//! - [`run`]: the loop with metrics, samples and checkpoints on schedule (by steps or a time
//!   budget), reporting to a [`TrainObserver`]; [`run::resume`] continues a run exactly.
//! - [`session`]: a run's lifecycle as `gan train` runs it (checks before any write, the
//!   lock, the history), in one call ([`session::train_run`]) or step by step.
//! - [`RunDir`], [`checkpoint`], [`metrics`], [`history`], [`SavedEvaluation`]: the files a
//!   run leaves behind, written atomically.
//! - [`reflow`]: a flow relearnt from the pairs of noise and images it draws, to sample in
//!   a step or two.
//! - [`scoring`]: a checkpoint scored as `gan eval --checkpoint` does, into `eval.json`;
//!   [`steps_curve`]: a diffusion model scored at several sampler step counts.
//! - [`TrainedGenerator`]: a checkpoint's model, for sampling ([`Samples`]; requested
//!   [`Digits`] for a conditional model) and for latent walks ([`interpolation`]).
//!
//! ```no_run
//! use gan_training::session::{train_run, Plan};
//! use gan_training::{run, TrainConfig};
//!
//! let mnist = gan_data::Mnist::load(&gan_data::default_data_dir())?;
//! let config = TrainConfig::preset("mlp")?;
//! let plan = Plan::New { config, out: "runs/example".into(), overwrite: false };
//! let outcome = train_run(plan, &mnist, &mut run::Silent)?.outcome;
//! println!("{} steps in {:.0} s", outcome.steps_done, outcome.elapsed_seconds);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod adam;
mod adam_cpu;
mod atomic;
mod backprop;
pub mod checkpoint;
pub mod config;
pub mod config_file;
mod data_tensors;
pub mod ema;
mod error;
mod execution;
pub mod family;
pub mod history;
mod inference;
pub mod interpolation;
mod legacy;
pub mod likelihood;
mod lock;
pub mod loss;
mod matmul_choice;
pub mod metrics;
pub mod part;
pub mod presets;
pub mod probe;
pub mod reflow;
pub mod run;
pub mod run_dir;
pub mod saved_eval;
pub mod schedule;
pub mod scoring;
pub mod session;
pub mod steps_curve;
#[cfg(test)]
mod test_support;
mod trainer;

pub use adam::{Adam, AdamConfig, EpsilonStyle};
pub use atomic::write_atomic;
pub use backprop::Backprop;
pub use config::{DeviceChoice, TrainConfig};
pub use ema::{EmaConfig, EmaNormalization};
pub use error::TrainError;
pub use family::{
    DiscriminatorUpdate, FakeMode, Family, GanConfig, LikelihoodModel, Metric, ModelConfig,
    SampleWeights, VaeConfig,
};
pub use inference::{Digits, Samples, TrainedGenerator};
pub use interpolation::Interpolation;
pub use likelihood::LikelihoodReport;
pub use lock::RunLock;
pub use loss::GanLoss;
pub use matmul_choice::pin_matmul;
pub use metrics::StepMetrics;
pub use part::Part;
pub use presets::{Preset, TorchReference, DEFAULT_PRESET, PRESETS};
pub use run::{RunOutcome, TrainObserver};
pub use run_dir::RunDir;
pub use saved_eval::{SamplingCost, SavedEvaluation};
pub use trainer::{model_summaries, Trainer};
