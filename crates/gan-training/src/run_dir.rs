//! A run directory holds everything about one training run, so it can be inspected, sampled
//! from and resumed from alone:
//!
//! ```text
//! runs/<name>/
//!   config.toml          the effective TrainConfig
//!   metrics.csv          step, the family's metrics (d_loss, d_acc, g_loss), elapsed_s
//!   samples/             image_at_epoch_0000.png … (grids from a fixed noise)
//!   checkpoints/         step-00001000.safetensors + step-00001000.toml (manifest)
//!   train.log            the run's log
//!   history.jsonl        started, resumed, interrupted, finished or failed, at which step
//!   eval.json            the latest `gan eval --checkpoint` of the run, with floor and ceiling
//!   report.html          the run on one page (`gan report`)
//!   tb/                  TensorBoard event files, when asked for
//! ```

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::atomic::{remove_if_present, write_atomic};
use crate::config::TrainConfig;
use crate::error::TrainError;

pub const CONFIG_FILE: &str = "config.toml";
pub const METRICS_FILE: &str = "metrics.csv";
pub const LOG_FILE: &str = "train.log";
pub const SAMPLES_DIR: &str = "samples";
pub const CHECKPOINTS_DIR: &str = "checkpoints";
pub const HISTORY_FILE: &str = "history.jsonl";
const SAMPLE_PREFIX: &str = "image_at_epoch_";
pub const EVAL_FILE: &str = "eval.json";
pub const REPORT_FILE: &str = "report.html";
pub const TENSORBOARD_DIR: &str = "tb";
/// A reflow run's pairs: the images its source drew (and their labels).
pub const PAIRS_DIR: &str = "reflow";
/// A diffusion model's scores at several sampler step counts (`gan eval --steps-curve`).
pub const STEPS_CURVE_FILE: &str = "sampling-steps.json";
/// The loss chart and the animation of the sample grids that `gan train` redraws as it goes.
pub const LOSS_CHART_FILE: &str = "loss.png";
pub const PROGRESS_FILE: &str = "progress.gif";
/// A family's pictures (a VAE's drawn at the end of training and by `gan figures`; a diffusion
/// model's at the end of training, by `gan figures` and by `gan eval --steps-curve`), with
/// what each shows.
pub const RECONSTRUCTIONS_FILE: &str = "reconstructions.png";
pub const MANIFOLD_FILE: &str = "manifold.png";
pub const LATENTS_FILE: &str = "latents.png";
/// A diffusion model's FID against sampling cost (`gan eval --steps-curve`).
pub const STEPS_CHART_FILE: &str = "sampling-steps.png";
/// A diffusion model's states from noise to sample (`gan figures`, the end of `gan train`).
pub const SAMPLING_PATH_FILE: &str = "sampling-path.png";
pub const FIGURES: [(&str, &str); 5] = [
    (
        RECONSTRUCTIONS_FILE,
        "test digits (left of each pair) and their reconstructions",
    ),
    (
        MANIFOLD_FILE,
        "the decoder over a grid of the prior's quantiles",
    ),
    (LATENTS_FILE, "the test set's codes, coloured by digit"),
    (
        SAMPLING_PATH_FILE,
        "from pure noise (left) to four samples (right): the sampler's states on the way",
    ),
    (
        STEPS_CHART_FILE,
        "FID against network evaluations per image (gan eval --steps-curve)",
    ),
];

