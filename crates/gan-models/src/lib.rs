//! # gan-models
//!
//! libtorch-backed generators and discriminators for gan-rs, described by configs so that
//! variants are data, not copies.
//!
//! - [`Generator`] (noise → image) and [`Discriminator`] (image → logit): what every
//!   architecture provides, so training and tools never name a concrete network. Chosen by
//!   [`GeneratorConfig`] / [`DiscriminatorConfig`], tagged enums by `kind`.
//! - [`mlp`]: the multilayer perceptrons of the tutorial and their variants.
//! - [`conv`]: DCGAN's convolutional generator and discriminator, spectral normalisation.
//! - [`vae`]: encoders and decoders of variational autoencoders (MLP and convolutional).
//! - [`diffusion`]: denoisers of diffusion and flow models (noised image and noise level in,
//!   an image-shaped prediction out).
//! - [`conditioning`]: how class labels enter conditional networks.
//! - [`config`]: settings shared by architectures (activations, normalisation, output
//!   range, initialisation).
//!
//! How the networks run lives below them, chosen by the trainer; no network names it:
//! - [`Execution`]: the kernel dense layers multiply with ([`MatmulChoice`]: libtorch's BLAS
//!   or oneDNN, whichever [`matmul_tuning`] measures faster for a run's own shapes) and
//!   whether networks that are chains may run by hand, in effect while networks are built.
//! - [`manual`]: unconditional MLPs as a [`manual::Chain`], run forward and backward without
//!   autograd, with one fused pass per layer between the products.
//! - [`Tape`]: dense layers recorded during a forward pass ([`Tape::record`]), their weight
//!   gradients formed with the fastest product instead of autograd's.
//! - [`products`]: a step's matrix products recorded as its layers run them, for `auto`'s
//!   measurement and the bench's ceilings.
//!
//! - [`Summary`]: a Keras-style table of layers and parameter counts.
//! - [`omp`]: work split over libtorch's own OpenMP threads.
//! - [`weights`]: parameters to and from named tensors, with shape checks.
//!
//! ```no_run
//! use gan_models::{mlp::MlpGeneratorConfig, GeneratorConfig};
//! use tch::nn::VarStore;
//!
//! let vs = VarStore::new(tch::Device::Cpu);
//! let config = GeneratorConfig::Mlp(MlpGeneratorConfig::tutorial());
//! let generator = config.build(&vs.root(), 42)?;
//! let z = tch::Tensor::randn([16, 100], tch::kind::FLOAT_CPU);
//! let images = generator.forward(&z, None, gan_models::Mode::Inference);
//! assert_eq!(images.size(), vec![16, 1, 28, 28]);
//! # Ok::<(), gan_models::ModelError>(())
//! ```

mod architecture;
pub mod conditioning;
pub mod config;
pub mod conv;
pub mod diffusion;
mod error;
mod execution;
mod layers;
pub mod manual;
mod matmul;
pub mod matmul_tuning;
pub mod mlp;
mod network;
pub mod omp;
mod plain_onednn;
pub mod products;
mod summary;
mod tape;
mod transpose;
pub mod vae;
pub mod weights;

pub use architecture::{DiscriminatorConfig, GeneratorConfig};
pub use conditioning::{LabelInput, CLASSES};
pub use config::{Activation, Norm, OutputActivation, WeightInit, MNIST_SHAPE};
pub use error::ModelError;
pub use execution::Execution;
pub use layers::LayerInfo;
pub use matmul::{MatmulChoice, MatmulKernel};
pub use network::{Discriminator, Generator, Mode};
pub use summary::{thousands, Summary};
pub use tape::Tape;
