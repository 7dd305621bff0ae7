//! Checkpoints: all tensors of a run (every part's weights, optimizer state and EMA) in one
//! safetensors file, plus a small TOML manifest written last that names the file and its
//! SHA-256 and records each part's counters.
//!
//! Format 2 records parts by name (`[parts.generator]`); format 1, written by the first
//! release, had two fixed optimizer step counts and is read as the GAN family's two parts.
//!
//! A checkpoint exists only once its manifest does, and a manifest is trusted only when the
//! file's checksum matches, so a crash at any moment leaves the previous checkpoint usable.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tch::Tensor;

use crate::atomic::{remove_if_present, write_atomic, write_atomic_with};
use crate::error::TrainError;

const FORMAT: u32 = 2;
/// The first release's format, still read.
const FORMAT_FIRST_RELEASE: u32 = 1;

/// What a checkpoint manifest records about a part besides its tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartManifest {
    /// Updates applied by the part's optimizer (Adam's bias correction depends on them).
    pub optimizer_steps: u64,
    /// Updates folded into the EMA, when the part keeps one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ema_updates: Option<u64>,
}

/// What a checkpoint says about itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    /// Completed training steps.
    pub step: u64,
    /// Training time before this checkpoint, for continuing the elapsed-seconds column.
    pub elapsed_seconds: f64,
    /// The tensor file beside the manifest, and its SHA-256.
    pub tensors: String,
    pub sha256: String,
    /// FID (LeNet features) of the generator at this step, when it was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frechet_distance: Option<f64>,
    /// Format 1's optimizer step counts, moved into `parts` on load.
    #[serde(default, skip_serializing)]
    generator_adam_steps: Option<u64>,
    #[serde(default, skip_serializing)]
    discriminator_adam_steps: Option<u64>,
    /// Each part's counters, by part name.
    #[serde(default)]
    pub parts: BTreeMap<String, PartManifest>,
}

impl Manifest {
    /// A manifest for the state after `step` steps (file fields are filled on save).
    pub fn new(step: u64, elapsed_seconds: f64, parts: BTreeMap<String, PartManifest>) -> Self {
        Manifest {
            format: FORMAT,
            step,
            elapsed_seconds,
            tensors: String::new(),
            sha256: String::new(),
            frechet_distance: None,
            generator_adam_steps: None,
            discriminator_adam_steps: None,
            parts,
        }
    }

    /// Reads a manifest of either format; format 1's counters become the `generator` and
    /// `discriminator` parts.
    fn parse(text: &str) -> Result<Manifest, String> {
        let mut m: Manifest =
            toml::from_str(text).map_err(|e| format!("unreadable manifest: {e}"))?;
        match m.format {
            FORMAT => Ok(m),
            FORMAT_FIRST_RELEASE => {
                let (Some(g), Some(d)) = (m.generator_adam_steps, m.discriminator_adam_steps)
                else {
                    return Err("format 1 without its optimizer step counts".to_owned());
                };
                for (name, steps) in [("generator", g), ("discriminator", d)] {
                    m.parts.insert(
                        name.to_owned(),
                        PartManifest {
                            optimizer_steps: steps,
                            ema_updates: None,
                        },
                    );
                }
                m.generator_adam_steps = None;
                m.discriminator_adam_steps = None;
                Ok(m)
            }
            other => Err(format!(
                "format {other} (this gan reads {FORMAT_FIRST_RELEASE} and {FORMAT})"
            )),
        }
    }
}

/// A checkpoint read back: its manifest and its tensors by name (on the CPU).
#[derive(Debug)]
pub struct Checkpoint {
    pub manifest: Manifest,
    pub tensors: HashMap<String, Tensor>,
    pub path: PathBuf,
}

/// `step-00001000`: sorts by step as text too.
pub fn stem(step: u64) -> String {
    format!("step-{step:08}")
}

/// The checkpoint kept apart from the rotation: the lowest FID so far.
pub const BEST: &str = "best";