/// The layout of one run's directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// Starts a new run in `root` (created if needed): checks it is writable and not already a
    /// run, then writes the config. A config that cannot be written is refused before
    /// anything is created.
    pub fn create(root: &Path, config: &TrainConfig) -> Result<RunDir, TrainError> {
        let text = config.to_toml()?;
        Self::check_free(root)?;
        let run = RunDir::at(root);
        for dir in [run.root.clone(), run.samples_dir(), run.checkpoints_dir()] {
            std::fs::create_dir_all(&dir).map_err(|e| TrainError::io(&dir, e))?;
        }
        run.probe_write()?;
        write_atomic(&run.config_path(), text.as_bytes())?;
        Ok(run)
    }

    /// The layout of a run directory at `root`, whether or not one is there yet: nothing is
    /// read or checked ([`RunDir::create`] and [`RunDir::open`] do that).
    pub fn at(root: &Path) -> RunDir {
        RunDir {
            root: root.to_owned(),
        }
    }

    /// Whether `root` holds a run (its `config.toml`).
    pub fn holds_run(root: &Path) -> bool {
        RunDir::at(root).config_path().exists()
    }

    /// Refuses a `root` that already holds a run, saying how to continue or replace it.
    pub fn check_free(root: &Path) -> Result<(), TrainError> {
        if Self::holds_run(root) {
            return Err(TrainError::invalid(
                "out",
                root.display(),
                "it already holds a run; continue it with --resume, replace it with \
                 --overwrite, or choose another --out",
            ));
        }
        Ok(())
    }

    /// Deletes what a run writes into `root` (config, metrics, samples, checkpoints, logs,
    /// history, evaluation, report, pictures, TensorBoard events, reflow pairs), so that [`RunDir::create`]
    /// can start a new run there; other files are left alone. The caller holds the run's
    /// [`crate::RunLock`].
    pub fn clear(root: &Path) -> Result<(), TrainError> {
        let run = RunDir {
            root: root.to_owned(),
        };
        let files = [
            CONFIG_FILE,
            METRICS_FILE,
            LOG_FILE,
            HISTORY_FILE,
            EVAL_FILE,
            REPORT_FILE,
            LOSS_CHART_FILE,
            PROGRESS_FILE,
            STEPS_CURVE_FILE,
        ]
        .into_iter()
        .chain(FIGURES.iter().map(|(name, _)| *name));
        for name in files {
            remove_if_present(&run.root.join(name))?;
        }
        for dir in [
            run.samples_dir(),
            run.checkpoints_dir(),
            run.tensorboard_dir(),
            run.root.join(PAIRS_DIR),
        ] {
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(TrainError::io(&dir, e))
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Deletes what the run wrote after step `step`, for a resume that rewinds to that
    /// step's checkpoint: later checkpoints (and `best` if later), sample grids of later
    /// steps and the final evaluation (metrics rows past it are dropped when the metrics log
    /// is opened). The caller holds the run's lock.
    pub fn discard_after(&self, step: u64) -> Result<(), TrainError> {
        let checkpoints = crate::checkpoint::discard_after(&self.checkpoints_dir(), step)?;
        let grids: Vec<PathBuf> = std::fs::read_dir(self.samples_dir())
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| sample_step(p).is_some_and(|s| s > step))
                    .collect()
            })
            .unwrap_or_default();
        for path in grids.iter().chain([&self.eval_path()]) {
            remove_if_present(path)?;
        }
        tracing::info!(
            step,
            checkpoints = ?checkpoints,
            grids = grids.len(),
            "rewound: discarded what the run wrote after this step"
        );
        Ok(())
    }

    /// Opens an existing run and reads its config.
    pub fn open(root: &Path) -> Result<(RunDir, TrainConfig), TrainError> {
        let run = RunDir {
            root: root.to_owned(),
        };
        if !root.is_dir() {
            return Err(TrainError::NotARun {
                path: root.to_owned(),
                missing: "directory",
            });
        }
        if !run.config_path().is_file() {
            return Err(TrainError::NotARun {
                path: root.to_owned(),
                missing: CONFIG_FILE,
            });
        }
        let config = TrainConfig::from_toml_file(&run.config_path())?;
        Ok((run, config))
    }

    /// Fails early, with the path, if files cannot be written here (read-only, full disk).
    /// Recreates `samples/` and `checkpoints/` when a copied run lacks them (git keeps no
    /// empty folders).
    pub fn probe_write(&self) -> Result<(), TrainError> {
        for dir in [self.samples_dir(), self.checkpoints_dir()] {
            std::fs::create_dir_all(&dir).map_err(|e| TrainError::io(&dir, e))?;
        }
        let probe = self
            .root
            .join(format!(".write-probe-{}", std::process::id()));
        write_atomic(&probe, b"gan-rs")?;
        std::fs::remove_file(&probe).map_err(|e| TrainError::io(&probe, e))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_path(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }

    pub fn metrics_path(&self) -> PathBuf {
        self.root.join(METRICS_FILE)
    }

    pub fn log_path(&self) -> PathBuf {
        self.root.join(LOG_FILE)
    }

    pub fn history_path(&self) -> PathBuf {
        self.root.join(HISTORY_FILE)
    }

    pub fn eval_path(&self) -> PathBuf {
        self.root.join(EVAL_FILE)
    }

    pub fn report_path(&self) -> PathBuf {
        self.root.join(REPORT_FILE)
    }

    pub fn tensorboard_dir(&self) -> PathBuf {
        self.root.join(TENSORBOARD_DIR)
    }

    /// Appends `event` to the run's history.
    pub fn record(&self, event: &crate::history::RunEvent) -> Result<(), TrainError> {
        crate::history::append(&self.history_path(), event)
    }

    pub fn samples_dir(&self) -> PathBuf {
        self.root.join(SAMPLES_DIR)
    }

    pub fn checkpoints_dir(&self) -> PathBuf {
        self.root.join(CHECKPOINTS_DIR)
    }

    /// The grid saved after `step` steps, named as the tutorial names its files.
    pub fn sample_path(&self, step: u64) -> PathBuf {
        self.samples_dir()
            .join(format!("{SAMPLE_PREFIX}{step:04}.png"))
    }

    /// Rewrites the config (after flags changed what a resumed run does, e.g. `--steps`).
    pub fn write_config(&self, config: &TrainConfig) -> Result<(), TrainError> {
        write_atomic(&self.config_path(), config.to_toml()?.as_bytes())
    }
}

