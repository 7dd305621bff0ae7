//! # gan-eval
//!
//! Numbers instead of eyeballing: realism and diversity of generated MNIST digits, measured
//! with a small classifier trained here.
//!
//! - [`Classifier`]: a LeNet-5-style CNN; its committed, checksummed weights load offline.
//!   [`train_classifier`] reproduces them (`gan eval train-classifier`).
//! - [`statistics`]: Gaussian fits and the Fréchet distance, in f64 with symmetric
//!   eigendecompositions.
//! - [`inception`]: the classifier's Inception Score and mode coverage.
//! - [`manifold`]: precision and recall of the sample manifold (k = 3).
//! - [`conditional`]: for samples of requested classes, label accuracy and per-class FID.
//! - [`spread`]: the same scores over several sample draws, as mean, spread and range.
//! - [`Evaluator`]: all of them for a set of images against MNIST's test set, as an
//!   [`EvalReport`].
//!
//! ```no_run
//! use gan_eval::Evaluator;
//!
//! let mnist = gan_data::Mnist::load(&gan_data::default_data_dir())?;
//! let evaluator = Evaluator::new(&mnist.test, tch::Device::Cpu)?;
//! let floor = evaluator.evaluate(&mnist.train.images)?;
//! println!("{floor}");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod classifier;
pub mod conditional;
mod error;
mod evaluator;
pub mod inception;
pub mod manifold;
pub mod spread;
pub mod statistics;
mod train;

pub use classifier::Classifier;
pub use conditional::{ClassScore, LabelScores};
pub use error::EvalError;
pub use evaluator::{uniform_noise, EvalReport, Evaluator, K, MIN_CLASS_SAMPLES};
pub use inception::ModeCoverage;
pub use spread::{ScoreSpread, Spread};
pub use train::{accuracy, train_classifier, ClassifierTraining};
