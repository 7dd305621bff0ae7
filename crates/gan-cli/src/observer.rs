//! What `gan train` shows and draws while training runs: a progress bar, the tutorial's line
//! at each sample interval, sample grids, the loss chart, the progress animation, the run's
//! `report.html`, and TensorBoard events when asked for.

use std::path::Path;
use std::time::Instant;

use gan_data::Images;
use gan_report::tensorboard::EventWriter;
use gan_training::run_dir::sample_step;
use gan_training::{metrics, Metric, RunDir, StepMetrics, TrainConfig, TrainObserver};
use gan_viz::{render_grid, save_chart, save_gif, GrayImages, GridStyle, Rgb};
use indicatif::{ProgressBar, ProgressStyle};

use crate::interrupt::Interrupt;

pub struct CliObserver {
    run: RunDir,
    preset: String,
    metrics: &'static [Metric],
    /// A time budget bounds the run rather than its (then huge) step count.
    /// The run's schedule, for where a line says the run stands.
    config: TrainConfig,
    /// Seconds trained before this process (a resume), which the time budget counts.
    elapsed_before: f64,
    timed: bool,
    style: GridStyle,
    quiet: bool,
    /// Events as JSON lines (`gan train --json`).
    json: bool,
    bar: Option<ProgressBar>,
    frames: Vec<(String, Rgb)>,
    last: Option<StepMetrics>,
    total: u64,
    start_step: u64,
    started: Instant,
    interrupt: Interrupt,
    /// Open while TensorBoard logging is on and working (a write error turns it off).
    tensorboard: Option<EventWriter>,
    tensorboard_wanted: bool,
    /// When `report.html` was last written during training.
    report_written: Option<Instant>,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How often a running job's `report.html` is refreshed, at most.
const REPORT_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

impl CliObserver {
    /// Frames already in the run (on resume) are loaded so the animation stays complete.
    pub fn new(
        run: &RunDir,
        config: &TrainConfig,
        quiet: bool,
        interrupt: Interrupt,
        elapsed_before: f64,
    ) -> anyhow::Result<CliObserver> {
        let mut frames = Vec::new();
        let mut samples: Vec<_> = std::fs::read_dir(run.samples_dir())
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        samples.sort();
        for path in &samples {
            let Some(step) = sample_step(path) else {
                continue;
            };
            // A damaged grid costs the animation a frame, not the run.
            match Rgb::load_png(path) {
                Ok(frame) => frames.push((format!("step {step}"), frame)),
                Err(e) => tracing::warn!("{e}; progress.gif goes without it"),
            }
        }
        frames.sort_by_key(|(caption, _)| caption_step(caption));
        Ok(CliObserver {
            run: run.clone(),
            preset: config.preset.clone(),
            metrics: config.model.metrics(),
            timed: config.minutes.is_some(),
            config: config.clone(),
            elapsed_before,
            style: GridStyle::new(config.grid[0] as u32, config.grid[1] as u32),
            quiet,
            json: false,
            bar: None,
            frames,
            last: None,
            total: config.steps,
            start_step: 0,
            started: Instant::now(),
            interrupt,
            tensorboard: None,
            tensorboard_wanted: config.tensorboard,
            report_written: None,
        })
    }

    /// Also prints each sample, evaluation and checkpoint as a JSON line.
    pub fn with_json_events(mut self, json: bool) -> Self {
        self.json = json;
        self
    }

    pub fn exit_code(&self) -> i32 {
        self.interrupt.exit_code()
    }

    pub fn start_step(&self) -> u64 {
        self.start_step
    }

    pub fn wall_seconds(&self) -> f64 {
        self.started.elapsed().as_secs_f64().max(1e-9)
    }

    pub fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        self.log_to_tensorboard(|tb| tb.flush());
    }

    /// Runs `write` on the event writer; the first failure is logged and ends TensorBoard
    /// logging for the run (training goes on).
    fn log_to_tensorboard(
        &mut self,
        write: impl FnOnce(&mut EventWriter) -> Result<(), gan_report::ReportError>,
    ) {
        if let Some(tb) = self.tensorboard.as_mut() {
            if let Err(e) = write(tb) {
                tracing::warn!("TensorBoard logging stopped: {e}");
                self.tensorboard = None;
            }
        }
    }

