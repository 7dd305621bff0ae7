//! What a run directory holds, read without failing on what is missing or damaged: each such
//! thing becomes a note instead.

use std::path::{Path, PathBuf};

use gan_training::history::{self, RunEvent};
use gan_training::metrics::{self, Table};
use gan_training::run_dir::{
    sample_step, CONFIG_FILE, EVAL_FILE, FIGURES, HISTORY_FILE, METRICS_FILE, SAMPLES_DIR,
};
use gan_training::{presets, SavedEvaluation, TrainConfig};

use crate::error::ReportError;

/// One run, as far as its files tell.
#[derive(Debug, Clone)]
pub struct RunRecord {
    pub root: PathBuf,
    /// The directory's name.
    pub name: String,
    pub config: Option<TrainConfig>,
    /// `config.toml` as written.
    pub config_text: Option<String>,
    /// The one-line description of the run's preset.
    pub preset_description: Option<String>,
    pub metrics: Option<Table>,
    /// Sample grids by step, oldest first.
    pub samples: Vec<(u64, PathBuf)>,
    /// The family's own pictures that exist (a VAE's reconstructions, manifold, latents),
    /// with what each shows.
    pub figures: Vec<(&'static str, PathBuf)>,
    /// The latest `gan eval --checkpoint` of the run.
    pub evaluation: Option<SavedEvaluation>,
    pub history: Vec<RunEvent>,
    /// What is missing or could not be read, in words.
    pub notes: Vec<String>,
}

/// The numbers a comparison shows for a run, with where they come from.
#[derive(Debug, Clone, PartialEq)]
pub struct Headline {
    pub step: u64,
    pub samples: usize,
    pub fid: f64,
    pub inception_score: f64,
    pub precision: f64,
    pub recall: f64,
    pub modes: usize,
    pub label_accuracy: Option<f64>,
    /// `eval.json` (the evaluation protocol) or the last evaluation during training.
    pub source: &'static str,
}

impl RunRecord {
    /// Reads `root`; only a path that is not a directory is an error.
    pub fn read(root: &Path) -> Result<RunRecord, ReportError> {
        if !root.is_dir() {
            return Err(ReportError::NotARun {
                path: root.to_owned(),
                why: "no such directory".into(),
            });
        }
        // The name it was given by (a link keeps its own name); `.` and `..` by their target.
        let name = root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .or_else(|| {
                let target = root.canonicalize().ok()?;
                Some(target.file_name()?.to_string_lossy().into_owned())
            })
            .unwrap_or_else(|| root.display().to_string());
        let mut notes = Vec::new();
        let (config, config_text) = read_config(root, &mut notes);
        let preset_description = config
            .as_ref()
            .and_then(|c| presets::find(&c.preset).ok())
            .map(|p| p.description.to_owned());
        let metrics = read_metrics(root, &mut notes);
        let samples = read_samples(root, &mut notes);
        let figures = FIGURES
            .iter()
            .map(|&(file, caption)| (caption, root.join(file)))
            .filter(|(_, path)| path.is_file())
            .collect();
        let evaluation = read_evaluation(root, &mut notes);
        let history = match history::read(&root.join(HISTORY_FILE)) {
            Ok((events, damaged)) => {
                notes.extend(damaged);
                events
            }
            Err(e) => {
                notes.push(e.to_string());
                Vec::new()
            }
        };
        Ok(RunRecord {
            root: root.to_owned(),
            name,
            config,
            config_text,
            preset_description,
            metrics,
            samples,
            figures,
            evaluation,
            history,
            notes,
        })
    }

    /// The preset the run started from, or "?" when its config is unreadable.
    pub fn preset(&self) -> &str {
        self.config.as_ref().map_or("?", |c| c.preset.as_str())
    }

    /// Steps recorded in `metrics.csv`.
    pub fn steps(&self) -> Option<u64> {
        self.last_row().map(|r| r.step)
    }

    /// Training seconds (across resumes) at the last recorded step.
    pub fn wall_seconds(&self) -> Option<f64> {
        self.last_row().map(|r| r.elapsed_s)
    }

