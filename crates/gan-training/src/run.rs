//! The training loop around [`Trainer`]: metrics, samples and checkpoints on schedule.

use std::path::{Path, PathBuf};
use std::time::Instant;

use gan_data::rng::stream_seed;
use gan_data::Images;
use gan_eval::{EvalReport, Evaluator};

use crate::checkpoint;
use crate::error::TrainError;
use crate::history;
use crate::likelihood::LikelihoodReport;
use crate::metrics::StepMetrics;
use crate::metrics::{self, EvalColumns, MetricsLog, UnreadableRows};
use crate::run_dir::RunDir;
use crate::trainer::Trainer;

/// Hooks for the program driving training: progress display, pictures, interruption.
/// Every method has a do-nothing default.
pub trait TrainObserver {
    /// Training starts (or resumes) after `done` of `total` steps.
    fn on_start(&mut self, _done: u64, _total: u64) {}
    fn on_step(&mut self, _metrics: &StepMetrics) {}
    /// A grid of samples from the fixed noise after `step` steps (0 = before training), and
    /// the path of the metrics written so far. Errors here stop training.
    fn on_sample(
        &mut self,
        _step: u64,
        _grid: &Images,
        _metrics_path: &Path,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        Ok(())
    }
    fn on_checkpoint(&mut self, _step: u64, _manifest: &Path) {}
    /// The generator was evaluated after `step` steps; `best` when its FID is the lowest yet.
    fn on_eval(&mut self, _step: u64, _report: &EvalReport, _best: bool) {}
    /// A likelihood model was scored on held-out images after `step` steps.
    fn on_likelihood(&mut self, _step: u64, _report: &LikelihoodReport) {}
    /// Polled before each step; `true` checkpoints and stops early.
    fn should_stop(&mut self) -> bool {
        false
    }
}

/// A do-nothing [`TrainObserver`].
pub struct Silent;
impl TrainObserver for Silent {}

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct RunOutcome {
    /// Completed steps.
    pub steps_done: u64,
    /// True when [`TrainObserver::should_stop`] ended it early.
    pub interrupted: bool,
    /// True when the time budget (`minutes`) ended it before `steps`.
    pub out_of_time: bool,
    /// Training time, including time before a resume.
    pub elapsed_seconds: f64,
    /// The newest checkpoint's manifest.
    pub checkpoint: Option<PathBuf>,
    /// Metrics of the last step.
    pub last: Option<StepMetrics>,
}

/// Restores the newest checkpoint of `run` (or the one of step `from`) into `trainer` and
/// checks that the run's metrics can be continued from it; returns the elapsed seconds it
/// recorded. A run stopped before its first checkpoint resumes from step 0 (its config is
/// complete). Writes nothing, so a refused resume leaves the run as it was.
pub fn resume(
    trainer: &mut Trainer,
    run: &RunDir,
    from: Option<u64>,
    unreadable_metrics: UnreadableRows,
) -> Result<f64, TrainError> {
    let elapsed = if from.is_none() && checkpoint::list(&run.checkpoints_dir()).is_empty() {
        tracing::info!(run = %run.root().display(), "no checkpoint yet: starting from step 0");
        0.0
    } else {
        let checkpoint = match from {
            Some(step) => checkpoint::at_step(&run.checkpoints_dir(), step)?,
            None => checkpoint::latest(&run.checkpoints_dir())?,
        };
        trainer.restore(&checkpoint)?;
        tracing::info!(
            step = checkpoint.manifest.step,
            path = %checkpoint.path.display(),
            "resuming"
        );
        checkpoint.manifest.elapsed_seconds
    };
    metrics::check_resumable(
        &run.metrics_path(),
        trainer.steps_done(),
        unreadable_metrics,
    )?;
    // The history is appended to: it must be a readable file. Damaged lines are only noted
    // (the report skips them too).
    let (_, damaged) = history::read(&run.history_path())?;
    for note in damaged {
        tracing::warn!("{note}; the report skips that line");
    }
    Ok(elapsed)
}

/// Random stream of the images generated for evaluations (the same at every evaluation, so
/// scores differ only by what G learned).
const EVAL_STREAM: u64 = u64::MAX - 16;

