//! `gan train`: a new run from a preset or config file, or `--resume` of an existing one.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use gan_data::{default_data_dir, Fetcher, Mirror, Mnist, DATA_DIR_ENV, DATA_MIRROR_ENV};
use gan_models::MatmulChoice;
use gan_training::config::{MAX_STORED_INTEGER, UNLIMITED_STEPS};
use gan_training::config_file::Setting;
use gan_training::metrics::UnreadableRows;
use gan_training::run_dir::default_run_name;
use gan_training::session::{Finished, Session};
use gan_training::{presets, Backprop, DeviceChoice, RunDir, TrainConfig, TrainError};
use serde_json::json;

use crate::events;
use crate::interrupt::Interrupt;
use crate::logging::LogFile;
use crate::observer::CliObserver;

#[derive(clap::Args, Debug, Default)]
#[command(allow_negative_numbers = true)]
pub struct TrainArgs {
    /// Starting point [default: mlp]; `gan presets` lists and describes them.
    #[arg(long, value_parser = super::presets::parser(), conflicts_with = "resume")]
    pub preset: Option<String>,
    /// A complete config file (TOML, as written into run directories) instead of a preset;
    /// not with --preset (the file holds every field: change some with --set instead).
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    pub config: Option<PathBuf>,
    /// Change one setting of the preset or --config file: a dotted path into its TOML (as
    /// `gan presets --show NAME` prints it) and a value, e.g. `--set
    /// model.generator.latent_dim=2`; repeatable. Checked like a config file: an unknown field
    /// or a value of the wrong type is refused, naming the setting.
    #[arg(long = "set", value_name = "PATH=VALUE", value_parser = parse_setting, conflicts_with = "resume")]
    pub settings: Vec<Setting>,
    /// Reflow the flow trained in this run directory: its newest checkpoint draws --pairs
    /// (noise, image) pairs, then a new run, starting from its weights, learns to carry each
    /// noise to its image in a straight line, so that a step or two sample what dozens did
    /// (it samples in 2 Euler steps by default; `--sample-steps` changes that later). The
    /// flags of a new run apply (--steps, --minutes, --out, --seed, --set, ...).
    #[arg(long, value_name = "RUN_DIR", conflicts_with_all = ["preset", "config", "resume"])]
    pub reflow: Option<PathBuf>,
    /// With --reflow: the pairs to draw [default: 60000]. Each costs one sampling run of the
    /// source (its network evaluations per image); they stay in memory while training.
    #[arg(long, value_name = "N", requires = "reflow", value_parser = clap::value_parser!(u64).range(1..=gan_training::reflow::MAX_PAIRS))]
    pub pairs: Option<u64>,
    /// Continue the run in this directory from its newest checkpoint (from step 0 if it was
    /// stopped before its first).
    #[arg(long, value_name = "RUN_DIR")]
    pub resume: Option<PathBuf>,
    /// With --resume: drop the lines of metrics.csv that are not metrics rows (damaged by an
    /// edit or a copy) instead of refusing to resume.
    #[arg(long, requires = "resume")]
    pub drop_bad_metrics: bool,
    /// With --resume: continue from the checkpoint of step N instead of the newest. What the
    /// run wrote after step N (later checkpoints, sample grids, metrics rows, the final
    /// evaluation) is deleted when training starts.
    #[arg(long, value_name = "N", requires = "resume", value_parser = clap::value_parser!(u64).range(0..=MAX_STORED_INTEGER))]
    pub from_step: Option<u64>,
    /// Training steps (for a GAN: two D updates, one G update). With --resume, extends the
    /// run. With --minutes and no --steps, unlimited.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_STORED_INTEGER))]
    pub steps: Option<u64>,
    /// A wall-clock budget in minutes: training stops after the step that crosses it (time
    /// before a resume counts), with a grid, an evaluation if on, and a checkpoint.
    #[arg(long, value_parser = positive_number, allow_negative_numbers = true)]
    pub minutes: Option<f64>,
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000), conflicts_with = "resume")]
    pub batch_size: Option<u64>,
    /// Learning rate of every optimizer (for a GAN, G's and D's).
    #[arg(long, value_parser = positive_number, allow_negative_numbers = true, conflicts_with = "resume")]
    pub lr: Option<f64>,
    /// Save a sample grid every N steps.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_STORED_INTEGER))]
    pub sample_every: Option<u64>,
    /// Write a checkpoint every N steps (and at the end).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=MAX_STORED_INTEGER))]
    pub checkpoint_every: Option<u64>,
    #[arg(long, conflicts_with = "resume", value_parser = clap::value_parser!(u64).range(0..=MAX_STORED_INTEGER))]
    pub seed: Option<u64>,
    /// Measure FID, IS, mode coverage, precision and recall every N steps (and at the end),
    /// into metrics.csv and the charts; the lowest-FID checkpoint is kept as checkpoints/best.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(0..=MAX_STORED_INTEGER))]
    pub eval_every: Option<u64>,
    /// Images generated for each evaluation.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(4..=100_000))]
    pub eval_samples: Option<u64>,
    /// cpu, cuda (the first GPU), cuda:N, mps or auto (CUDA, else MPS, else CPU).
    #[arg(long, value_name = "DEVICE", value_parser = super::device_arg)]
    pub device: Option<DeviceChoice>,
    /// libtorch intra-op threads (default: libtorch's choice, one per core).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,
    /// Matrix products in dense layers: blas (libtorch's default), onednn (CPU only; about
    /// twice as fast where MKL lacks AVX-512, e.g. AMD) or auto (whichever of the two times
    /// faster on the run's own layer shapes at start-up, cached per CPU; `gan info` shows it).
    #[arg(long, value_parser = ["auto", "blas", "onednn"])]
    pub matmul: Option<String>,
    /// How gradients are formed: fused (default: unconditional MLPs on the CPU run forward
    /// and backward by hand, with one fused pass per layer between the products; the same
    /// gradients up to rounding) or autograd (libtorch's, for everything).
    #[arg(long, value_parser = ["fused", "autograd"])]
    pub backprop: Option<String>,
    /// Run directory [default: runs/TIME-PRESET, e.g. runs/20261129-124501-mlp].
    #[arg(long, value_name = "DIR", conflicts_with = "resume")]
    pub out: Option<PathBuf>,
    /// Replace the run already in --out (its config, metrics, samples, checkpoints, logs and
    /// report are deleted; other files are left alone).
    #[arg(long, requires = "out")]
    pub overwrite: bool,
    /// MNIST directory, fetched there on first use [default: ~/.cache/gan-rs/mnist].
    #[arg(long, value_name = "DIR", env = DATA_DIR_ENV)]
    pub data_dir: Option<PathBuf>,
    /// Images of the evaluation that ends a finished run (the protocol of `gan eval
    /// --checkpoint`, without a VAE's likelihood), into eval.json and the report; 0 skips it.
    #[arg(long, value_name = "N", default_value_t = 10_000, env = "GAN_FINAL_EVAL",
          value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub final_eval: u64,
    /// Also write TensorBoard event files (every metric, the sample grids) under RUN/tb/
    /// (`tensorboard --logdir RUN/tb`); the config field `tensorboard = true` does the same.
    #[arg(long)]
    pub tensorboard: bool,
    /// Print nothing but errors and the final line.
    #[arg(long, short)]
    pub quiet: bool,
    /// For scripts: one JSON object per line on standard output for each event (start,
    /// sample, evaluation, checkpoint, finish or interruption, final evaluation, report) and
    /// nothing else there; see docs/cli.md for the fields.
    #[arg(long)]
    pub json: bool,
}

