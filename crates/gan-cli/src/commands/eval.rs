//! `gan eval`: realism and diversity of generated digits, in numbers.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use gan_data::{default_data_dir, Images, Mnist, DATA_DIR_ENV};
use gan_eval::{train_classifier, ClassifierTraining, EvalReport, Evaluator, ScoreSpread};
use gan_training::run_dir::STEPS_CHART_FILE;
use gan_training::scoring::{
    floor_and_ceiling, score_checkpoint, score_samples, slice, CheckpointRequest, Scored,
    FLOOR_IMAGES,
};
use gan_training::steps_curve::StepsCurve;
use gan_training::{DeviceChoice, Samples};

#[derive(clap::Args, Debug)]
#[command(allow_negative_numbers = true)]
#[command(args_conflicts_with_subcommands = true)]
pub struct EvalArgs {
    #[command(subcommand)]
    pub action: Option<EvalAction>,
    /// Generate from this run directory (its newest checkpoint) or checkpoint file.
    #[arg(long, value_name = "RUN_DIR|FILE", conflicts_with_all = ["samples", "reference"])]
    pub checkpoint: Option<PathBuf>,
    /// Evaluate the images of an IDX file (raw or .gz), e.g. from `gan generate --images`.
    #[arg(long, value_name = "FILE", conflicts_with = "reference")]
    pub samples: Option<PathBuf>,
    /// With --samples: the digit each image was asked to show (IDX labels, e.g. from `gan
    /// generate --labels-out`), for label accuracy and per-digit FID.
    #[arg(long, value_name = "FILE", requires = "samples")]
    pub labels: Option<PathBuf>,
    /// Print the floor (10,000 MNIST training images) and the ceiling (uniform noise).
    #[arg(long)]
    pub reference: bool,
    /// Images to generate with --checkpoint.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(4..=1_000_000))]
    pub n: u64,
    /// Seed of the generated noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Score N draws and print each score's mean, standard deviation and range over them:
    /// with --checkpoint, noise seeds seed, seed+1, … (`eval.json` keeps the first draw's
    /// scores); with --reference, the floor on N disjoint subsets of 10,000 training images.
    #[arg(long, value_name = "N", conflicts_with = "samples", value_parser = clap::value_parser!(u64).range(1..=100))]
    pub repeats: Option<u64>,
    /// One JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,
    #[arg(long, value_name = "DIR", env = DATA_DIR_ENV)]
    pub data_dir: Option<PathBuf>,
    #[arg(long, default_value = "auto", value_name = "DEVICE", value_parser = super::device_arg)]
    pub device: DeviceChoice,
    /// With --checkpoint: sample with the live weights instead of their moving average (EMA).
    #[arg(long, requires = "checkpoint")]
    pub raw: bool,
    /// With --checkpoint of a VAE whose run fitted a prior for sampling: decode draws of
    /// N(0, I), the prior it was trained with, instead (to compare the two).
    #[arg(long, requires = "checkpoint")]
    pub training_prior: bool,
    /// With --checkpoint of a VAE: importance samples per test image of the log-likelihood
    /// estimate [default: the run's eval_importance_samples, 1,000 in the presets].
    #[arg(long, requires = "checkpoint", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub k: Option<u32>,
    #[command(flatten)]
    pub sampling: super::SamplingArgs,
    /// With --checkpoint of a diffusion model: score it at each of these sampler step counts
    /// instead (--n images each, with their network evaluations and images per second), into
    /// the run's sampling-steps.json and sampling-steps.png, which its report shows
    /// [default: 1,2,4,8,16,32,64].
    #[arg(long, value_name = "N,N,...", requires = "checkpoint", value_delimiter = ',',
          num_args = 0..=1, default_missing_values = ["1", "2", "4", "8", "16", "32", "64"],
          conflicts_with_all = ["sample_steps", "repeats", "raw", "training_prior", "k"],
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub steps_curve: Option<Vec<u32>>,
}

#[derive(clap::Subcommand, Debug)]
pub enum EvalAction {
    /// Train the classifier whose features the metrics use and write its weights.
    TrainClassifier {
        /// Where to write the weights (safetensors). The evaluation reads
        /// `assets/mnist-lenet.safetensors`; an existing file is replaced only with
        /// --overwrite.
        #[arg(long, value_name = "FILE")]
        weights: PathBuf,
        /// Replace the file in --weights if there is one.
        #[arg(long)]
        overwrite: bool,
        #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u64).range(1..=1_000))]
        epochs: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, value_name = "DIR", env = DATA_DIR_ENV)]
        data_dir: Option<PathBuf>,
    },
}