/// `runs/<UTC time>-<preset>`, for example `runs/20261129-124501-mlp`.
pub fn default_run_name(preset: &str) -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, mo, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}{mo:02}{d:02}-{:02}{:02}{:02}-{preset}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// The step of a grid named by [`RunDir::sample_path`] (`image_at_epoch_1000.png` → 1000);
/// `None` for any other file.
pub fn sample_step(path: &Path) -> Option<u64> {
    if path.extension()? != "png" {
        return None;
    }
    path.file_stem()?
        .to_str()?
        .strip_prefix(SAMPLE_PREFIX)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_names_give_steps_and_other_files_none() {
        assert_eq!(
            sample_step(Path::new("s/image_at_epoch_1000.png")),
            Some(1000)
        );
        assert_eq!(sample_step(Path::new("s/image_at_epoch_0000.png")), Some(0));
        assert_eq!(
            sample_step(Path::new("s/image_at_epoch_1000.png.tmp")),
            None
        );
        assert_eq!(sample_step(Path::new("s/other.png")), None);
    }

    #[test]
    fn calendar() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_786), (2026, 11, 29));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn a_config_that_cannot_be_stored_creates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("run");
        let mut config = TrainConfig::preset("mlp").unwrap();
        config.seed = u64::MAX;
        let err = RunDir::create(&root, &config).unwrap_err().to_string();
        assert!(err.contains("seed"), "{err}");
        assert!(!root.exists());
    }

    #[test]
    fn clear_removes_a_runs_files_and_keeps_others() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("run");
        let config = TrainConfig::preset("mlp").unwrap();
        let run = RunDir::create(&root, &config).unwrap();
        std::fs::write(run.metrics_path(), "step\n").unwrap();
        std::fs::write(run.sample_path(0), b"png").unwrap();
        std::fs::write(root.join("notes.txt"), b"mine").unwrap();
        RunDir::clear(&root).unwrap();
        let left: Vec<_> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left, ["notes.txt"]);
        RunDir::create(&root, &config).unwrap();
    }

    #[test]
    fn create_then_open_and_refuse_to_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("run");
        let config = TrainConfig::preset("mlp").unwrap();
        let run = RunDir::create(&root, &config).unwrap();
        assert!(run.samples_dir().is_dir() && run.checkpoints_dir().is_dir());
        let (_, back) = RunDir::open(&root).unwrap();
        assert_eq!(back, config);
        let err = RunDir::create(&root, &config).unwrap_err().to_string();
        assert!(
            err.contains("--resume") && err.contains("--overwrite"),
            "{err}"
        );
        let err = RunDir::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a run directory"), "{err}");
    }
}