/// Trains until `config.steps` (or until the observer asks to stop), writing metrics, sample
/// grids and checkpoints into `run` on the configured schedule. `elapsed_before` is the
/// training time of earlier sessions of this run (0 for a new one). With `config.eval_every`
/// set, `evaluator` measures the generator on that schedule and the lowest-FID checkpoint is
/// kept as `checkpoints/best`.
pub fn train(
    trainer: &mut Trainer,
    run: &RunDir,
    observer: &mut dyn TrainObserver,
    elapsed_before: f64,
    evaluator: Option<&Evaluator>,
) -> Result<RunOutcome, TrainError> {
    train_on_schedule(trainer, run, observer, elapsed_before, evaluator).map_err(|e| match e {
        TrainError::NonFinite {
            step, what, value, ..
        } => TrainError::NonFinite {
            step,
            what,
            value,
            checkpoint: newest_checkpoint_step(run),
        },
        other => other,
    })
}

/// The step of the newest checkpoint in `run`, if it has one.
fn newest_checkpoint_step(run: &RunDir) -> Option<u64> {
    let newest = checkpoint::list(&run.checkpoints_dir())
        .into_iter()
        .next()?;
    Some(checkpoint::read_manifest(&newest).ok()?.step)
}

fn train_on_schedule(
    trainer: &mut Trainer,
    run: &RunDir,
    observer: &mut dyn TrainObserver,
    elapsed_before: f64,
    evaluator: Option<&Evaluator>,
) -> Result<RunOutcome, TrainError> {
    let config = trainer.config().clone();
    let total = config.steps;
    let evaluator = evaluator.filter(|_| config.eval_every > 0);
    let eval_columns = match (evaluator, config.model.conditional()) {
        (None, _) => EvalColumns::None,
        (Some(_), false) => EvalColumns::Unlabelled,
        (Some(_), true) => EvalColumns::Labelled,
    };
    let likelihood_columns = evaluator.is_some() && trainer.family().likelihood_model().is_some();
    let mut metrics = MetricsLog::open(
        &run.metrics_path(),
        trainer.steps_done(),
        trainer.metrics(),
        eval_columns,
        likelihood_columns,
    )?;
    let mut best_fid = best_fid(run);
    let clock = Instant::now();
    let elapsed = || elapsed_before + clock.elapsed().as_secs_f64();
    observer.on_start(trainer.steps_done(), total);
    let started_at = trainer.steps_done();
    let steps = if total >= crate::config::UNLIMITED_STEPS {
        "until the time budget".to_owned()
    } else {
        total.to_string()
    };
    tracing::info!(
        preset = %config.preset,
        family = config.model.name(),
        steps = %steps,
        minutes = ?config.minutes,
        done = trainer.steps_done(),
        device = ?trainer.device(),
        matmul = trainer.matmul().name(),
        backprop = trainer.backprop().name(),
        "training"
    );
    if trainer.steps_done() == 0 {
        sample(trainer, run, observer, 0)?;
    }
    let mut outcome = RunOutcome {
        steps_done: trainer.steps_done(),
        interrupted: false,
        out_of_time: false,
        elapsed_seconds: elapsed_before,
        checkpoint: checkpoint::list(&run.checkpoints_dir()).into_iter().next(),
        last: None,
    };
    // A resumed trainer stands exactly at its newest checkpoint.
    let mut saved_at = (trainer.steps_done() > 0).then_some(trainer.steps_done());
    let budget = config.minutes.map(|m| m * 60.0);
    let out_of_time = |elapsed: f64| budget.is_some_and(|b| elapsed >= b);
    let mut time_up = out_of_time(elapsed_before);
    while trainer.steps_done() < total && !time_up {
        if observer.should_stop() {
            outcome.interrupted = true;
            break;
        }
        let m = match trainer.step() {
            Ok(m) => m,
            Err(e) => {
                metrics.flush()?;
                return Err(e);
            }
        };
        let step = m.step;
        // The step that crosses the time budget ends the run as the last step would.
        time_up = out_of_time(elapsed());
        let last = step == total || time_up;
        let (report, likelihood) = match evaluator {
            Some(e) if step % config.eval_every == 0 || last => {
                let report = evaluate(trainer, run, e, observer, &mut best_fid, elapsed())?;
                let likelihood = trainer.likelihood()?;
                if let Some(l) = &likelihood {
                    tracing::info!(
                        step,
                        test_elbo = l.elbo,
                        test_nll = l.negative_log_likelihood(),
                        k = l.importance_samples,
                        images = l.images,
                        "likelihood"
                    );
                    observer.on_likelihood(step, l);
                }
                (Some(report), likelihood)
            }
            _ => (None, None),
        };
        metrics.append(&m, elapsed(), report.as_ref(), likelihood.as_ref())?;
        observer.on_step(&m);
        if step % config.sample_every == 0 || last {
            metrics.flush()?;
            let rate = (step - started_at) as f64 / clock.elapsed().as_secs_f64().max(1e-9);
            tracing::info!(
                "{} | {}",
                config.describe_progress(step, elapsed(), rate),
                m.describe(trainer.metrics())
            );
            sample(trainer, run, observer, step)?;
        }
        outcome.last = Some(m);
        if step % config.checkpoint_every == 0 || last {
            metrics.flush()?;
            outcome.checkpoint = Some(save_checkpoint(trainer, run, observer, elapsed())?);
            saved_at = Some(step);
        }
    }
    metrics.flush()?;
    if outcome.interrupted && saved_at != Some(trainer.steps_done()) {
        outcome.checkpoint = Some(save_checkpoint(trainer, run, observer, elapsed())?);
    }
    outcome.steps_done = trainer.steps_done();
    outcome.elapsed_seconds = elapsed();
    outcome.out_of_time = time_up;
    Ok(outcome)
}

