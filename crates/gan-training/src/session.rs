//! A run from start to finish as `gan train` runs it, for the CLI and library users alike:
//! a new run or a resumed one is checked completely before anything is written (its config,
//! device and kernel, a free `out`, the lock of a resumed run, its checkpoint and metrics, a
//! step or minute left), then the first writes (lock, config, a replaced run cleared), then
//! training with the run's history (started or resumed; finished, interrupted or failed).
//!
//! [`train_run`] does it all in one call, and [`Finished::evaluate`] the evaluation that
//! ends a run; the report is the caller's (`gan-report` sits above this crate). The steps ([`Session`] → [`Prepared`] →
//! [`Started`] → [`Finished`]) let a caller act between them (the CLI opens its log and
//! prints the run directory once it exists).

use std::path::{Path, PathBuf};

use gan_data::{Mnist, Split};
use gan_eval::Evaluator;
use gan_models::matmul_tuning::Tuning;
use tch::Device;

use crate::checkpoint;
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::history::{RunEvent, RunEventKind};
use crate::inference::TrainedGenerator;
use crate::lock::RunLock;
use crate::matmul_choice::pin_matmul;
use crate::metrics::UnreadableRows;
use crate::reflow::{self, ReflowConfig};
use crate::run::{self, RunOutcome, TrainObserver};
use crate::run_dir::RunDir;
use crate::scoring::{score_checkpoint, CheckpointRequest, Scored};
use crate::trainer::Trainer;

/// A run to train, checked; nothing written yet.
#[derive(Debug)]
pub struct Session {
    run_dir: RunDir,
    /// A resumed run's lock, taken before anything else is read from it.
    lock: Option<RunLock>,
    config: TrainConfig,
    resuming: bool,
    /// A resume's rewind: the checkpoint step it continues from instead of the newest.
    from_step: Option<u64>,
    overwrite: bool,
}