    /// Rewrites `report.html` at most once per [`REPORT_INTERVAL`] (the page re-encodes
    /// every grid; more often would cost a timed run steps); a failure is a warning, not a
    /// reason to stop training. `gan train` writes it once more at the end.
    fn write_report(&mut self) {
        if self
            .report_written
            .is_some_and(|at| at.elapsed() < REPORT_INTERVAL)
        {
            return;
        }
        self.report_written = Some(Instant::now());
        if let Err(e) = gan_report::write_report(self.run.root()) {
            tracing::warn!("could not write the run report: {e}");
        }
    }

    /// `step 800/10000`, or under a time budget how much of it the run has used.
    fn progress(&self, step: u64) -> String {
        let wall = self.wall_seconds();
        let rate = step.saturating_sub(self.start_step) as f64 / wall;
        self.config
            .describe_progress(step, self.elapsed_before + wall, rate)
    }

    fn say(&self, line: &str) {
        if self.quiet {
            return;
        }
        match &self.bar {
            Some(bar) => bar.suspend(|| println!("{line}")),
            None => println!("{line}"),
        }
    }

    fn draw(&mut self, step: u64, grid: &Images, metrics_path: &Path) -> Result<(), BoxError> {
        let picture = render_grid(gray(grid), self.style)?;
        let sample_path = self.run.sample_path(step);
        picture.save_png(&sample_path)?;
        if self.tensorboard.is_some() {
            let png = std::fs::read(&sample_path)?;
            let (width, height) = (picture.width, picture.height);
            self.log_to_tensorboard(|tb| {
                tb.image("samples", step, &png, width, height)?;
                tb.flush()
            });
        }
        self.frames
            .retain(|(caption, _)| caption_step(caption) != step);
        self.frames.push((format!("step {step}"), picture));
        save_gif(
            &self.run.root().join(gan_training::run_dir::PROGRESS_FILE),
            &self.frames,
            600,
        )?;
        let table = metrics::read(metrics_path)?;
        if !table.rows.is_empty() {
            let title = format!("gan-rs, preset {}: training curves", self.preset);
            let panels = gan_report::chart_panels(&table, Some(self.metrics));
            let height = 320 * panels.len() as u32;
            let smoothing = (table.rows.len() / 50).max(1);
            save_chart(
                &self.run.root().join(gan_training::run_dir::LOSS_CHART_FILE),
                &title,
                &panels,
                (900, height),
                smoothing,
            )?;
        }
        Ok(())
    }
}

impl TrainObserver for CliObserver {
    fn on_start(&mut self, done: u64, total: u64) {
        self.total = total;
        self.start_step = done;
        self.started = Instant::now();
        if self.tensorboard_wanted {
            match EventWriter::create(&self.run.tensorboard_dir()) {
                Ok(writer) => self.tensorboard = Some(writer),
                Err(e) => tracing::warn!("no TensorBoard logging: {e}"),
            }
            if done > 0 {
                // The steps after the checkpoint are trained again: TensorBoard should drop
                // what the interrupted run logged for them.
                self.log_to_tensorboard(|tb| tb.restart_at(done + 1));
            }
        }
        if self.quiet {
            return;
        }
        let bar = ProgressBar::new(total);
        let template = if self.timed {
            "{spinner} step {pos}  {per_sec}  {msg}"
        } else {
            "{bar:40} {pos}/{len} steps  {per_sec}  elapsed {elapsed}  eta {eta}"
        };
        bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
        bar.set_position(done);
        bar.reset_eta();
        self.bar = Some(bar);
    }

    fn on_step(&mut self, metrics: &StepMetrics) {
        if self.tensorboard.is_some() {
            let values: Vec<(String, f64)> = self
                .metrics
                .iter()
                .zip(&metrics.values)
                .map(|(m, v)| (format!("train/{}", m.key), *v))
                .collect();
            self.log_to_tensorboard(|tb| tb.scalars(metrics.step, &values));
        }
        self.last = Some(metrics.clone());
        if let Some(bar) = &self.bar {
            bar.set_position(metrics.step);
            if let Some(minutes) = self.config.minutes {
                let used = self.elapsed_before + self.started.elapsed().as_secs_f64();
                let left = (minutes * 60.0 - used).max(0.0);
                bar.set_message(format!(
                    "{} of {} used, {} left",
                    clock(used),
                    clock(minutes * 60.0),
                    clock(left)
                ));
            }
        }
    }