/// Writes `tensors` and then the manifest into `dir` as `step-…`; returns the manifest path.
pub fn save(
    dir: &Path,
    manifest: Manifest,
    tensors: &[(String, Tensor)],
) -> Result<PathBuf, TrainError> {
    let name = stem(manifest.step);
    save_as(dir, &name, manifest, tensors)
}

/// Writes `tensors` and then the manifest into `dir` as `<stem>.safetensors` and
/// `<stem>.toml`; returns the manifest path.
pub fn save_as(
    dir: &Path,
    stem: &str,
    mut manifest: Manifest,
    tensors: &[(String, Tensor)],
) -> Result<PathBuf, TrainError> {
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    let tensor_path = dir.join(format!("{stem}.safetensors"));
    let on_cpu: Vec<(String, Tensor)> = tensors
        .iter()
        .map(|(n, t)| (n.clone(), t.to_device(tch::Device::Cpu).contiguous()))
        .collect();
    write_atomic_with(&tensor_path, |tmp| {
        gan_data::write_safetensors(&on_cpu, tmp)
    })?;
    manifest.format = FORMAT;
    manifest.tensors = format!("{stem}.safetensors");
    manifest.sha256 = sha256_file(&tensor_path)?;
    let manifest_path = dir.join(format!("{stem}.toml"));
    let text = toml::to_string(&manifest).map_err(|e| TrainError::BadCheckpoint {
        path: manifest_path.clone(),
        why: format!("its manifest cannot be written as TOML: {e}"),
    })?;
    write_atomic(&manifest_path, text.as_bytes())?;
    Ok(manifest_path)
}

/// Reads the manifest at `manifest_path` alone (its tensor file is not checked).
pub fn read_manifest(manifest_path: &Path) -> Result<Manifest, TrainError> {
    let text =
        std::fs::read_to_string(manifest_path).map_err(|e| TrainError::io(manifest_path, e))?;
    Manifest::parse(&text).map_err(|why| TrainError::BadCheckpoint {
        path: manifest_path.to_owned(),
        why,
    })
}

/// Reads the checkpoint whose manifest is `manifest_path`, verifying the tensor file.
pub fn load(manifest_path: &Path) -> Result<Checkpoint, TrainError> {
    let bad = |why: String| TrainError::BadCheckpoint {
        path: manifest_path.to_owned(),
        why,
    };
    let manifest = read_manifest(manifest_path)?;
    if manifest.tensors.contains('/') || manifest.tensors.contains("..") {
        return Err(bad(format!(
            "tensor file {:?} must be a plain name",
            manifest.tensors
        )));
    }
    let tensor_path = manifest_path.with_file_name(&manifest.tensors);
    let found = sha256_file(&tensor_path)?;
    if found != manifest.sha256 {
        return Err(TrainError::BadCheckpoint {
            path: tensor_path,
            why: format!(
                "SHA-256 is {found}, the manifest says {}; the file is corrupt or truncated",
                manifest.sha256
            ),
        });
    }
    let tensors = Tensor::read_safetensors(&tensor_path)
        .map_err(|e| TrainError::BadCheckpoint {
            path: tensor_path.clone(),
            why: e.to_string(),
        })?
        .into_iter()
        .collect();
    Ok(Checkpoint {
        manifest,
        tensors,
        path: tensor_path,
    })
}

/// Manifests in `dir`, newest step first.
pub fn list(dir: &Path) -> Vec<PathBuf> {
    let mut manifests: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.extension().is_some_and(|e| e == "toml")
                        && p.file_name()
                            .is_some_and(|n| n.to_string_lossy().starts_with("step-"))
                })
                .collect()
        })
        .unwrap_or_default();
    manifests.sort();
    manifests.reverse();
    manifests
}

/// The newest checkpoint in `dir` that loads and verifies; damaged newer ones are skipped
/// with a warning.
pub fn latest(dir: &Path) -> Result<Checkpoint, TrainError> {
    for manifest in list(dir) {
        match load(&manifest) {
            Ok(checkpoint) => return Ok(checkpoint),
            Err(e) => tracing::warn!("skipping checkpoint {}: {e}", manifest.display()),
        }
    }
    Err(TrainError::NoCheckpoint {
        path: dir.to_owned(),
    })
}

