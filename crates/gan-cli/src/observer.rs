//! What `gan train` shows and draws while training runs: a progress bar, the tutorial's line
//! at each sample interval, sample grids, the loss chart and the progress animation.

use std::path::Path;
use std::time::Instant;

use gan_data::Images;
use gan_training::{metrics, Metric, RunDir, StepMetrics, TrainConfig, TrainObserver};
use gan_viz::{render_grid, save_chart, save_gif, Curve, GrayImages, GridStyle, Panel, Rgb};
use indicatif::{ProgressBar, ProgressStyle};

use crate::interrupt::Interrupt;

pub struct CliObserver {
    run: RunDir,
    preset: String,
    metrics: &'static [Metric],
    /// A time budget bounds the run rather than its (then huge) step count.
    timed: bool,
    style: GridStyle,
    quiet: bool,
    bar: Option<ProgressBar>,
    frames: Vec<(String, Rgb)>,
    last: Option<StepMetrics>,
    total: u64,
    start_step: u64,
    started: Instant,
    interrupt: Interrupt,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl CliObserver {
    /// Frames already in the run (on resume) are loaded so the animation stays complete.
    pub fn new(
        run: &RunDir,
        config: &TrainConfig,
        quiet: bool,
        interrupt: Interrupt,
    ) -> anyhow::Result<CliObserver> {
        let mut frames = Vec::new();
        let mut samples: Vec<_> = std::fs::read_dir(run.samples_dir())
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        samples.sort();
        for path in samples
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "png"))
        {
            if let Some(step) = step_of(path) {
                frames.push((format!("step {step}"), Rgb::load_png(path)?));
            }
        }
        frames.sort_by_key(|(caption, _)| caption_step(caption));
        Ok(CliObserver {
            run: run.clone(),
            preset: config.preset.clone(),
            metrics: config.model.metrics(),
            timed: config.minutes.is_some(),
            style: GridStyle::new(config.grid[0] as u32, config.grid[1] as u32),
            quiet,
            bar: None,
            frames,
            last: None,
            total: config.steps,
            start_step: 0,
            started: Instant::now(),
            interrupt,
        })
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
        picture.save_png(&self.run.sample_path(step))?;
        self.frames
            .retain(|(caption, _)| caption_step(caption) != step);
        self.frames.push((format!("step {step}"), picture));
        save_gif(&self.run.root().join("progress.gif"), &self.frames, 600)?;
        let table = metrics::read(metrics_path)?;
        if !table.rows.is_empty() {
            let title = format!("gan-rs, preset {}: training curves", self.preset);
            let panels = chart_panels(&table, self.metrics);
            let height = 320 * panels.len() as u32;
            let smoothing = (table.rows.len() / 50).max(1);
            save_chart(
                &self.run.root().join("loss.png"),
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
        if self.quiet {
            return;
        }
        let bar = ProgressBar::new(total);
        let template = if self.timed {
            "{spinner} step {pos}  {per_sec}  elapsed {elapsed} (time budget)"
        } else {
            "{bar:40} {pos}/{len} steps  {per_sec}  elapsed {elapsed}  eta {eta}"
        };
        bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
        bar.set_position(done);
        bar.reset_eta();
        self.bar = Some(bar);
    }

    fn on_step(&mut self, metrics: &StepMetrics) {
        self.last = Some(metrics.clone());
        if let Some(bar) = &self.bar {
            bar.set_position(metrics.step);
        }
    }

    fn on_sample(&mut self, step: u64, grid: &Images, metrics_path: &Path) -> Result<(), BoxError> {
        if let Some(m) = self.last.as_ref().filter(|m| m.step == step) {
            let total = if self.timed {
                String::new()
            } else {
                format!("/{}", self.total)
            };
            self.say(&format!(
                "step {step}{total} | {}",
                m.describe(self.metrics)
            ));
        }
        self.draw(step, grid, metrics_path)
    }

    fn on_checkpoint(&mut self, step: u64, manifest: &Path) {
        tracing::debug!(step, path = %manifest.display(), "checkpoint written");
    }

    fn on_eval(&mut self, step: u64, r: &gan_eval::EvalReport, best: bool) {
        let total = if self.timed {
            String::new()
        } else {
            format!("/{}", self.total)
        };
        let labels = r.labels.as_ref().map_or_else(String::new, |l| {
            format!(" | label accuracy {:.2}%", 100.0 * l.label_accuracy)
        });
        self.say(&format!(
            "step {step}{total} | FID (LeNet) {:.3}{} | IS {:.3} | digits {}/10 | precision {:.3} | recall {:.3}{labels}",
            r.frechet_distance,
            if best { " (best)" } else { "" },
            r.inception_score,
            r.coverage.modes,
            r.precision,
            r.recall
        ));
    }

    fn on_likelihood(&mut self, step: u64, l: &gan_training::LikelihoodReport) {
        let total = if self.timed {
            String::new()
        } else {
            format!("/{}", self.total)
        };
        self.say(&format!(
            "step {step}{total} | test ELBO {:.3} nats | test NLL {:.3} nats (k={}, {} images)",
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

/// One panel per distinct [`Metric::panel`] of the family (in first-use order), plus FID and
/// precision/recall (and label accuracy, for a conditional model) when the run was evaluated,
/// and the held-out negative ELBO and NLL of a likelihood model.
fn chart_panels(table: &metrics::Table, family_metrics: &[Metric]) -> Vec<Panel> {
    let mut panels: Vec<Panel> = Vec::new();
    for metric in family_metrics {
        let Some(points) = table.series(metric.key) else {
            continue;
        };
        let curve = Curve::new(metric.label, points);
        match panels.iter_mut().find(|p| p.y_label == metric.panel) {
            Some(panel) => panel.curves.push(curve),
            None => panels.push(Panel {
                y_label: metric.panel.into(),
                curves: vec![curve],
            }),
        }
    }
    let evaluated: Vec<(f64, [f64; 5])> = table
        .rows
        .iter()
        .filter_map(|r| r.eval.map(|e| (r.step as f64, e)))
        .collect();
    if !evaluated.is_empty() {
        let series = |i: usize| {
            evaluated
                .iter()
                .map(|(s, e)| (*s, e[i]))
                .collect::<Vec<_>>()
        };
        panels.push(Panel {
            y_label: "FID (LeNet)".into(),
            curves: vec![Curve::new("FID (LeNet features)", series(0))],
        });
        let mut shares = vec![
            Curve::new("precision", series(3)),
            Curve::new("recall", series(4)),
        ];
        let label_accuracy: Vec<(f64, f64)> = table
            .rows
            .iter()
            .filter_map(|r| r.label_accuracy.map(|a| (r.step as f64, a)))
            .collect();
        if !label_accuracy.is_empty() {
            shares.push(Curve::new("label accuracy", label_accuracy));
        }
        let y_label = if shares.len() > 2 {
            "precision / recall / label accuracy"
        } else {
            "precision / recall"
        };
        panels.push(Panel {
            y_label: y_label.into(),
            curves: shares,
        });
    }
    let held_out: Vec<(f64, [f64; 2])> = table
        .rows
        .iter()
        .filter_map(|r| r.likelihood.map(|l| (r.step as f64, l)))
        .collect();
    if !held_out.is_empty() {
        let negative_elbo = held_out.iter().map(|(s, l)| (*s, -l[0])).collect();
        let nll = held_out.iter().map(|(s, l)| (*s, l[1])).collect();
        panels.push(Panel {
            y_label: "held-out nats per image".into(),
            curves: vec![
                Curve::new("−ELBO", negative_elbo),
                Curve::new("NLL (importance-weighted)", nll),
            ],
        });
    }
    panels
}

/// The data layer's images as the picture layer sees them.
pub fn gray(images: &Images) -> GrayImages<'_> {
    GrayImages {
        pixels: &images.pixels,
        rows: images.rows,
        cols: images.cols,
    }
}

/// `samples/image_at_epoch_1000.png` → 1000.
fn step_of(path: &Path) -> Option<u64> {
    path.file_stem()?
        .to_str()?
        .strip_prefix("image_at_epoch_")?
        .parse()
        .ok()
}

fn caption_step(caption: &str) -> u64 {
    caption.trim_start_matches("step ").parse().unwrap_or(0)
}