/// Scores the generator on images from a fixed noise; keeps the checkpoint as `best` when its
/// FID is the lowest so far.
fn evaluate(
    trainer: &Trainer,
    run: &RunDir,
    evaluator: &Evaluator,
    observer: &mut dyn TrainObserver,
    best_fid: &mut Option<f64>,
    elapsed: f64,
) -> Result<EvalReport, TrainError> {
    let config = trainer.config();
    let step = trainer.steps_done();
    let seed = stream_seed(config.seed, EVAL_STREAM);
    let samples = trainer.generate(config.eval_samples, seed)?;
    let report = match &samples.labels {
        Some(labels) => evaluator.evaluate_labelled(&samples.images, labels)?,
        None => evaluator.evaluate(&samples.images)?,
    };
    let best = best_fid.is_none_or(|b| report.frechet_distance < b);
    if best {
        trainer.check_parameters()?;
        let mut manifest = trainer.manifest(elapsed);
        manifest.frechet_distance = Some(report.frechet_distance);
        let tensors = trainer.state_tensors()?;
        checkpoint::save_as(&run.checkpoints_dir(), checkpoint::BEST, manifest, &tensors)?;
        *best_fid = Some(report.frechet_distance);
    }
    tracing::info!(
        step,
        fid = report.frechet_distance,
        inception_score = report.inception_score,
        modes = report.coverage.modes,
        precision = report.precision,
        recall = report.recall,
        label_accuracy = report.labels.as_ref().map(|l| l.label_accuracy),
        best,
        "evaluated"
    );
    observer.on_eval(step, &report, best);
    Ok(report)
}

/// FID of the run's `best` checkpoint, if it has one.
fn best_fid(run: &RunDir) -> Option<f64> {
    let best = run
        .checkpoints_dir()
        .join(format!("{}.toml", checkpoint::BEST));
    checkpoint::read_manifest(&best).ok()?.frechet_distance
}

fn sample(
    trainer: &Trainer,
    run: &RunDir,
    observer: &mut dyn TrainObserver,
    step: u64,
) -> Result<(), TrainError> {
    let grid = trainer.samples()?;
    observer
        .on_sample(step, &grid, &run.metrics_path())
        .map_err(|e| TrainError::io(run.sample_path(step), std::io::Error::other(e.to_string())))
}

fn save_checkpoint(
    trainer: &Trainer,
    run: &RunDir,
    observer: &mut dyn TrainObserver,
    elapsed: f64,
) -> Result<PathBuf, TrainError> {
    // Never checkpoint a diverged model: the last good checkpoint must stay the newest.
    trainer.check_parameters()?;
    let dir = run.checkpoints_dir();
    let manifest = checkpoint::save(&dir, trainer.manifest(elapsed), &trainer.state_tensors()?)?;
    checkpoint::prune(&dir, trainer.config().keep_checkpoints)?;
    tracing::info!(step = trainer.steps_done(), path = %manifest.display(), "checkpoint");
    observer.on_checkpoint(trainer.steps_done(), &manifest);
    Ok(manifest)
}