impl Session {
    /// A new run of `config` in `out`, which must hold no run unless `overwrite` (then the
    /// run there is replaced when training starts).
    pub fn new_run(
        config: TrainConfig,
        out: &Path,
        overwrite: bool,
    ) -> Result<Session, TrainError> {
        config.validate()?;
        if let Some(reflow) = &config.reflow {
            let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
                (Ok(a), Ok(b)) => a == b,
                _ => false,
            };
            if same(&reflow.source, out) {
                return Err(TrainError::invalid(
                    "out",
                    out.display(),
                    "is the run the reflow learns from; give the new run a directory of its own",
                ));
            }
        }
        if !overwrite {
            RunDir::check_free(out)?;
        }
        config.matmul.resolve(config.device.resolve()?)?;
        Ok(Session {
            run_dir: RunDir::at(out),
            lock: None,
            config,
            resuming: false,
            from_step: None,
            overwrite,
        })
    }

    /// The run in `dir`, to continue: locked first (another process may be training there),
    /// then its config read and changed by `edit` (a new schedule: more steps, a budget,
    /// other intervals) and checked.
    pub fn resume(
        dir: &Path,
        edit: impl FnOnce(&mut TrainConfig) -> Result<(), TrainError>,
    ) -> Result<Session, TrainError> {
        let cannot = |source| TrainError::CannotResume {
            path: dir.to_owned(),
            source: Box::new(source),
        };
        let (run_dir, mut config) = RunDir::open(dir).map_err(cannot)?;
        let lock = RunLock::acquire(run_dir.root())?;
        edit(&mut config)?;
        config.validate()?;
        config.matmul.resolve(config.device.resolve()?)?;
        Ok(Session {
            run_dir,
            lock: Some(lock),
            config,
            resuming: true,
            from_step: None,
            overwrite: false,
        })
    }

    /// Makes a resume continue from the checkpoint of `step` rather than the newest: what the
    /// run wrote after that step (its later checkpoints, `best` if later, sample grids,
    /// metrics rows, the final evaluation) is deleted when training starts, so the run reads
    /// as if it had stopped there. Refused, listing the steps there are, when `step` has no
    /// checkpoint; refused for a new run.
    pub fn rewind_to(mut self, step: u64) -> Result<Session, TrainError> {
        if !self.resuming {
            return Err(TrainError::invalid(
                "from-step",
                step,
                "a new run has no checkpoints; --from-step goes with --resume",
            ));
        }
        checkpoint::manifest_of_step(&self.run_dir.checkpoints_dir(), step).map_err(|e| {
            TrainError::CannotResume {
                path: self.run_dir.root().to_owned(),
                source: Box::new(e),
            }
        })?;
        self.from_step = Some(step);
        Ok(self)
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// Where the run is (or will be).
    pub fn root(&self) -> &Path {
        self.run_dir.root()
    }

    pub fn resuming(&self) -> bool {
        self.resuming
    }

    /// Everything that needs the data, still without writing: for a new run `matmul = auto`
    /// measured and pinned in its config; the model built; a resumed run restored from its
    /// newest checkpoint with its metrics and history checked (`unreadable` says what to do
    /// with damaged metrics lines) and a step or minute left; the evaluator when the config
    /// evaluates during training.
    pub fn prepare(
        mut self,
        mnist: &Mnist,
        unreadable: UnreadableRows,
    ) -> Result<Prepared, TrainError> {
        let tuning = if self.resuming {
            None
        } else {
            // Timed on the run's own shapes: after the cheap checks and the data.
            let device = self.config.device.resolve()?;
            pin_matmul(&mut self.config, device)?
        };
        let device = self.config.device.resolve()?;
        let reflow = match &self.config.reflow {
            Some(reflow) => Some(self.reflow_pairs(reflow, device)?),
            None => None,
        };
        let train = reflow.as_ref().map_or(&mnist.train, |r| &r.pairs);
        let mut trainer = Trainer::new(&self.config, train)?;
        if let Some(source) = reflow.as_ref().and_then(|r| r.source.as_ref()) {
            trainer.start_from(source)?;
        }
        let elapsed_before = if self.resuming {
            let root = self.run_dir.root().to_owned();
            let from = self.from_step;
            let elapsed =
                run::resume(&mut trainer, &self.run_dir, from, unreadable).map_err(|e| {
                    TrainError::CannotResume {
                        path: root.clone(),
                        source: Box::new(e),
                    }
                })?;
            check_budget_left(&trainer, &self.config, &root, elapsed)?;
            if let (Some(reflow), 0) = (&self.config.reflow, trainer.steps_done()) {
                // Stopped before its first checkpoint: it starts again from its source.
                trainer.start_from(&reflow::load_source(reflow, device)?)?;
            }
            elapsed
        } else {
            0.0
        };
        let evaluator = if self.config.eval_every > 0 {
            let evaluator = Evaluator::new(&mnist.test, trainer.device())?;
            trainer.set_held_out(&mnist.test)?;
            Some(evaluator)
        } else {
            None
        };
        let drawn = reflow.filter(|r| r.drawn_seconds.is_some());
        Ok(Prepared {
            session: self,
            trainer,
            elapsed_before,
            evaluator,
            tuning,
            drawn,
        })
    }

    /// A reflow run's pairs: drawn by its source for a new run (with the source, which the
    /// run starts from), read from the run directory for a resumed one.
    fn reflow_pairs(&self, reflow: &ReflowConfig, device: Device) -> Result<Pairs, TrainError> {
        if self.resuming {
            let conditional = self.config.model.conditional();
            let pairs = reflow::read_pairs(self.run_dir.root(), reflow, conditional)?;
            return Ok(Pairs {
                pairs,
                source: None,
                drawn_seconds: None,
            });
        }
        let source = reflow::load_source(reflow, device)?;
        let (pairs, seconds) = reflow::draw_pairs(&source, reflow, self.config.seed)?;
        Ok(Pairs {
            pairs,
            source: Some(source),
            drawn_seconds: Some(seconds),
        })
    }
}

/// A reflow run's training pairs, with the model that drew them when they were drawn now.
struct Pairs {
    pairs: Split,
    source: Option<TrainedGenerator>,
    drawn_seconds: Option<f64>,
}

