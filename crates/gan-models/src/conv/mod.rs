//! The convolutional (DCGAN) architecture: a generator of transposed convolutions and a
//! discriminator (critic) of strided ones, with optional spectral normalisation.

mod config;
mod discriminator;
mod generator;
pub(crate) mod layer;
mod spectral;

pub use config::{ConvDiscriminatorConfig, ConvGeneratorConfig, CriticNorm};
pub use discriminator::ConvDiscriminator;
pub use generator::ConvGenerator;
pub use spectral::SpectralNorm;
