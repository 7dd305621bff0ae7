//! `gan generate`: images from a trained generator, as a grid picture and/or an IDX file.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use gan_data::Images;
use gan_training::{DeviceChoice, Digits, SampleWeights, TrainedGenerator};
use gan_viz::{render_grid, GridStyle};

use crate::observer::gray;

#[derive(clap::Args, Debug)]
#[command(allow_negative_numbers = true)]
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
    pub images: Option<PathBuf>,
    /// For a conditional model (e.g. preset cgan): the digit to draw, or `all` for every
    /// digit equally often (the default), one grid row per digit.
    #[arg(long, value_name = "0-9|all", value_parser = parse_digits)]
    pub digit: Option<Digits>,
    /// For a conditional model: write the digit each image was asked to show, as an IDX
    /// labels file (MNIST's format; gzipped if the name ends in .gz).
    #[arg(long, value_name = "FILE.idx[.gz]")]
    pub labels_out: Option<PathBuf>,
    /// Seed of the noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// cpu, cuda, cuda:N, mps or auto.
    #[arg(long, default_value = "auto", value_name = "DEVICE", value_parser = super::device_arg)]
    pub device: DeviceChoice,
    /// Sample with the live weights instead of their moving average (EMA), where the model
    /// keeps one.
    #[arg(long)]
    pub raw: bool,
    /// A VAE whose run fitted a prior for sampling: decode draws of N(0, I), the prior it was
    /// trained with, instead.
    #[arg(long)]
    pub training_prior: bool,
    #[command(flatten)]
    pub sampling: super::SamplingArgs,
}

/// `3` → one digit, `all` → every digit equally often.
pub fn parse_digits(text: &str) -> Result<Digits, String> {
    match text {
        "all" => Ok(Digits::Balanced),
        _ => match text.parse::<u8>() {
            Ok(digit) if digit < 10 => Ok(Digits::Only(digit)),
            _ => Err(format!("{text:?} is not a digit: give 0 to 9, or all")),
        },
    }
}

/// `--raw` as the weights to sample with.
pub fn sample_weights(raw: bool) -> SampleWeights {
    if raw {
        SampleWeights::Raw
    } else {
        SampleWeights::Ema
    }
}

pub fn run(args: &GenerateArgs) -> Result<()> {
    if args.grid.is_none() && args.images.is_none() && args.labels_out.is_none() {
        bail!(
            "nothing to write: pass --grid FILE.png for a picture and/or --images FILE.idx.gz \
             for the images"
        );
    }
    let device = args.device.resolve()?;
    let mut generator = TrainedGenerator::load(&args.checkpoint, device, sample_weights(args.raw))
        .with_context(|| format!("loading the generator from {}", args.checkpoint.display()))?;
    if args.training_prior {
        generator.use_training_prior(&args.checkpoint)?;
    }
    args.sampling.apply(&mut generator)?;
    let digits = match (args.digit, &args.labels_out) {
        (None, Some(_)) => Some(Digits::Balanced),
        (digits, _) => digits,
    };
    let samples = generator.generate(args.n as usize, args.seed, digits)?;
    let images = &samples.images;
    let grid_path = args.grid.clone();
    if let Some(path) = &args.images {
        gan_data::write_images(path, images)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {} images to {}", images.count, path.display());
    }
    if let (Some(path), Some(labels)) = (&args.labels_out, &samples.labels) {
        gan_data::write_labels(path, labels)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {} labels to {}", labels.len(), path.display());
    }
    if let Some(path) = &grid_path {
        let by_digit = samples
            .labels
            .as_ref()
            .filter(|_| digits.unwrap_or_default() == Digits::Balanced && images.count >= 10);
        let (picture, rows, cols) = match by_digit {
            Some(labels) => rows_by_digit(images, labels),
            None => {
                let cols = (images.count as f64).sqrt().ceil() as usize;
                let rows = images.count.div_ceil(cols);
                (pad_to(images, rows * cols), rows, cols)
            }
        };
        render_grid(gray(&picture), GridStyle::new(rows as u32, cols as u32))?
            .save_png(path)
            .with_context(|| format!("writing {}", path.display()))?;
        let layout = if by_digit.is_some() {
            ", a row per digit"
        } else {
            ""
        };
        println!("wrote a {rows}×{cols} grid{layout} to {}", path.display());
    }
    let asked = match (&samples.labels, digits.unwrap_or_default()) {
        (None, _) => String::new(),
        (Some(_), Digits::Balanced) => ", every digit equally often".to_owned(),
        (Some(_), Digits::Only(d)) => format!(", digit {d}"),
    };
    println!(
        "generator: {} (step {}, {}), seed {}{asked}",
        generator.checkpoint.display(),
        generator.step,
        generator.describe_sampling(),
        args.seed
    );
    Ok(())
}

/// The images rearranged into ten rows, row `d` holding those labelled `d` in order (rows
/// padded with blanks), with the grid's rows and columns.
fn rows_by_digit(images: &Images, labels: &[u8]) -> (Images, usize, usize) {
    let cols = images.count.div_ceil(10);
    let len = images.image_len();
    let mut picture = Images {
        count: 10 * cols,
        rows: images.rows,
        cols: images.cols,
        pixels: vec![0; 10 * cols * len],
    };
    let mut filled = [0usize; 10];
    for (i, &digit) in labels.iter().enumerate() {
        let d = usize::from(digit);
        let at = (d * cols + filled[d]) * len;
        picture.pixels[at..at + len].copy_from_slice(images.image(i));
        filled[d] += 1;
    }
    (picture, 10, cols)
}

/// `images` with blank images appended up to `count`.
fn pad_to(images: &Images, count: usize) -> Images {
    let mut padded = images.clone();
    padded.pixels.resize(count * images.image_len(), 0);
    padded.count = count.max(images.count);
    padded
}