/// Refuses a resume that would train no step: the run is at its step count or has used its
/// time budget.
fn check_budget_left(
    trainer: &Trainer,
    config: &TrainConfig,
    root: &Path,
    elapsed_before: f64,
) -> Result<(), TrainError> {
    if trainer.steps_done() >= config.steps {
        return Err(TrainError::NothingLeft {
            path: root.to_owned(),
            why: format!(
                "is already at step {} of {}; pass --steps to train further",
                trainer.steps_done(),
                config.steps
            ),
        });
    }
    if let Some(minutes) = config.minutes.filter(|m| elapsed_before >= m * 60.0) {
        return Err(TrainError::NothingLeft {
            path: root.to_owned(),
            why: format!(
                "has already trained {:.1} minutes of its {minutes} minute budget; pass a \
                 larger --minutes, or --steps alone, to train further",
                elapsed_before / 60.0
            ),
        });
    }
    Ok(())
}

/// A run ready to train: model built (and restored), data on the device; nothing written.
pub struct Prepared {
    session: Session,
    trainer: Trainer,
    elapsed_before: f64,
    evaluator: Option<Evaluator>,
    tuning: Option<Tuning>,
    /// A new reflow run's pairs, written into the run directory when it starts.
    drawn: Option<Pairs>,
}

impl Prepared {
    pub fn config(&self) -> &TrainConfig {
        &self.session.config
    }

    pub fn trainer(&self) -> &Trainer {
        &self.trainer
    }

    /// What `matmul = auto` measured for a new run, if it measured.
    pub fn matmul_tuning(&self) -> Option<&Tuning> {
        self.tuning.as_ref()
    }

    /// A new reflow run's pairs drawn: how many, in how many seconds.
    pub fn pairs_drawn(&self) -> Option<(usize, f64)> {
        let drawn = self.drawn.as_ref()?;
        Some((drawn.pairs.images.count, drawn.drawn_seconds.unwrap_or(0.0)))
    }

    /// The first writes: the directory's lock, then the config (a resume's with its new
    /// schedule), after clearing the run in `out` for an overwrite.
    pub fn start(self) -> Result<Started, TrainError> {
        let Prepared {
            mut session,
            trainer,
            elapsed_before,
            evaluator,
            tuning: _,
            drawn,
        } = self;
        let root = session.run_dir.root().to_owned();
        let mut replaced = false;
        let lock = match session.lock.take() {
            Some(lock) => {
                session.run_dir.probe_write()?;
                if let Some(step) = session.from_step {
                    session.run_dir.discard_after(step)?;
                }
                session.run_dir.write_config(&session.config)?;
                lock
            }
            None => {
                let existing = if session.overwrite && RunDir::holds_run(&root) {
                    let lock = RunLock::acquire(&root)?;
                    RunDir::clear(&root).map_err(|e| TrainError::CannotReplace {
                        path: root.clone(),
                        source: Box::new(e),
                    })?;
                    replaced = true;
                    Some(lock)
                } else {
                    None
                };
                session.run_dir =
                    RunDir::create(&root, &session.config).map_err(|e| unusable(&root, e))?;
                if let Some(drawn) = &drawn {
                    reflow::write_pairs(&root, &drawn.pairs)?;
                }
                match existing {
                    Some(lock) => lock,
                    None => RunLock::acquire(&root)?,
                }
            }
        };
        Ok(Started {
            run_dir: session.run_dir,
            config: session.config,
            resuming: session.resuming,
            from_step: session.from_step,
            replaced,
            trainer,
            elapsed_before,
            evaluator,
            _lock: lock,
        })
    }
}

fn unusable(root: &Path, source: TrainError) -> TrainError {
    TrainError::OutUnusable {
        path: root.to_owned(),
        source: Box::new(source),
    }
}

/// A run whose directory is written and locked, about to train.
pub struct Started {
    run_dir: RunDir,
    config: TrainConfig,
    resuming: bool,
    from_step: Option<u64>,
    replaced: bool,
    trainer: Trainer,
    elapsed_before: f64,
    evaluator: Option<Evaluator>,
    _lock: RunLock,
}

