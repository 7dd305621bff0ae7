//! # gan-models
//!
//! libtorch-backed generators and discriminators for gan-rs, described by configs so that
//! variants are data, not copies.
//!
//! - [`config`]: [`GeneratorConfig`] and [`DiscriminatorConfig`] (serde), with the tutorial's
//!   networks as presets.
//! - [`Generator`]: latent noise → image; [`Discriminator`]: image → logit. Both implement
//!   [`tch::nn::ModuleT`], so train/eval mode is explicit at every call.
//! - [`MatmulChoice`]: dense layers multiply with libtorch's BLAS or with oneDNN, whichever
//!   is faster on the CPU at hand.
//! - [`Tape`]: weight gradients of dense layers formed with the fastest product instead of
//!   autograd's; what the trainer uses.
//! - [`Summary`]: a Keras-style table of layers and parameter counts.
//! - [`weights`]: parameters to and from named tensors, with shape checks.
//!
//! ```no_run
//! use gan_models::{Generator, GeneratorConfig};
//! use tch::nn::{ModuleT, VarStore};
//!
//! let vs = VarStore::new(tch::Device::Cpu);
//! let generator = Generator::new(&vs.root(), &GeneratorConfig::tutorial(), 42)?;
//! let images = generator.forward_t(&tch::Tensor::randn([16, 100], tch::kind::FLOAT_CPU), false);
//! assert_eq!(images.size(), vec![16, 1, 28, 28]);
//! # Ok::<(), gan_models::ModelError>(())
//! ```

pub mod config;
mod discriminator;
mod error;
mod generator;
mod layers;
mod matmul;
mod summary;
mod tape;
pub mod weights;

pub use config::{
    Activation, DiscriminatorConfig, GeneratorConfig, Norm, OutputActivation, WeightInit,
};
pub use discriminator::Discriminator;
pub use error::ModelError;
pub use generator::Generator;
pub use layers::LayerInfo;
pub use matmul::{MatmulChoice, MatmulKernel};
pub use summary::{thousands, Summary};
pub use tape::Tape;