pub fn run(args: &EvalArgs) -> Result<()> {
    let device = args.device.resolve()?;
    if let Some(EvalAction::TrainClassifier {
        weights: out,
        overwrite,
        epochs,
        seed,
        data_dir,
    }) = &args.action
    {
        if out.exists() && !overwrite {
            bail!(
                "{} exists; pass --overwrite to replace it, or choose another --weights (the \
                 evaluation reads the shipped assets/mnist-lenet.safetensors)",
                out.display()
            );
        }
        return train(out, *epochs as usize, *seed, data_dir.as_deref(), device);
    }
    let mnist = load(args.data_dir.as_deref())?;
    let evaluator = Evaluator::new(&mnist.test, device).context("loading the classifier")?;
    if args.reference {
        let (floor, ceiling) = floor_and_ceiling(&evaluator, &mnist, args.seed)?;
        let rows = [
            (
                "floor: 10,000 MNIST training images (with their labels)",
                floor,
            ),
            ("ceiling: 10,000 images of uniform noise", ceiling),
        ];
        let spread = match args.repeats {
            Some(repeats) => Some(floor_spread(&evaluator, &mnist, repeats, &rows[0].1)?),
            None => None,
        };
        if args.json {
            let mut object: serde_json::Map<String, serde_json::Value> = [
                ("floor".to_owned(), serde_json::to_value(&rows[0].1)?),
                ("ceiling".to_owned(), serde_json::to_value(&rows[1].1)?),
            ]
            .into_iter()
            .collect();
            if let Some(spread) = &spread {
                object.insert("floor_repeats".to_owned(), serde_json::to_value(spread)?);
            }
            println!("{}", serde_json::Value::Object(object));
        } else {
            for (title, report) in rows {
                println!("{title}\n{report}\n");
            }
            if let Some(spread) = &spread {
                println!("floor {spread}");
            }
        }
        return Ok(());
    }
    if let (Some(steps), Some(path)) = (&args.steps_curve, &args.checkpoint) {
        return steps_curve(args, path, steps, &evaluator, device);
    }
    let scored = match (&args.checkpoint, &args.samples) {
        (Some(path), _) => {
            let request = CheckpointRequest {
                path,
                n: args.n as usize,
                seed: args.seed,
                raw: args.raw,
                training_prior: args.training_prior,
                sample_steps: args.sampling.sample_steps,
                guidance: args.sampling.guidance,
                k: args.k,
                likelihood: true,
                repeats: args.repeats.unwrap_or(1),
            };
            let scored = score_checkpoint(&request, &mnist, &evaluator, device)?;
            if let (Some(saved), false) = (&scored.saved_to, args.json) {
                println!("saved to {} (gan report, gan compare)", saved.display());
            }
            if let (Some(cost), false) = (&scored.sampling, args.json) {
                println!(
                    "sampling: {} network evaluation(s) per image, {:.0} images/s",
                    cost.evaluations_per_image, cost.images_per_second
                );
            }
            scored
        }
        (None, Some(path)) => {
            let images = gan_data::read_images(path)
                .with_context(|| format!("reading samples {}", path.display()))?;
            let labels = match &args.labels {
                Some(labels_path) => Some(
                    gan_data::read_labels(labels_path)
                        .with_context(|| format!("reading labels {}", labels_path.display()))?,
                ),
                None => None,
            };
            let source = path.display().to_string();
            let samples = Samples { images, labels };
            Scored {
                report: score_samples(&evaluator, &samples, &source)?,
                source,
                likelihood: None,
                saved_to: None,
                spread: None,
                sampling: None,
            }
        }
        (None, None) => {
            bail!("nothing to evaluate: pass --checkpoint RUN_DIR, --samples FILE or --reference")
        }
    };
    let Scored {
        source,
        report,
        likelihood,
        spread,
        sampling,
        ..
    } = scored;
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        if let (Some(l), Some(object)) = (&likelihood, value.as_object_mut()) {
            let mut l_value = serde_json::to_value(l)?;
            if let Some(l_object) = l_value.as_object_mut() {
                l_object.insert("nll".into(), l.negative_log_likelihood().into());
                l_object.insert("bits_per_dim".into(), l.bits_per_dim().into());
            }
            object.insert("likelihood".into(), l_value);
        }
        if let (Some(spread), Some(object)) = (&spread, value.as_object_mut()) {
            object.insert("repeats".into(), serde_json::to_value(spread)?);
        }
        if let (Some(cost), Some(object)) = (&sampling, value.as_object_mut()) {
            object.insert("sampling".into(), serde_json::to_value(cost)?);
        }
        println!("{value}");
    } else {
        println!("{source}\n{report}");
        if let Some(l) = &likelihood {
            println!("{l}");
        }
        if let Some(spread) = &spread {
            println!("\n{spread}");
        }
    }
    Ok(())
}

