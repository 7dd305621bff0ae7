//! The multilayer-perceptron architecture: the tutorial's networks and their variants.

mod config;
mod discriminator;
mod generator;

pub use config::{MlpDiscriminatorConfig, MlpGeneratorConfig};
pub use discriminator::MlpDiscriminator;
pub use generator::MlpGenerator;
