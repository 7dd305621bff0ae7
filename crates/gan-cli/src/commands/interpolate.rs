//! `gan interpolate`: latent walks. Between the noise of several seeds (spherically by
//! default; for a conditional model at the `--digit` asked for), and for a conditional model
//! from digit to digit at fixed noise, as a grid (one row per leg), an animation and IDX.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use gan_training::interpolation::{walk, Interpolation};
use gan_training::{DeviceChoice, TrainedGenerator};
use gan_viz::{render_grid, save_gif, GridStyle, Rgb};

use crate::observer::gray;

#[derive(clap::Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct InterpolateArgs {
    /// A run directory (its newest checkpoint) or a checkpoint file in its checkpoints/.
    #[arg(long, value_name = "RUN_DIR|FILE")]
    pub checkpoint: PathBuf,
    /// Seeds whose noise the walk visits in order (seed s is the first image of `gan
    /// generate --seed s`).
    #[arg(long, value_delimiter = ',', default_value = "3,17,42")]
    pub seeds: Vec<u64>,
    /// Images (frames) per leg of the walk, both ends included.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(2..=256))]
    pub frames: u64,
    /// Along the great circle between noise vectors (the default: Gaussian noise lives near
    /// a sphere).
    #[arg(long, conflicts_with = "lerp")]
    pub slerp: bool,
    /// Along the straight line instead.
    #[arg(long)]
    pub lerp: bool,
    /// For a conditional model: the digit of the noise walk.
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=9))]
    pub digit: Option<u8>,
    /// For a conditional model: a walk from digit to digit in this order, at the noise of the
    /// first seed [default for a conditional model: 0,1,2,3,4,5,6,7,8,9].
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u8).range(0..=9))]
    pub digits: Vec<u8>,
    /// Write the walk as a grid picture (PNG), one row per leg.
    #[arg(long, value_name = "FILE.png")]
    pub grid: Option<PathBuf>,
    /// Write the walk as an animation (GIF), one frame per image.
    #[arg(long, value_name = "FILE.gif")]
    pub gif: Option<PathBuf>,
    /// Write the walk's images as an IDX file (gzipped if the name ends in .gz), leg after
    /// leg, for evaluation or other tools.
    #[arg(long, value_name = "FILE.idx[.gz]")]
    pub images: Option<PathBuf>,
    /// Milliseconds per animation frame.
    #[arg(long, default_value_t = 80, value_parser = clap::value_parser!(u32).range(10..=10_000))]
    pub frame_ms: u32,
    #[arg(long, default_value = "auto", value_name = "DEVICE", value_parser = super::device_arg)]
    pub device: DeviceChoice,
    /// Sample with the live weights instead of their moving average (EMA).
    #[arg(long)]
    pub raw: bool,
    #[command(flatten)]
    pub sampling: super::SamplingArgs,
}

/// One leg of a walk: its images' noise and class weights.
struct Leg {
    noise: Vec<Vec<f32>>,
    classes: Option<Vec<[f32; 10]>>,
}

fn one_hot(digit: u8) -> [f32; 10] {
    let mut row = [0.0; 10];
    row[digit as usize] = 1.0;
    row
}

fn legs(args: &InterpolateArgs, generator: &TrainedGenerator) -> Result<Vec<Leg>> {
    let how = if args.lerp {
        Interpolation::Linear
    } else {
        Interpolation::Spherical
    };
    let conditional = generator.is_conditional();
    if !conditional && (args.digit.is_some() || !args.digits.is_empty()) {
        bail!(
            "{} is not a conditional model: --digit and --digits apply to one that draws the \
             digit asked for (e.g. preset cgan)",
            args.checkpoint.display()
        );
    }
    let steps = args.frames as usize;
    let noise: Vec<Vec<f32>> = args
        .seeds
        .iter()
        .map(|&s| generator.noise(s))
        .collect::<Result<_, _>>()?;
    let mut legs = Vec::new();
    if args.seeds.len() >= 2 && (!conditional || args.digit.is_some()) {
        for row in walk(&noise, steps, how) {
            let classes = args.digit.map(|d| vec![one_hot(d); row.len()]);
            legs.push(Leg {
                noise: row,
                classes,
            });
        }
    }
    let digits: Vec<u8> = match (conditional, args.digits.is_empty()) {
        (true, true) => (0..10).collect(),
        _ => args.digits.clone(),
    };
    if digits.len() >= 2 {
        let rows: Vec<Vec<f32>> = digits.iter().map(|&d| one_hot(d).to_vec()).collect();
        for row in walk(&rows, steps, Interpolation::Linear) {
            let classes = row
                .iter()
                .map(|r| r.as_slice().try_into().expect("ten"))
                .collect();
            legs.push(Leg {
                noise: vec![noise[0].clone(); row.len()],
                classes: Some(classes),
            });
        }
    }
    if legs.is_empty() {
        bail!(if conditional {
            "nothing to walk: give --digit D with two or more --seeds, or two or more --digits"
        } else {
            "nothing to walk: give two or more --seeds"
        });
    }
    Ok(legs)
}

pub fn run(args: &InterpolateArgs) -> Result<()> {
    if args.grid.is_none() && args.gif.is_none() && args.images.is_none() {
        bail!("nothing to write: pass --grid FILE.png, --gif FILE.gif and/or --images FILE.idx");
    }
    let device = args.device.resolve()?;
    let mut generator = TrainedGenerator::load(
        &args.checkpoint,
        device,
        super::generate::sample_weights(args.raw),
    )
    .with_context(|| format!("loading the generator from {}", args.checkpoint.display()))?;
    args.sampling.apply(&mut generator)?;
    let legs = legs(args, &generator)?;
    let mut images = None::<gan_data::Images>;
    for leg in &legs {
        let part = generator.render(&leg.noise, leg.classes.as_deref())?;
        match images.as_mut() {
            Some(all) => {
                all.count += part.count;
                all.pixels.extend_from_slice(&part.pixels);
            }
            None => images = Some(part),
        }
    }
    let images = images.expect("at least one leg");
    let cols = args.frames as u32;
    if let Some(path) = &args.grid {
        render_grid(gray(&images), GridStyle::new(legs.len() as u32, cols))?.save_png(path)?;
        println!("wrote {} ({} rows of {cols})", path.display(), legs.len());
    }
    if let Some(path) = &args.images {
        gan_data::write_images(path, &images)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {} ({} images)", path.display(), images.count);
    }
    if let Some(path) = &args.gif {
        let size = images.rows * images.cols;
        let frames: Vec<(String, Rgb)> = images
            .pixels
            .chunks(size)
            .enumerate()
            .map(|(i, pixels)| {
                let one = gan_viz::GrayImages {
                    pixels,
                    rows: images.rows,
                    cols: images.cols,
                };
                let style = GridStyle {
                    scale: 8,
                    ..GridStyle::new(1, 1)
                };
                let caption = format!(
                    "leg {} · {}/{}",
                    i / cols as usize + 1,
                    i % cols as usize + 1,
                    cols
                );
                Ok((caption, render_grid(one, style)?))
            })
            .collect::<Result<_, gan_viz::VizError>>()?;
        save_gif(path, &frames, args.frame_ms)?;
        println!("wrote {} ({} frames)", path.display(), frames.len());
    }
    Ok(())
}
