//! `TrainConfig`: everything that defines a run, saved as `config.toml` in its directory.

use std::path::PathBuf;

use gan_data::rng::stream_seed;
use gan_data::{Sampling, Scaling};
use gan_models::{MatmulChoice, OutputActivation};
use serde::{Deserialize, Serialize};

use crate::backprop::Backprop;
use crate::error::TrainError;
use crate::family::ModelConfig;

/// Where tensors live: `cpu`, `cuda` (the first GPU), `cuda:N`, `mps` or `auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DeviceChoice {
    Cpu,
    /// The CUDA device with this index (`cuda` is `cuda:0`).
    Cuda(usize),
    Mps,
    /// CUDA if available, else MPS if available, else CPU.
    Auto,
}

impl DeviceChoice {
    /// The names `--device` and a config's `device` accept.
    pub const NAMES: &'static str = "cpu, cuda, cuda:N, mps or auto";

    pub fn parse(value: &str) -> Result<Self, TrainError> {
        let refuse = || TrainError::invalid("device", value, format!("choose {}", Self::NAMES));
        match value {
            "cpu" => Ok(DeviceChoice::Cpu),
            "cuda" => Ok(DeviceChoice::Cuda(0)),
            "mps" => Ok(DeviceChoice::Mps),
            "auto" => Ok(DeviceChoice::Auto),
            other => match other.strip_prefix("cuda:") {
                // Digits only: `usize::from_str` would also take a leading `+`.
                Some(index) if !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()) => {
                    index.parse().map(DeviceChoice::Cuda).map_err(|_| refuse())
                }
                _ => Err(refuse()),
            },
        }
    }

    /// The libtorch device, or an error if it is not available here.
    pub fn resolve(self) -> Result<tch::Device, TrainError> {
        match self {
            DeviceChoice::Cpu => Ok(tch::Device::Cpu),
            DeviceChoice::Cuda(index) => {
                let count = if tch::Cuda::is_available() {
                    tch::Cuda::device_count().max(0) as usize
                } else {
                    0
                };
                if index < count {
                    Ok(tch::Device::Cuda(index))
                } else if count == 0 {
                    Err(TrainError::DeviceUnavailable(self.to_string()))
                } else {
                    Err(TrainError::NoSuchCudaDevice { index, count })
                }
            }
            DeviceChoice::Mps if tch::utils::has_mps() => Ok(tch::Device::Mps),
            DeviceChoice::Mps => Err(TrainError::DeviceUnavailable("mps".into())),
            DeviceChoice::Auto => Ok(if tch::Cuda::is_available() {
                tch::Device::Cuda(0)
            } else if tch::utils::has_mps() {
                tch::Device::Mps
            } else {
                tch::Device::Cpu
            }),
        }
    }
}

impl std::fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeviceChoice::Cpu => f.write_str("cpu"),
            DeviceChoice::Cuda(0) => f.write_str("cuda"),
            DeviceChoice::Cuda(index) => write!(f, "cuda:{index}"),
            DeviceChoice::Mps => f.write_str("mps"),
            DeviceChoice::Auto => f.write_str("auto"),
        }
    }
}

impl std::str::FromStr for DeviceChoice {
    type Err = TrainError;
    fn from_str(value: &str) -> Result<Self, TrainError> {
        Self::parse(value)
    }
}

impl TryFrom<String> for DeviceChoice {
    type Error = String;
    fn try_from(value: String) -> Result<Self, String> {
        Self::parse(&value).map_err(|_| format!("unknown device `{value}`: choose {}", Self::NAMES))
    }
}

impl From<DeviceChoice> for String {
    fn from(device: DeviceChoice) -> String {
        device.to_string()
    }
}

