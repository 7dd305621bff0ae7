//! `gan summary`: Keras-style tables of the networks of a preset or config file.

use std::path::PathBuf;

use anyhow::{Context, Result};
use gan_training::{TrainConfig, DEFAULT_PRESET};

#[derive(clap::Args, Debug)]
pub struct SummaryArgs {
    /// Preset whose networks to describe.
    #[arg(long, default_value = DEFAULT_PRESET, value_parser = super::presets::parser())]
    pub preset: String,
    /// A config file (as written into run directories) instead of a preset.
    #[arg(long, conflicts_with = "preset")]
    pub config: Option<PathBuf>,
}

pub fn run(args: &SummaryArgs) -> Result<()> {
    let config = match &args.config {
        Some(path) => TrainConfig::from_toml_file(path)
            .with_context(|| format!("reading config {}", path.display()))?,
        None => TrainConfig::preset(&args.preset)?,
    };
    let summaries = gan_training::model_summaries(&config)?;
    let last = summaries.len().saturating_sub(1);
    for (i, summary) in summaries.iter().enumerate() {
        println!("{summary}{}", if i < last { "\n" } else { "" });
    }
    Ok(())
}