impl Started {
    pub fn run_dir(&self) -> &RunDir {
        &self.run_dir
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    pub fn resuming(&self) -> bool {
        self.resuming
    }

    /// Seconds a resumed run trained before (0 for a new one): what its time budget has used.
    pub fn elapsed_before(&self) -> f64 {
        self.elapsed_before
    }

    /// Whether starting replaced a run that was in `out`.
    pub fn replaced(&self) -> bool {
        self.replaced
    }

    pub fn trainer(&self) -> &Trainer {
        &self.trainer
    }

    /// Trains to the end of the schedule (or an interruption the observer asks for), with
    /// the run's history: started or resumed, then finished or interrupted. A failure is
    /// recorded in the history before it is returned.
    pub fn train(mut self, observer: &mut dyn TrainObserver) -> Result<Finished, TrainError> {
        let kind = if self.resuming {
            RunEventKind::Resumed
        } else {
            RunEventKind::Started
        };
        let detail = match self.from_step {
            Some(step) => format!("rewound to the checkpoint of step {step}"),
            None => String::new(),
        };
        self.run_dir
            .record(&RunEvent::now(kind, self.trainer.steps_done(), detail))?;
        let outcome = run::train(
            &mut self.trainer,
            &self.run_dir,
            observer,
            self.elapsed_before,
            self.evaluator.as_ref(),
        );
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(error) => {
                let failed = RunEvent::now(
                    RunEventKind::Failed,
                    self.trainer.steps_done(),
                    error.to_string(),
                );
                if let Err(e) = self.run_dir.record(&failed) {
                    tracing::warn!("could not record the failure in the run's history: {e}");
                }
                return Err(error);
            }
        };
        let (kind, detail) = match (outcome.interrupted, outcome.out_of_time) {
            (true, _) => (RunEventKind::Interrupted, ""),
            (false, true) => (RunEventKind::Finished, "time budget reached"),
            (false, false) => (RunEventKind::Finished, ""),
        };
        self.run_dir
            .record(&RunEvent::now(kind, outcome.steps_done, detail))?;
        Ok(Finished {
            run_dir: self.run_dir,
            config: self.config,
            outcome,
            trainer: self.trainer,
            evaluator: self.evaluator,
        })
    }
}

/// A run that trained to its end or was interrupted (its lock released).
pub struct Finished {
    pub run_dir: RunDir,
    pub config: TrainConfig,
    pub outcome: RunOutcome,
    pub trainer: Trainer,
    /// The evaluator the run used, for a final evaluation without loading it again.
    pub evaluator: Option<Evaluator>,
}

impl Finished {
    /// The evaluation that ends a finished run: `n` images of its newest checkpoint scored as
    /// `gan eval --checkpoint` scores them (without a likelihood model's likelihood), saved
    /// as its `eval.json`. The trainer is let go first, to free its memory.
    pub fn evaluate(self, n: usize, mnist: &Mnist) -> Result<Scored, TrainError> {
        let device = self.trainer.device();
        drop(self.trainer);
        let evaluator = match self.evaluator {
            Some(evaluator) => evaluator,
            None => Evaluator::new(&mnist.test, device)?,
        };
        let request = CheckpointRequest {
            path: self.run_dir.root(),
            n,
            seed: 0,
            raw: false,
            training_prior: false,
            sample_steps: None,
            guidance: None,
            k: None,
            likelihood: false,
            repeats: 1,
        };
        score_checkpoint(&request, mnist, &evaluator, device)
    }
}

/// What [`train_run`] does.
#[derive(Debug)]
// One per run: boxing the config would only cost callers a `Box::new`.
#[allow(clippy::large_enum_variant)]
pub enum Plan {
    /// A new run of `config` in `out`; `overwrite` replaces a run already there.
    New {
        config: TrainConfig,
        out: PathBuf,
        overwrite: bool,
    },
    /// The run in `dir`, continued to `steps` (its own step count when `None`) from its
    /// newest checkpoint, or from the one of step `from_step` (see [`Session::rewind_to`]).
    Resume {
        dir: PathBuf,
        steps: Option<u64>,
        from_step: Option<u64>,
    },
}

/// A run from start to finish in one call: see the module docs.
pub fn train_run(
    plan: Plan,
    mnist: &Mnist,
    observer: &mut dyn TrainObserver,
) -> Result<Finished, TrainError> {
    let session = match plan {
        Plan::New {
            config,
            out,
            overwrite,
        } => Session::new_run(config, &out, overwrite)?,
        Plan::Resume {
            dir,
            steps,
            from_step,
        } => {
            let session = Session::resume(&dir, |config| {
                if let Some(steps) = steps {
                    config.steps = steps;
                }
                Ok(())
            })?;
            match from_step {
                Some(step) => session.rewind_to(step)?,
                None => session,
            }
        }
    };
    session
        .prepare(mnist, UnreadableRows::Refuse)?
        .start()?
        .train(observer)
}
