//! `gan summary`: Keras-style tables of the networks of a preset or config file.

use std::path::PathBuf;

use anyhow::{Context, Result};
use gan_models::{Discriminator, Generator, Summary};
use gan_training::{Preset, TrainConfig};
use tch::nn::VarStore;

#[derive(clap::Args, Debug)]
pub struct SummaryArgs {
    /// Preset whose networks to describe.
    #[arg(long, default_value = "mlp", value_parser = ["tutorial", "mlp"])]
    pub preset: String,
    /// A config file (as written into run directories) instead of a preset.
    #[arg(long, conflicts_with = "preset")]
    pub config: Option<PathBuf>,
}

pub fn run(args: &SummaryArgs) -> Result<()> {
    let config = match &args.config {
        Some(path) => TrainConfig::from_toml_file(path)
            .with_context(|| format!("reading config {}", path.display()))?,
        None => TrainConfig::preset(Preset::parse(&args.preset)?),
    };
    let vs = VarStore::new(tch::Device::Cpu);
    let generator = Generator::new(&vs.root(), &config.generator, 0)?;
    println!("{}\n", Summary::new("generator", generator.layers(), &vs));
    let vs = VarStore::new(tch::Device::Cpu);
    let discriminator = Discriminator::new(&vs.root(), &config.discriminator, 0)?;
    println!(
        "{}",
        Summary::new("discriminator", discriminator.layers(), &vs)
    );
    Ok(())
}