/// A complete description of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainConfig {
    /// The preset this config started from (informational once overridden).
    pub preset: String,
    /// Training iterations (what one is depends on the model family). With `minutes`, an
    /// upper bound.
    pub steps: u64,
    /// A wall-clock budget: training stops after the step that crosses it (counting the
    /// training time before a resume), with a checkpoint, as at the last step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minutes: Option<f64>,
    pub batch_size: usize,
    /// Save a grid of samples from a fixed noise every this many steps.
    pub sample_every: u64,
    /// Write a checkpoint every this many steps (and at the end).
    pub checkpoint_every: u64,
    /// How many checkpoints to keep (the newest; `best` is kept apart).
    pub keep_checkpoints: usize,
    /// Measure FID, IS, mode coverage, precision and recall every this many steps (and at the
    /// end), keeping the checkpoint with the lowest FID as `best`; 0 never does.
    #[serde(default)]
    pub eval_every: u64,
    /// Images generated for each of those measurements.
    #[serde(default = "default_eval_samples")]
    pub eval_samples: usize,
    pub seed: u64,
    pub device: DeviceChoice,
    /// libtorch intra-op threads; 0 keeps libtorch's default.
    pub threads: usize,
    /// Which library multiplies in dense layers: auto, blas or onednn.
    #[serde(default)]
    pub matmul: MatmulChoice,
    /// How gradients are formed: fused (every preset; by hand where the networks allow) or
    /// autograd. A config written before the fused passes existed has no such field and
    /// keeps autograd, so its run resumes exactly as it began.
    #[serde(default = "Backprop::before_fused")]
    pub backprop: Backprop,
    /// Rows and columns of the sample grid.
    pub grid: [usize; 2],
    /// Also log metrics and sample grids as TensorBoard event files under `tb/` (written by
    /// the `gan` command's observer; `gan train --tensorboard`).
    #[serde(default)]
    pub tensorboard: bool,
    pub scaling: Scaling,
    pub sampling: Sampling,
    /// A reflow run: it learns from pairs a trained flow drew instead of from the data
    /// ([`crate::reflow`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reflow: Option<ReflowConfig>,
    /// The model family and its networks, optimizers and options.
    pub model: ModelConfig,
}

/// What a reflow run learns from ([`crate::reflow`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReflowConfig {
    /// The run directory of the flow that drew the pairs.
    pub source: PathBuf,
    /// The step of its checkpoint that drew them (and whose sampling weights start this run).
    pub source_step: u64,
    /// How the source sampled the pairs' images (its sampler, steps and evaluations).
    pub source_sampling: String,
    /// (noise, image) pairs drawn.
    pub pairs: u64,
}

/// The most pairs a run may draw (each costs a full sampling run of the source, and the
/// pairs and their noise stay in memory while training).
pub const MAX_PAIRS: u64 = 1_000_000;

/// Pairs drawn when the command does not say: as many as MNIST has training images.
pub const DEFAULT_PAIRS: u64 = 60_000;

/// Random stream (of the run's seed) of the pairs' noise.
const PAIRS_STREAM: u64 = u64::MAX - 32;

impl ReflowConfig {
    pub fn validate(&self) -> Result<(), TrainError> {
        if !(1..=MAX_PAIRS).contains(&self.pairs) {
            return Err(TrainError::invalid(
                "reflow.pairs",
                self.pairs,
                format!("must be in 1..={MAX_PAIRS}"),
            ));
        }
        Ok(())
    }

    /// The seed of the pairs' noise in a run of `seed`.
    pub fn noise_seed(seed: u64) -> u64 {
        stream_seed(seed, PAIRS_STREAM)
    }
}

pub(crate) fn default_eval_samples() -> usize {
    5_000
}

/// `steps` of a run bounded by its time budget alone (`gan train --minutes` without
/// `--steps`): more than any budget reaches.
pub const UNLIMITED_STEPS: u64 = 1 << 40;

impl TrainConfig {
    /// Where a run stands after `step` steps and `elapsed` seconds, for log lines:
    /// `step 800/10000`, or under a time budget `step 800 (1.2 of 10 min, 11.1 steps/s)`
    /// rather than the step cap that stands in for "unlimited".
    pub fn describe_progress(&self, step: u64, elapsed: f64, rate: f64) -> String {
        match self.minutes {
            Some(minutes) if self.steps >= UNLIMITED_STEPS => format!(
                "step {step} ({:.1} of {minutes} min, {rate:.1} steps/s)",
                elapsed / 60.0
            ),
            Some(minutes) => format!(
                "step {step}/{} ({:.1} of {minutes} min, {rate:.1} steps/s)",
                self.steps,
                elapsed / 60.0
            ),
            None => format!("step {step}/{}", self.steps),
        }
    }
}