impl TrainArgs {
    /// Whether to print lines for people (not under --quiet or --json).
    fn chatty(&self) -> bool {
        !self.quiet && !self.json
    }
}

fn parse_setting(value: &str) -> Result<Setting, String> {
    Setting::parse(value).map_err(|e| match e {
        TrainError::BadSetting { why, .. } => why,
        other => other.to_string(),
    })
}

fn positive_number(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        Ok(_) => Err("must be a positive number".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

/// Trains; returns the exit code (0, or 130/143 after Ctrl-C/SIGTERM). `interrupt` is armed
/// (a first Ctrl-C then stops after a step) once the training loop is about to start.
///
/// The run's lifecycle is [`gan_training::session`]'s: everything that can refuse the
/// command (flags, config, data, the checkpoint, the metrics of a resumed run, the step and
/// time budgets) is checked before the first write, so a refused command leaves the run
/// directory as it was. What is the binary's: output, the log file, the final evaluation,
/// the VAE figures and the report.
pub fn run(args: &TrainArgs, log: &LogFile, interrupt: Interrupt) -> Result<i32> {
    let session = match &args.resume {
        Some(dir) => {
            let session = Session::resume(dir, |config| apply_schedule_flags(args, config))?;
            match args.from_step {
                Some(step) => session.rewind_to(step)?,
                None => session,
            }
        }
        None => {
            let config = new_run_config(args)?;
            let name = match config.reflow {
                Some(_) => format!("{}-reflow", config.preset),
                None => config.preset.clone(),
            };
            let out = args
                .out
                .clone()
                .unwrap_or_else(|| Path::new("runs").join(default_run_name(&name)));
            Session::new_run(config, &out, args.overwrite)?
        }
    };
    let data_dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    let mnist = load_or_fetch(&data_dir, !args.chatty())?;
    let unreadable = if args.drop_bad_metrics {
        UnreadableRows::Drop
    } else {
        UnreadableRows::Refuse
    };
    if let (Some(reflow), false, true) =
        (&session.config().reflow, session.resuming(), args.chatty())
    {
        println!(
            "drawing {} pairs with {} (step {}; {})",
            reflow.pairs,
            reflow.source.display(),
            reflow.source_step,
            reflow.source_sampling
        );
    }
    let prepared = session.prepare(&mnist, unreadable)?;
    let drawn = prepared.pairs_drawn();
    if let (Some((pairs, seconds)), true) = (drawn, args.chatty()) {
        println!(
            "drew {pairs} pairs in {seconds:.1} s ({:.0} pairs/s)",
            pairs as f64 / seconds.max(1e-9)
        );
    }
    let tuning = prepared.matmul_tuning().map(|t| t.reason());
    let started = prepared.start()?;
    let (run_dir, config) = (started.run_dir().clone(), started.config().clone());
    if started.replaced() && args.chatty() {
        println!("replaced the run in {}", run_dir.root().display());
    }
    log.open(&run_dir.log_path())
        .with_context(|| format!("opening {}", run_dir.log_path().display()))?;
    if let Some(reason) = &tuning {
        tracing::info!("matmul auto chose {reason}");
    }
    if let Some((pairs, seconds)) = drawn {
        tracing::info!(pairs, seconds, "drew the reflow pairs");
    }
    if args.chatty() {
        println!("run directory: {}", run_dir.root().display());
        let notice = presets::find(&config.preset).ok().and_then(|p| p.notice);
        if let (Some(notice), false) = (notice, started.resuming()) {
            println!("{notice}");
        }
    }
    interrupt.arm();
    let mut observer = CliObserver::new(
        &run_dir,
        &config,
        !args.chatty(),
        interrupt,
        started.elapsed_before(),
    )?
    .with_json_events(args.json);
    if args.json {
        events::emit(json!({
            "event": "start",
            "run": run_dir.root(),
            "preset": config.preset,
            "family": config.model.name(),
            "steps": (config.steps < UNLIMITED_STEPS).then_some(config.steps),
            "minutes": config.minutes,
            "step": started.trainer().steps_done(),
            "resumed": started.resuming(),
        }));
    }
    let finished = started.train(&mut observer);
    observer.finish();
    let finished = match finished {
        Ok(finished) => finished,
        Err(error) => {
            write_report(run_dir.root());
            return Err(error.into());
        }
    };
    let outcome = &finished.outcome;
    if outcome.interrupted {
        let checkpoint = outcome
            .checkpoint
            .as_ref()
            .map_or("none".to_owned(), |p| p.display().to_string());
        tracing::warn!(step = outcome.steps_done, "interrupted");
        write_report(run_dir.root());
        if args.json {
            events::emit(json!({
                "event": "interrupted",
                "step": outcome.steps_done,
                "checkpoint": outcome.checkpoint,
                "resume": format!("gan train --resume {}", run_dir.root().display()),
            }));
        }
        eprintln!(
            "interrupted after step {} of {}; checkpoint {checkpoint}\nresume with: gan train --resume {}",
            outcome.steps_done,
            config.steps,
            run_dir.root().display()
        );
        return Ok(observer.exit_code());
    }
    let rate = (outcome.steps_done as f64 - trainer_start(&observer)) / observer.wall_seconds();
    let budget = if outcome.out_of_time {
        " (time budget reached)"
    } else {
        ""
    };
    let device = finished.trainer.device();
    if args.json {
        events::emit(json!({
            "event": "finish",
            "step": outcome.steps_done,
            "seconds": outcome.elapsed_seconds,
            "steps_per_second": rate,
            "time_budget_reached": outcome.out_of_time,
            "checkpoint": outcome.checkpoint,
        }));
    } else {
        println!(
            "trained {} steps in {:.1} s{budget} ({rate:.1} steps/s on {device:?}); run directory {}",
            outcome.steps_done,
            outcome.elapsed_seconds,
            run_dir.root().display()
        );
    }
    if let Some(m) = &outcome.last {
        tracing::info!(
            step = m.step,
            "finished: {}",
            m.describe(finished.trainer.metrics())
        );
    }
    // A VAE's reconstructions and latent pictures, a diffusion model's sampling path.
    let has_figures = finished.trainer.family().likelihood_model().is_some()
        || config.model.describe_sampling().is_some();
    if args.final_eval > 0 {
        final_evaluation(finished, &run_dir, &mnist, args);
    } else {
        drop(finished);
    }
    if has_figures {
        let written =
            super::figures::write_all(run_dir.root(), run_dir.root(), &mnist.test, device)
                .context("drawing the reconstruction figures")?;
        if args.chatty() {
            for path in written {
                println!("wrote {}", path.display());
            }
        }
    }
    let report = write_report(run_dir.root());
    if let (Some(report), true) = (&report, args.json) {
        events::emit(json!({ "event": "report", "path": report }));
    }
    if let (Some(report), true) = (report, args.chatty()) {
        println!("report: {} (gan report --open to view)", report.display());
    }
    Ok(0)
}

/// Scores the finished run as `gan eval --checkpoint` does (no likelihood), into its
/// `eval.json`, and prints one line. A failure is a warning: the training itself succeeded.
fn final_evaluation(finished: Finished, run_dir: &RunDir, mnist: &Mnist, args: &TrainArgs) {
    let started = std::time::Instant::now();
    let scored = finished.evaluate(args.final_eval as usize, mnist);
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        ok = scored.is_ok(),
        "final evaluation"
    );
    match scored {
        Ok(scored) if args.json => events::emit(json!({
            "event": "final_evaluation",
            "report": scored.report,
            "saved_to": scored.saved_to,
        })),
        Ok(scored) if args.chatty() => {
            let r = &scored.report;
            let labels = r.labels.as_ref().map_or_else(String::new, |l| {
                format!(" | label accuracy {:.2}%", 100.0 * l.label_accuracy)
            });
            println!(
                "final evaluation ({} images): FID (LeNet) {:.3} | IS {:.3} | digits {}/10 | precision {:.3} | recall {:.3}{labels}",
                r.samples,
                r.frechet_distance,
                r.inception_score,
                r.coverage.modes,
                r.precision,
                r.recall
            );
        }
        Ok(_) => {}
        Err(e) => tracing::warn!(
            "the final evaluation failed: {:#}; run `gan eval --checkpoint {}`",
            anyhow::Error::from(e),
            run_dir.root().display()
        ),
    }
}

/// Writes the run's `report.html`; a failure is a warning.
fn write_report(root: &Path) -> Option<PathBuf> {
    gan_report::write_report(root)
        .inspect_err(|e| tracing::warn!("could not write the run report: {e}"))
        .ok()
}

fn trainer_start(observer: &CliObserver) -> f64 {
    observer.start_step() as f64
}

/// The config of a new run: the preset (or `--config` file) with the flags applied, validated.
pub fn new_run_config(args: &TrainArgs) -> Result<TrainConfig> {
    let mut config = match (&args.config, &args.preset) {
        _ if args.reflow.is_some() => {
            let source = args.reflow.as_deref().unwrap_or(Path::new("."));
            let pairs = args.pairs.unwrap_or(gan_training::reflow::DEFAULT_PAIRS);
            gan_training::reflow::reflow_config(source, pairs)?
        }
        (Some(path), Some(preset)) => bail!(
            "--preset {preset} and --config {} both give every setting of a run (a config file \
             is complete and names its own preset), so one would be ignored: pass --config \
             alone, or --preset {preset} with --set PATH=VALUE for the fields to change",
            path.display()
        ),
        (Some(path), None) => TrainConfig::from_toml_file(path)
            .with_context(|| format!("reading --config {}", path.display()))?,
        (None, preset) => {
            TrainConfig::preset(preset.as_deref().unwrap_or(gan_training::DEFAULT_PRESET))?
        }
    };
    if !args.settings.is_empty() {
        config = config.with_settings(&args.settings)?;
    }
    apply_schedule_flags(args, &mut config)?;
    if let Some(b) = args.batch_size {
        config.batch_size = b as usize;
    }
    if let Some(lr) = args.lr {
        config.model.set_learning_rate(lr);
    }
    if let Some(seed) = args.seed {
        config.seed = seed;
    }
    config.validate()?;
    Ok(config)
}

/// Flags allowed both for new runs and for resumes: they change the schedule, not the model.
fn apply_schedule_flags(args: &TrainArgs, config: &mut TrainConfig) -> Result<(), TrainError> {
    if let Some(steps) = args.steps {
        config.steps = steps;
        // `--steps` alone asks for that many steps, whatever budget the config had.
        if args.minutes.is_none() {
            config.minutes = None;
        }
    }
    if let Some(minutes) = args.minutes {
        config.minutes = Some(minutes);
        if args.steps.is_none() {
            config.steps = UNLIMITED_STEPS;
        }
    }
    if let Some(n) = args.sample_every {
        config.sample_every = n;
    }
    if let Some(n) = args.checkpoint_every {
        config.checkpoint_every = n;
    }
    if let Some(device) = args.device {
        config.device = device;
    }
    if let Some(threads) = args.threads {
        config.threads = threads as usize;
    }
    if let Some(matmul) = &args.matmul {
        config.matmul = MatmulChoice::parse(matmul)?;
    }
    if let Some(backprop) = &args.backprop {
        config.backprop = Backprop::parse(backprop).ok_or_else(|| TrainError::InvalidConfig {
            field: "backprop",
            value: backprop.clone(),
            why: "choose fused or autograd".to_owned(),
        })?;
    }
    if let Some(n) = args.eval_every {
        config.eval_every = n;
    }
    if let Some(n) = args.eval_samples {
        config.eval_samples = n as usize;
    }
    if args.tensorboard {
        config.tensorboard = true;
    }
    Ok(())
}

/// Loads MNIST from `dir`, fetching it first if files are missing (from `$GAN_DATA_MIRROR`,
/// else the public mirrors).
fn load_or_fetch(dir: &Path, quiet: bool) -> Result<Mnist> {
    let complete = gan_data::MnistFile::ALL
        .iter()
        .all(|f| f.locate(dir).is_ok());
    if !complete {
        let mirrors = match std::env::var(DATA_MIRROR_ENV) {
            Ok(value) if !value.trim().is_empty() => vec![Mirror::parse(&value)?],
            _ => Mirror::defaults(),
        };
        if !quiet {
            println!("MNIST not found in {}; fetching it", dir.display());
        }
        let outcomes = Fetcher::new(mirrors)
            .fetch_mnist(dir, &gan_data::NoProgress)
            .with_context(|| format!("fetching MNIST into {}", dir.display()))?;
        if !quiet {
            for outcome in outcomes {
                if let gan_data::FetchOutcome::Fetched { path, from, bytes } = outcome {
                    println!("  {} ({bytes} bytes from {from}, verified)", path.display());
                }
            }
        }
    }
    Mnist::load(dir).with_context(|| format!("loading MNIST from {}", dir.display()))
}