/// `gan eval --steps-curve`: the checkpoint scored at each of `steps`, saved beside its run
/// (JSON and a chart) and printed.
fn steps_curve(
    args: &EvalArgs,
    path: &Path,
    steps: &[u32],
    evaluator: &Evaluator,
    device: tch::Device,
) -> Result<()> {
    let curve = StepsCurve::measure(path, steps, args.n as usize, args.seed, evaluator, device)?;
    let saved = curve.save_beside_the_run()?;
    let chart = saved.with_file_name(STEPS_CHART_FILE);
    let points = curve
        .points
        .iter()
        .map(|p| {
            (
                f64::from(p.sampling.evaluations_per_image),
                p.report.frechet_distance,
            )
        })
        .collect();
    gan_viz::save_cost_chart(
        &chart,
        &format!("FID against sampling cost, step {}", curve.step),
        ("network evaluations per image", "FID (LeNet)"),
        &[gan_viz::Curve::new("EMA weights", points)],
        (720, 420),
    )
    .with_context(|| format!("drawing {}", chart.display()))?;
    if args.json {
        println!("{}", serde_json::to_string(&curve)?);
        return Ok(());
    }
    println!(
        "{} (step {}; its config: {}), {} images per row, seed {}",
        curve.checkpoint.display(),
        curve.step,
        curve.config_sampling,
        curve.images,
        curve.seed
    );
    println!("steps  evaluations  FID (LeNet)      IS  precision  recall  images/s");
    for p in &curve.points {
        let r = &p.report;
        println!(
            "{:>5}  {:>11}  {:>11.3}  {:>6.3}  {:>9.3}  {:>6.3}  {:>8.0}",
            p.steps,
            p.sampling.evaluations_per_image,
            r.frechet_distance,
            r.inception_score,
            r.precision,
            r.recall,
            p.sampling.images_per_second
        );
    }
    println!(
        "saved to {} and {} (gan report shows them)",
        saved.display(),
        chart.display()
    );
    Ok(())
}

/// The floor's spread over `repeats` disjoint subsets of 10,000 training images (with their
/// labels): `first` (the first subset, the floor `--reference` prints) and the next ones.
fn floor_spread(
    evaluator: &Evaluator,
    mnist: &Mnist,
    repeats: u64,
    first: &EvalReport,
) -> Result<ScoreSpread> {
    let train = &mnist.train;
    let available = (train.images.count / FLOOR_IMAGES).max(1);
    if repeats as usize > available {
        bail!(
            "--repeats {repeats}: the training set has {} images, so only {available} disjoint \
             subsets of {FLOOR_IMAGES} for the floor; pass --repeats {available} or fewer",
            train.images.count
        );
    }
    let mut reports = vec![first.clone()];
    for i in 1..repeats as usize {
        let start = i * FLOOR_IMAGES;
        let images = slice(&train.images, start, FLOOR_IMAGES);
        let labels = &train.labels[start..start + images.count];
        reports.push(evaluator.evaluate_labelled(&images, labels)?);
        tracing::info!(subset = i, "scored another floor subset");
    }
    let end = (repeats as usize * FLOOR_IMAGES).min(train.images.count);
    let draws = format!("training images 0..{end}, in subsets of {FLOOR_IMAGES}");
    ScoreSpread::of(draws, &reports).context("at least one subset")
}

pub fn load(data_dir: Option<&Path>) -> Result<Mnist> {
    let dir = data_dir
        .map(Path::to_path_buf)
        .unwrap_or_else(default_data_dir);
    Mnist::load(&dir).with_context(|| {
        format!(
            "loading MNIST from {} (run `cargo xtask fetch-data`)",
            dir.display()
        )
    })
}

/// The first `count` images (all of them if there are fewer).
pub fn subset(images: &Images, count: usize) -> Images {
    slice(images, 0, count)
}

fn train(
    out: &Path,
    epochs: usize,
    seed: u64,
    data_dir: Option<&Path>,
    device: tch::Device,
) -> Result<()> {
    let mnist = load(data_dir)?;
    let cfg = ClassifierTraining {
        epochs,
        seed,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let (_, vs, accuracy) = train_classifier(&mnist, cfg, device, &mut |epoch, loss, acc| {
        println!(
            "epoch {epoch}/{epochs} | loss {loss:.4} | test accuracy {:.2}% | {:.0} s",
            100.0 * acc,
            started.elapsed().as_secs_f64()
        );
    })?;
    let sha = gan_eval::classifier::save(&vs, out)?;
    println!(
        "wrote {} (test accuracy {:.2}%, SHA-256 {sha})",
        out.display(),
        100.0 * accuracy
    );
    if accuracy < 0.99 {
        bail!(
            "test accuracy {:.2}% is below the 99.0% the metrics need; train longer (--epochs)",
            100.0 * accuracy
        );
    }
    Ok(())
}
