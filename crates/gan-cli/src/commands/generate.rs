//! `gan generate`: images from a trained generator, as a grid picture and/or an IDX file.

use std::path::PathBuf;

use anyhow::{Context, Result};
use gan_data::Images;
use gan_training::{DeviceChoice, SampleWeights, TrainedGenerator};
use gan_viz::{render_grid, GridStyle};

use crate::observer::gray;

#[derive(clap::Args, Debug)]
pub struct GenerateArgs {
    /// A run directory (its newest checkpoint) or a checkpoint file in its checkpoints/.
    #[arg(long, value_name = "RUN_DIR|FILE")]
    pub checkpoint: PathBuf,
    /// How many images to generate.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub n: u64,
    /// Write the images as a grid picture (PNG).
    #[arg(long, value_name = "FILE.png")]
    pub grid: Option<PathBuf>,
    /// Write the images as an IDX file of uint8 images (gzipped if the name ends in .gz).
    #[arg(long, value_name = "FILE.idx[.gz]")]
    pub out: Option<PathBuf>,
    /// Seed of the noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// cpu, cuda, mps or auto.
    #[arg(long, default_value = "auto", value_parser = ["cpu", "cuda", "mps", "auto"])]
    pub device: String,
    /// Sample with the live weights instead of their moving average (EMA), where the model
    /// keeps one.
    #[arg(long)]
    pub raw: bool,
}

/// `--raw` as the weights to sample with.
pub fn sample_weights(raw: bool) -> SampleWeights {
    if raw {
        SampleWeights::Raw
    } else {
        SampleWeights::Ema
    }
}

/// `EMA weights` or `raw weights`, for what a command prints about its generator.
pub fn describe_weights(generator: &TrainedGenerator) -> &'static str {
    match (generator.has_ema, generator.weights) {
        (false, _) => "weights (no EMA kept)",
        (true, SampleWeights::Ema) => "EMA weights",
        (true, SampleWeights::Raw) => "raw weights",
    }
}

pub fn run(args: &GenerateArgs) -> Result<()> {
    let device = DeviceChoice::parse(&args.device)?.resolve()?;
    let generator = TrainedGenerator::load(&args.checkpoint, device, sample_weights(args.raw))
        .with_context(|| format!("loading the generator from {}", args.checkpoint.display()))?;
    let images = generator.generate(args.n as usize, args.seed)?;
    let grid_path = match (&args.grid, &args.out) {
        (None, None) => Some(PathBuf::from("generated.png")),
        (grid, _) => grid.clone(),
    };
    if let Some(path) = &args.out {
        gan_data::write_images(path, &images)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {} images to {}", images.count, path.display());
    }
    if let Some(path) = &grid_path {
        let cols = (images.count as f64).sqrt().ceil() as usize;
        let rows = images.count.div_ceil(cols);
        let padded = pad_to(&images, rows * cols);
        render_grid(gray(&padded), GridStyle::new(rows as u32, cols as u32))?
            .save_png(path)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote a {rows}×{cols} grid to {}", path.display());
    }
    println!(
        "generator: {} (step {}, {}), seed {}",
        generator.checkpoint.display(),
        generator.step,
        describe_weights(&generator),
        args.seed
    );
    Ok(())
}

/// `images` with blank images appended up to `count`.
fn pad_to(images: &Images, count: usize) -> Images {
    let mut padded = images.clone();
    padded.pixels.resize(count * images.image_len(), 0);
    padded.count = count.max(images.count);
    padded
}