    fn on_sample(&mut self, step: u64, grid: &Images, metrics_path: &Path) -> Result<(), BoxError> {
        if let Some(m) = self.last.as_ref().filter(|m| m.step == step) {
            let progress = self.progress(step);
            self.say(&format!("{progress} | {}", m.describe(self.metrics)));
            if self.json {
                let values: serde_json::Map<String, serde_json::Value> = self
                    .metrics
                    .iter()
                    .zip(&m.values)
                    .map(|(metric, v)| (metric.key.to_owned(), (*v).into()))
                    .collect();
                crate::events::emit(serde_json::json!({
                    "event": "sample",
                    "step": step,
                    "metrics": values,
                }));
            }
        }
        self.draw(step, grid, metrics_path)?;
        self.write_report();
        Ok(())
    }

    fn on_checkpoint(&mut self, step: u64, manifest: &Path) {
        tracing::debug!(step, path = %manifest.display(), "checkpoint written");
        if self.json {
            crate::events::emit(serde_json::json!({
                "event": "checkpoint",
                "step": step,
                "path": manifest,
            }));
        }
    }

    fn on_eval(&mut self, step: u64, r: &gan_eval::EvalReport, best: bool) {
        let mut values = vec![
            ("eval/fid".to_owned(), r.frechet_distance),
            ("eval/inception_score".to_owned(), r.inception_score),
            ("eval/modes".to_owned(), r.coverage.modes as f64),
            ("eval/precision".to_owned(), r.precision),
            ("eval/recall".to_owned(), r.recall),
        ];
        if let Some(l) = &r.labels {
            values.push(("eval/label_accuracy".to_owned(), l.label_accuracy));
        }
        self.log_to_tensorboard(|tb| tb.scalars(step, &values));
        if self.json {
            crate::events::emit(serde_json::json!({
                "event": "evaluation",
                "step": step,
                "best": best,
                "report": r,
            }));
        }
        let progress = self.progress(step);
        let labels = r.labels.as_ref().map_or_else(String::new, |l| {
            format!(" | label accuracy {:.2}%", 100.0 * l.label_accuracy)
        });
        self.say(&format!(
            "{progress} | FID (LeNet) {:.3}{} | IS {:.3} | digits {}/10 | precision {:.3} | recall {:.3}{labels}",
            r.frechet_distance,
            if best { " (best)" } else { "" },
            r.inception_score,
            r.coverage.modes,
            r.precision,
            r.recall
        ));
    }

    fn on_likelihood(&mut self, step: u64, l: &gan_training::LikelihoodReport) {
        let values = [
            ("eval/test_elbo".to_owned(), l.elbo),
            ("eval/test_nll".to_owned(), l.negative_log_likelihood()),
        ];
        self.log_to_tensorboard(|tb| tb.scalars(step, &values));
        if self.json {
            crate::events::emit(serde_json::json!({
                "event": "likelihood",
                "step": step,
                "elbo": l.elbo,
                "nll": l.negative_log_likelihood(),
                "k": l.importance_samples,
                "images": l.images,
            }));
        }
        let progress = self.progress(step);
        self.say(&format!(
            "{progress} | test ELBO {:.3} nats | test NLL {:.3} nats (k={}, {} images)",
            l.elbo,
            l.negative_log_likelihood(),
            l.importance_samples,
            l.images
        ));
    }

    fn should_stop(&mut self) -> bool {
        self.interrupt.requested()
    }
}

/// The data layer's images as the picture layer sees them.
pub fn gray(images: &Images) -> GrayImages<'_> {
    GrayImages {
        pixels: &images.pixels,
        rows: images.rows,
        cols: images.cols,
    }
}

fn caption_step(caption: &str) -> u64 {
    caption.trim_start_matches("step ").parse().unwrap_or(0)
}

/// `4m05s` (or `1h02m` past an hour).
fn clock(seconds: f64) -> String {
    let seconds = seconds.max(0.0).round() as u64;
    if seconds >= 3600 {
        format!("{}h{:02}m", seconds / 3600, seconds % 3600 / 60)
    } else {
        format!("{}m{:02}s", seconds / 60, seconds % 60)
    }
}