/// The largest step count, interval or seed a run stores: TOML integers are signed 64-bit, so
/// `config.toml` and the checkpoint manifests hold nothing above `i64::MAX`.
pub const MAX_STORED_INTEGER: u64 = i64::MAX as u64;

impl TrainConfig {
    /// The config as `config.toml` holds it. Fails only for a config that [`validate`]
    /// refuses (an integer TOML cannot hold).
    ///
    /// [`validate`]: TrainConfig::validate
    pub fn to_toml(&self) -> Result<String, TrainError> {
        self.validate()?;
        toml::to_string_pretty(self).map_err(|e| {
            TrainError::invalid(
                "config",
                &self.preset,
                format!("cannot be written as TOML: {e}"),
            )
        })
    }

    /// Checks every field a flag or file can set; the error names the field and the value.
    pub fn validate(&self) -> Result<(), TrainError> {
        if self.steps == 0 {
            return Err(TrainError::invalid("steps", 0, "must be at least 1"));
        }
        for (field, value) in [
            ("steps", self.steps),
            ("sample-every", self.sample_every),
            ("checkpoint-every", self.checkpoint_every),
            ("eval-every", self.eval_every),
            ("seed", self.seed),
        ] {
            if value > MAX_STORED_INTEGER {
                return Err(TrainError::invalid(
                    field,
                    value,
                    format!("must be at most {MAX_STORED_INTEGER} (2^63 - 1)"),
                ));
            }
        }
        if let Some(minutes) = self.minutes {
            if !(minutes > 0.0 && minutes.is_finite()) {
                return Err(TrainError::invalid(
                    "minutes",
                    minutes,
                    "must be a positive number",
                ));
            }
        }
        if !(1..=1 << 20).contains(&self.batch_size) {
            return Err(TrainError::invalid(
                "batch-size",
                self.batch_size,
                "must be in 1..=1048576",
            ));
        }
        if self.sample_every == 0 {
            return Err(TrainError::invalid("sample-every", 0, "must be at least 1"));
        }
        if self.checkpoint_every == 0 {
            return Err(TrainError::invalid(
                "checkpoint-every",
                0,
                "must be at least 1",
            ));
        }
        if !(1..=1_000_000).contains(&self.keep_checkpoints) {
            return Err(TrainError::invalid(
                "keep-checkpoints",
                self.keep_checkpoints,
                "must be in 1..=1000000",
            ));
        }
        let [rows, cols] = self.grid;
        if !(1..=1024).contains(&rows) || !(1..=1024).contains(&cols) || rows * cols > 1024 {
            return Err(TrainError::invalid(
                "grid",
                format!("{:?}", self.grid),
                "rows and columns must be positive, at most 1024 images",
            ));
        }
        if !(4..=100_000).contains(&self.eval_samples) {
            return Err(TrainError::invalid(
                "eval-samples",
                self.eval_samples,
                "must be in 4..=100000",
            ));
        }
        if self.threads > 1024 {
            return Err(TrainError::invalid("threads", self.threads, "at most 1024"));
        }
        self.model.validate()?;
        if let Some(reflow) = &self.reflow {
            reflow.validate()?;
            if !self.model.family().learns_from_pairs() {
                return Err(TrainError::invalid(
                    "reflow",
                    reflow.source.display(),
                    "only a flow (family diffusion with a flow objective) learns from pairs",
                ));
            }
        }
        let expected = match self.model.output() {
            OutputActivation::Sigmoid => Scaling::ZeroOne,
            OutputActivation::Tanh => Scaling::MinusOneToOne,
        };
        if self.scaling != expected {
            return Err(TrainError::invalid(
                "scaling",
                format!("{:?}", self.scaling),
                format!(
                    "the generator's {:?} output needs {expected:?} data",
                    self.model.output()
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::presets::PRESETS;
    use crate::test_support::{gan, mlp_generator};

    #[test]
    fn devices_are_named_as_written_and_read_back() {
        for (name, device) in [
            ("cpu", DeviceChoice::Cpu),
            ("cuda", DeviceChoice::Cuda(0)),
            ("cuda:3", DeviceChoice::Cuda(3)),
            ("mps", DeviceChoice::Mps),
            ("auto", DeviceChoice::Auto),
        ] {
            assert_eq!(DeviceChoice::parse(name).unwrap(), device);
            let mut config = TrainConfig::preset("mlp").unwrap();
            config.device = device;
            let text = toml::to_string(&config).unwrap();
            assert!(text.contains(&format!("device = \"{name}\"")), "{text}");
            assert_eq!(toml::from_str::<TrainConfig>(&text).unwrap(), config);
        }
        assert_eq!(DeviceChoice::parse("cuda:0").unwrap().to_string(), "cuda");
        for bad in [
            "gpu",
            "cuda:",
            "cuda:-1",
            "cuda:+1",
            "cuda:1x",
            "CUDA",
            "cuda:99999999999999999999",
        ] {
            assert!(DeviceChoice::parse(bad).is_err(), "{bad}");
        }
        let text = toml::to_string(&TrainConfig::preset("mlp").unwrap())
            .unwrap()
            .replace("device = \"auto\"", "device = \"tpu\"");
        let error = toml::from_str::<TrainConfig>(&text)
            .unwrap_err()
            .to_string();
        assert!(error.contains("unknown device `tpu`"), "{error}");
    }

    #[test]
    fn bad_values_name_the_field() {
        let mut c = TrainConfig::preset("mlp").unwrap();
        c.batch_size = 0;
        assert!(c
            .validate()
            .unwrap_err()
            .to_string()
            .contains("batch-size = 0"));
        let mut c = TrainConfig::preset("mlp").unwrap();
        gan(&mut c).discriminator_optimizer.lr = -1.0;
        assert!(c.validate().unwrap_err().to_string().contains("lr = -1"));
        let mut c = TrainConfig::preset("mlp").unwrap();
        c.scaling = Scaling::ZeroOne;
        assert!(c.validate().unwrap_err().to_string().contains("scaling"));
        let mut c = TrainConfig::preset("mlp").unwrap();
        c.minutes = Some(-2.0);
        assert!(c.validate().unwrap_err().to_string().contains("minutes"));
        for too_large in [MAX_STORED_INTEGER + 1, u64::MAX] {
            let mut c = TrainConfig::preset("mlp").unwrap();
            c.seed = too_large;
            let err = c.to_toml().unwrap_err().to_string();
            assert!(
                err.contains("seed") && err.contains("9223372036854775807"),
                "{err}"
            );
            let mut c = TrainConfig::preset("mlp").unwrap();
            c.steps = too_large;
            assert!(c.validate().unwrap_err().to_string().contains("steps"));
        }
        let mut c = TrainConfig::preset("mlp").unwrap();
        (c.steps, c.seed, c.sample_every) =
            (MAX_STORED_INTEGER, MAX_STORED_INTEGER, MAX_STORED_INTEGER);
        let back: TrainConfig = toml::from_str(&c.to_toml().unwrap()).unwrap();
        assert_eq!(back, c, "the largest stored values round-trip");
        let mut c = TrainConfig::preset("mlp").unwrap();
        gan(&mut c).generator_ema.as_mut().unwrap().decay = 1.5;
        assert!(c.validate().unwrap_err().to_string().contains("ema.decay"));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(500))]

        /// Arbitrary text, and valid configs with bytes replaced, parse and validate to `Ok`
        /// or a typed error, never a panic.
        #[test]
        fn arbitrary_and_mutated_toml_never_panics(
            text in ".{0,200}",
            edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), 0u8..128), 1..8),
            preset in 0usize..2,
        ) {
            if let Ok(c) = toml::from_str::<TrainConfig>(&text) {
                let _ = c.validate();
            }
            let mut bytes = PRESETS[preset].config().to_toml().unwrap().into_bytes();
            for (at, byte) in edits {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            if let Ok(c) = toml::from_str::<TrainConfig>(&String::from_utf8_lossy(&bytes)) {
                let _ = c.validate();
            }
        }

        #[test]
        fn extreme_numbers_are_refused_not_panicked_on(
            width in proptest::prelude::any::<i64>(),
            batch in proptest::prelude::any::<usize>(),
            grid in (proptest::prelude::any::<usize>(), proptest::prelude::any::<usize>()),
        ) {
            let mut c = TrainConfig::preset("mlp").unwrap();
            mlp_generator(&mut c).hidden[1] = width;
            c.batch_size = batch;
            c.grid = [grid.0, grid.1];
            let _ = c.validate();
            mlp_generator(&mut c).image_shape = [width, width, width];
            let _ = c.validate();
        }
    }

    /// An unknown key in a nested model table is reported at its own line, in its table.
    #[test]
    fn unknown_keys_in_model_tables_name_their_line() {
        let text = TrainConfig::preset("mlp").unwrap().to_toml().unwrap();
        let text = text.replacen("[model.generator]\n", "[model.generator]\nbogus = 3\n", 1);
        let line = text.lines().position(|l| l == "bogus = 3").unwrap() + 1;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, &text).unwrap();
        let err = TrainConfig::from_toml_file(&path).unwrap_err().to_string();
        assert!(
            err.contains(&format!("line {line}, in [model.generator]")) && err.contains("bogus"),
            "{err}"
        );
    }

