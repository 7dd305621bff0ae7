//! What `gan train` shows and draws while training runs: a progress bar, the tutorial's line
//! at each sample interval, sample grids, the loss chart and the progress animation.

use std::path::Path;
use std::time::Instant;

use gan_data::Images;
use gan_training::{metrics, RunDir, StepMetrics, TrainConfig, TrainObserver};
use gan_viz::{render_grid, save_chart, save_gif, Curve, GrayImages, GridStyle, Panel, Rgb};
use indicatif::{ProgressBar, ProgressStyle};

use crate::interrupt::Interrupt;

pub struct CliObserver {
    run: RunDir,
    preset: &'static str,
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
            preset: config.preset.name(),
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
        let rows = metrics::read(metrics_path)?;
        if !rows.is_empty() {
            let title = format!("gan-rs, preset {}: training curves", self.preset);
            let panels = chart_panels(&rows);
            let height = 320 * panels.len() as u32;
            let smoothing = (rows.len() / 50).max(1);
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
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} steps  {per_sec}  elapsed {elapsed}  eta {eta}",
            )
            .expect("valid template"),
        );
        bar.set_position(done);
        bar.reset_eta();
        self.bar = Some(bar);
    }

    fn on_step(&mut self, metrics: &StepMetrics) {
        self.last = Some(*metrics);
        if let Some(bar) = &self.bar {
            bar.set_position(metrics.step);
        }
    }

    fn on_sample(&mut self, step: u64, grid: &Images, metrics_path: &Path) -> Result<(), BoxError> {
        if let Some(m) = self.last.filter(|m| m.step == step) {
            self.say(&format!(
                "step {step}/{} | D loss {:.4} | D acc {:.2}% | G loss {:.4}",
                self.total,
                m.d_loss,
                100.0 * m.d_acc,
                m.g_loss
            ));
        }
        self.draw(step, grid, metrics_path)
    }

    fn on_checkpoint(&mut self, step: u64, manifest: &Path) {
        tracing::debug!(step, path = %manifest.display(), "checkpoint written");
    }

    fn on_eval(&mut self, step: u64, r: &gan_eval::EvalReport, best: bool) {
        self.say(&format!(
            "step {step}/{} | FID (LeNet) {:.3}{} | IS {:.3} | digits {}/10 | precision {:.3} | recall {:.3}",
            self.total,
            r.frechet_distance,
            if best { " (best)" } else { "" },
            r.inception_score,
            r.coverage.modes,
            r.precision,
            r.recall
        ));
    }

    fn should_stop(&mut self) -> bool {
        self.interrupt.requested()
    }
}

/// Losses and D accuracy, plus FID and precision/recall when the run was evaluated.
fn chart_panels(rows: &[metrics::Row]) -> Vec<Panel> {
    let column = |f: fn(&metrics::Row) -> f64| -> Vec<(f64, f64)> {
        rows.iter().map(|r| (r.step as f64, f(r))).collect()
    };
    let mut panels = vec![
        Panel {
            y_label: "loss (BCE)".into(),
            curves: vec![
                Curve::new("D loss", column(|r| r.d_loss)),
                Curve::new("G loss", column(|r| r.g_loss)),
            ],
        },
        Panel {
            y_label: "D accuracy".into(),
            curves: vec![Curve::new("D accuracy", column(|r| r.d_acc))],
        },
    ];
    let evaluated: Vec<(f64, [f64; 5])> = rows
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
        panels.push(Panel {
            y_label: "precision / recall".into(),
            curves: vec![
                Curve::new("precision", series(3)),
                Curve::new("recall", series(4)),
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