/// The checkpoint of step `step` in `dir`, loaded and verified; when there is none, the
/// error lists the steps there are.
pub fn at_step(dir: &Path, step: u64) -> Result<Checkpoint, TrainError> {
    load(&manifest_of_step(dir, step)?)
}

/// The manifest of step `step` in `dir` (not loaded); the error of [`at_step`] when there is
/// none.
pub fn manifest_of_step(dir: &Path, step: u64) -> Result<PathBuf, TrainError> {
    let manifest = dir.join(format!("{}.toml", stem(step)));
    if manifest.is_file() {
        return Ok(manifest);
    }
    let mut steps: Vec<u64> = list(dir)
        .iter()
        .filter_map(|m| read_manifest(m).ok().map(|m| m.step))
        .collect();
    steps.sort_unstable();
    let steps: Vec<String> = steps.iter().map(u64::to_string).collect();
    Err(TrainError::NoCheckpointAt {
        path: dir.to_owned(),
        step,
        steps: if steps.is_empty() {
            "none".to_owned()
        } else {
            steps.join(", ")
        },
    })
}

/// Deletes the checkpoints of steps after `step` (manifest first, as [`prune`] does), and
/// `best` when it is from after `step`: they belong to a line of training a rewind abandons.
/// Returns the steps deleted.
pub fn discard_after(dir: &Path, step: u64) -> Result<Vec<u64>, TrainError> {
    let mut discarded = Vec::new();
    let best = dir.join(format!("{BEST}.toml"));
    let manifests = list(dir).into_iter().chain([best]);
    for manifest in manifests {
        // An unreadable manifest's step is its name's; `best` is kept when unreadable.
        let later = match read_manifest(&manifest) {
            Ok(m) => m.step > step,
            Err(_) => step_of_name(&manifest).is_some_and(|s| s > step),
        };
        if !later {
            continue;
        }
        remove_if_present(&manifest)?;
        remove_if_present(&manifest.with_extension("safetensors"))?;
        if let Some(s) = step_of_name(&manifest) {
            discarded.push(s);
        }
    }
    Ok(discarded)
}

/// `step-00001000.toml` → 1000.
fn step_of_name(manifest: &Path) -> Option<u64> {
    manifest
        .file_stem()?
        .to_str()?
        .strip_prefix("step-")?
        .parse()
        .ok()
}

/// Deletes all but the newest `keep` checkpoints (manifest first, so none is half-present).
pub fn prune(dir: &Path, keep: usize) -> Result<(), TrainError> {
    for manifest in list(dir).into_iter().skip(keep) {
        std::fs::remove_file(&manifest).map_err(|e| TrainError::io(&manifest, e))?;
        let tensors = manifest.with_extension("safetensors");
        if tensors.exists() {
            std::fs::remove_file(&tensors).map_err(|e| TrainError::io(&tensors, e))?;
        }
    }
    Ok(())
}