    #[test]
    fn unknown_and_missing_fields_are_refused() {
        let mut text = TrainConfig::preset("tutorial").unwrap().to_toml().unwrap();
        text = text.replacen("steps = 10000", "stepz = 10000", 1);
        let err = toml::from_str::<TrainConfig>(&text)
            .unwrap_err()
            .to_string();
        assert!(err.contains("stepz"), "{err}");
    }

    /// Presets train with the fused passes and say so in their config; a config written
    /// before the setting existed keeps the autograd it trained with.
    #[test]
    fn backprop_is_written_and_older_configs_keep_autograd() {
        let config = TrainConfig::preset("mlp").unwrap();
        assert_eq!(config.backprop, Backprop::Fused);
        let text = config.to_toml().unwrap();
        assert!(text.contains("backprop = \"fused\""), "{text}");
        let older: String = text
            .lines()
            .filter(|line| !line.starts_with("backprop"))
            .map(|line| format!("{line}\n"))
            .collect();
        let loaded = toml::from_str::<TrainConfig>(&older).unwrap();
        assert_eq!(loaded.backprop, Backprop::Autograd);
    }

    /// A config.toml of the first release (the tutorial preset as it wrote it) loads as the
    /// same run in today's layout, with the gradients it trained with; a broken one is refused
    /// with how to convert it.
    #[test]
    fn first_release_configs_are_converted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        std::fs::write(&path, FIRST_RELEASE_TUTORIAL).unwrap();
        let converted = TrainConfig::from_toml_file(&path).unwrap();
        let mut expected = TrainConfig::preset("tutorial").unwrap();
        expected.matmul = MatmulChoice::Auto;
        expected.backprop = Backprop::Autograd;
        assert_eq!(converted, expected);
        std::fs::write(
            &path,
            FIRST_RELEASE_TUTORIAL.replace("latent_dim", "latent"),
        )
        .unwrap();
        let err = TrainConfig::from_toml_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("first release") && err.contains("latent"),
            "{err}"
        );
    }

    const FIRST_RELEASE_TUTORIAL: &str = r#"preset = "tutorial"
steps = 10000
batch_size = 128
sample_every = 1000
checkpoint_every = 1000
keep_checkpoints = 2
eval_every = 0
eval_samples = 5000
seed = 42
device = "auto"
threads = 0
matmul = "auto"
grid = [4, 4]
scaling = "zero-one"
sampling = "with-replacement"
fake_mode = "inference"

[adam]
lr = 0.001
beta1 = 0.9
beta2 = 0.999
eps = 1e-7
epsilon_style = "keras"

[generator]
latent_dim = 100
hidden = [256, 512, 1024]
output = "sigmoid"
image_shape = [1, 28, 28]
init = "glorot-uniform"

[generator.activation]
kind = "relu"

[generator.norm]
kind = "batch-norm"
momentum = 0.01
eps = 0.001

[discriminator]
image_shape = [1, 28, 28]
hidden = [512, 256]
init = "glorot-uniform"

[discriminator.activation]
kind = "relu"
"#;
}
