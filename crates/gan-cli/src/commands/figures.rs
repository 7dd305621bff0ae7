//! `gan figures`: what a model learned, in pictures. A VAE: test images beside their
//! reconstructions, and for a 2-d latent space the decoded manifold and the test set's codes
//! by digit. A diffusion model: the way from pure noise to a few samples.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use gan_data::{Images, Split, DATA_DIR_ENV};
use gan_training::run_dir::{
    LATENTS_FILE, MANIFOLD_FILE, RECONSTRUCTIONS_FILE, SAMPLING_PATH_FILE,
};
use gan_training::{DeviceChoice, SampleWeights, TrainedGenerator};
use gan_viz::{render_grid, save_scatter, GridStyle};

use crate::observer::gray;

#[derive(clap::Args, Debug)]
pub struct FiguresArgs {
    /// A VAE's or diffusion model's run directory (its newest checkpoint) or a checkpoint
    /// file in its checkpoints/.
    #[arg(long, value_name = "RUN_DIR|FILE")]
    pub checkpoint: PathBuf,
    /// Where to write the pictures [default: the run directory].
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    #[arg(long, value_name = "DIR", env = DATA_DIR_ENV)]
    pub data_dir: Option<PathBuf>,
    #[arg(long, default_value = "auto", value_name = "DEVICE", value_parser = super::device_arg)]
    pub device: DeviceChoice,
}

/// Pairs of test image and reconstruction in the picture: five pairs a row, ten rows.
const PAIRS: usize = 50;
const PAIRS_PER_ROW: u32 = 5;
/// Samples (rows) and states from noise to sample (columns) of a diffusion model's path.
const PATH_ROWS: usize = 4;
const PATH_FRAMES: usize = 9;
/// Decoded latent values per side of the manifold picture.
const MANIFOLD_SIDE: usize = 20;

pub fn run(args: &FiguresArgs) -> Result<()> {
    let device = args.device.resolve()?;
    let mnist = super::eval::load(args.data_dir.as_deref())?;
    let out = match &args.out_dir {
        Some(dir) => dir.clone(),
        None if args.checkpoint.is_dir() => args.checkpoint.clone(),
        None => args
            .checkpoint
            .parent()
            .and_then(Path::parent)
            .unwrap_or(Path::new("."))
            .to_owned(),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    for path in write_all(&args.checkpoint, &out, &mnist.test, device)? {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// Writes the model's pictures into `out`; returns the paths. For the VAE at `checkpoint`,
/// `reconstructions.png` (and, for a 2-d latent space, `manifold.png` and `latents.png`),
/// using `test`'s images; for a diffusion model `sampling-path.png`.
pub fn write_all(
    checkpoint: &Path,
    out: &Path,
    test: &Split,
    device: tch::Device,
) -> Result<Vec<PathBuf>> {
    let model = TrainedGenerator::load(checkpoint, device, SampleWeights::Ema)
        .with_context(|| format!("loading the model from {}", checkpoint.display()))?;
    if let Some((levels, path)) = model.sampling_path(PATH_ROWS, PATH_FRAMES, 0)? {
        let file = out.join(SAMPLING_PATH_FILE);
        let style = GridStyle::new(PATH_ROWS as u32, levels.len() as u32);
        render_grid(gray(&path), style)?.save_png(&file)?;
        let levels: Vec<String> = levels.iter().map(|t| format!("{t:.2}")).collect();
        tracing::info!(levels = levels.join(", "), "drew the sampling path");
        return Ok(vec![file]);
    }
    let mut written = Vec::new();

    let count = PAIRS.min(test.images.count);
    let originals = super::eval::subset(&test.images, count);
    let labels = &test.labels[..count];
    let (reconstructions, _) = model.reconstruct(&originals, Some(labels))?;
    let len = originals.image_len();
    let mut pairs = Images {
        count: 2 * count,
        rows: originals.rows,
        cols: originals.cols,
        pixels: Vec::with_capacity(2 * count * len),
    };
    for i in 0..count {
        pairs
            .pixels
            .extend_from_slice(&originals.pixels[i * len..(i + 1) * len]);
        pairs
            .pixels
            .extend_from_slice(&reconstructions.pixels[i * len..(i + 1) * len]);
    }
    let rows = (count as u32).div_ceil(PAIRS_PER_ROW);
    let path = out.join(RECONSTRUCTIONS_FILE);
    render_grid(gray(&pairs), GridStyle::new(rows, 2 * PAIRS_PER_ROW))?.save_png(&path)?;
    written.push(path);

    if model.config.model.latent_dim() == 2 {
        let digit = model.config.model.conditional().then_some(0);
        let manifold = model.latent_manifold(MANIFOLD_SIDE, digit)?;
        let side = MANIFOLD_SIDE as u32;
        let path = out.join(MANIFOLD_FILE);
        // Four hundred digits at twice their size are legible; the grids' 4× would be huge.
        let style = GridStyle {
            scale: 2,
            padding: 2,
            ..GridStyle::new(side, side)
        };
        render_grid(gray(&manifold), style)?.save_png(&path)?;
        written.push(path);

        let (_, codes) = model.reconstruct(&test.images, Some(&test.labels))?;
        let points: Vec<(f64, f64, u8)> = codes
            .iter()
            .zip(&test.labels)
            .map(|(z, &digit)| (f64::from(z[0]), f64::from(z[1]), digit))
            .collect();
        let path = out.join(LATENTS_FILE);
        let title = format!(
            "means of q(z | x) for {} test images, by digit",
            points.len()
        );
        save_scatter(&path, &title, ("z₁", "z₂"), &points, (720, 640))?;
        written.push(path);
    }
    Ok(written)
}