    pub fn steps_per_second(&self) -> Option<f64> {
        let row = self.last_row()?;
        (row.elapsed_s > 0.0).then(|| row.step as f64 / row.elapsed_s)
    }

    fn last_row(&self) -> Option<&metrics::Row> {
        self.metrics.as_ref()?.rows.last()
    }

    /// The evaluation of `eval.json`, else the last one recorded during training.
    pub fn headline(&self) -> Option<Headline> {
        if let Some(e) = &self.evaluation {
            let r = &e.report;
            return Some(Headline {
                step: e.step,
                samples: r.samples,
                fid: r.frechet_distance,
                inception_score: r.inception_score,
                precision: r.precision,
                recall: r.recall,
                modes: r.coverage.modes,
                label_accuracy: r.labels.as_ref().map(|l| l.label_accuracy),
                source: "gan eval",
            });
        }
        let samples = self.config.as_ref().map_or(0, |c| c.eval_samples);
        let row = self
            .metrics
            .as_ref()?
            .rows
            .iter()
            .rev()
            .find(|r| r.eval.is_some())?;
        let [fid, inception_score, modes, precision, recall] = row.eval?;
        Some(Headline {
            step: row.step,
            samples,
            fid,
            inception_score,
            precision,
            recall,
            modes: modes as usize,
            label_accuracy: row.label_accuracy,
            source: "during training",
        })
    }
}

fn read_config(root: &Path, notes: &mut Vec<String>) -> (Option<TrainConfig>, Option<String>) {
    let path = root.join(CONFIG_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) => {
            notes.push(format!("no readable {CONFIG_FILE} ({e}): settings unknown"));
            return (None, None);
        }
    };
    match TrainConfig::from_toml_file(&path) {
        Ok(config) => (Some(config), Some(text)),
        Err(e) => {
            notes.push(format!("{CONFIG_FILE} could not be parsed: {e}"));
            (None, Some(text))
        }
    }
}

fn read_metrics(root: &Path, notes: &mut Vec<String>) -> Option<Table> {
    let path = root.join(METRICS_FILE);
    if !path.is_file() {
        notes.push(format!("no {METRICS_FILE} yet: no curves or timings"));
        return None;
    }
    match metrics::read_partial(&path) {
        Ok((table, bad_line)) => {
            if let Some(e) = bad_line {
                notes.push(format!(
                    "{METRICS_FILE} is cut short or damaged ({e}); showing the {} rows before it",
                    table.rows.len()
                ));
            }
            if table.rows.is_empty() {
                notes.push(format!("{METRICS_FILE} has no rows yet"));
            }
            Some(table)
        }
        Err(e) => {
            notes.push(format!("{METRICS_FILE} could not be read: {e}"));
            None
        }
    }
}

fn read_samples(root: &Path, notes: &mut Vec<String>) -> Vec<(u64, PathBuf)> {
    let dir = root.join(SAMPLES_DIR);
    let mut samples: Vec<(u64, PathBuf)> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter_map(|p| Some((sample_step(&p)?, p)))
                .collect()
        })
        .unwrap_or_default();
    samples.sort();
    if samples.is_empty() {
        notes.push(format!("no sample grids in {SAMPLES_DIR}/ yet"));
    }
    samples
}

fn read_evaluation(root: &Path, notes: &mut Vec<String>) -> Option<SavedEvaluation> {
    let path = root.join(EVAL_FILE);
    if !path.is_file() {
        return None;
    }
    match SavedEvaluation::load(&path) {
        Ok(e) => Some(e),
        Err(e) => {
            notes.push(format!("{EVAL_FILE} could not be read: {e}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_directory_is_a_record_of_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let record = RunRecord::read(dir.path()).unwrap();
        assert!(record.config.is_none() && record.metrics.is_none());
        assert!(record.samples.is_empty() && record.headline().is_none());
        let notes = record.notes.join("\n");
        for missing in ["config.toml", "metrics.csv", "samples/"] {
            assert!(notes.contains(missing), "{notes}");
        }
    }

    #[test]
    fn a_missing_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = RunRecord::read(&dir.path().join("nope")).unwrap_err();
        assert!(err.to_string().contains("not a run directory"), "{err}");
    }
}