fn sha256_file(path: &Path) -> Result<String, TrainError> {
    let bytes = std::fs::read(path).map_err(|e| TrainError::io(path, e))?;
    Ok(Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(step: u64) -> Manifest {
        let part = |steps| PartManifest {
            optimizer_steps: steps,
            ema_updates: None,
        };
        Manifest::new(
            step,
            1.5,
            [
                ("generator".to_owned(), part(step)),
                ("discriminator".to_owned(), part(2 * step)),
            ]
            .into(),
        )
    }

    fn tensors() -> Vec<(String, Tensor)> {
        vec![
            (
                "generator.fc1.weight".to_owned(),
                Tensor::from_slice(&[1.0f32, 2.0]).view([1, 2]),
            ),
            (
                "d_adam.m.fc1.bias".to_owned(),
                Tensor::from_slice(&[3.0f32]),
            ),
        ]
    }

    #[test]
    fn save_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = save(dir.path(), manifest(20), &tensors()).unwrap();
        let ck = load(&path).unwrap();
        assert_eq!(ck.manifest.step, 20);
        assert_eq!(ck.manifest.parts["discriminator"].optimizer_steps, 40);
        assert_eq!(ck.manifest.format, FORMAT);
        assert!(ck.tensors["generator.fc1.weight"].equal(&tensors()[0].1));
    }

    #[test]
    fn first_release_manifests_become_two_parts() {
        let text = "format = 1\nstep = 2\ngenerator_adam_steps = 2\n\
                    discriminator_adam_steps = 4\nelapsed_seconds = 0.5\n\
                    tensors = \"step-00000002.safetensors\"\nsha256 = \"ab\"\n";
        let m = Manifest::parse(text).unwrap();
        assert_eq!(m.parts["generator"].optimizer_steps, 2);
        assert_eq!(m.parts["discriminator"].optimizer_steps, 4);
        let saved = toml::to_string(&m).unwrap();
        assert!(!saved.contains("adam_steps"), "{saved}");
        let err = Manifest::parse(&text.replace("format = 1", "format = 7")).unwrap_err();
        assert!(err.contains("format 7"), "{err}");
        let err = Manifest::parse(&text.replace("generator_adam_steps = 2\n", "")).unwrap_err();
        assert!(err.contains("format 1"), "{err}");
    }

    #[test]
    fn corrupt_tensor_file_is_detected_and_older_checkpoint_used() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), manifest(10), &tensors()).unwrap();
        save(dir.path(), manifest(20), &tensors()).unwrap();
        let newest = dir.path().join("step-00000020.safetensors");
        let mut bytes = std::fs::read(&newest).unwrap();
        bytes.truncate(bytes.len() / 2);
        std::fs::write(&newest, bytes).unwrap();
        let err = load(&dir.path().join("step-00000020.toml"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("step-00000020.safetensors") && err.contains("SHA-256"),
            "{err}"
        );
        assert_eq!(latest(dir.path()).unwrap().manifest.step, 10);
    }

    #[test]
    fn prune_keeps_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        for step in [10, 20, 30] {
            save(dir.path(), manifest(step), &tensors()).unwrap();
        }
        prune(dir.path(), 2).unwrap();
        let steps: Vec<u64> = list(dir.path())
            .iter()
            .map(|m| load(m).unwrap().manifest.step)
            .collect();
        assert_eq!(steps, vec![30, 20]);
        assert!(!dir.path().join("step-00000010.safetensors").exists());
    }

    #[test]
    fn empty_dir_has_no_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            latest(dir.path()),
            Err(TrainError::NoCheckpoint { .. })
        ));
    }

    #[test]
    fn a_step_is_found_or_the_steps_there_are_listed() {
        let dir = tempfile::tempdir().unwrap();
        for step in [2, 4, 6] {
            save(dir.path(), manifest(step), &tensors()).unwrap();
        }
        assert_eq!(at_step(dir.path(), 4).unwrap().manifest.step, 4);
        let error = at_step(dir.path(), 5).unwrap_err().to_string();
        assert!(error.contains("no checkpoint of step 5"), "{error}");
        assert!(error.contains("2, 4, 6"), "{error}");
    }

    #[test]
    fn discarding_after_a_step_keeps_it_and_earlier_ones() {
        let dir = tempfile::tempdir().unwrap();
        for step in [2, 4, 6, 8] {
            save(dir.path(), manifest(step), &tensors()).unwrap();
        }
        save_as(dir.path(), BEST, manifest(6), &tensors()).unwrap();
        assert_eq!(discard_after(dir.path(), 4).unwrap(), vec![8, 6]);
        let steps: Vec<u64> = list(dir.path())
            .iter()
            .map(|m| read_manifest(m).unwrap().step)
            .collect();
        assert_eq!(steps, vec![4, 2]);
        assert!(!dir.path().join("best.toml").exists());
        assert!(!dir.path().join("step-00000006.safetensors").exists());
        save_as(dir.path(), BEST, manifest(2), &tensors()).unwrap();
        assert!(discard_after(dir.path(), 2).unwrap().contains(&4));
        assert!(
            dir.path().join("best.toml").exists(),
            "an earlier best stays"
        );
    }
}
