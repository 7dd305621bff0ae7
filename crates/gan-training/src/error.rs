//! Errors of training, checkpoints and run directories: each names the file, field or step.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error("invalid setting {field} = {value}: {why}")]
    InvalidConfig {
        field: &'static str,
        value: String,
        why: String,
    },
    #[error("unknown preset {name:?}; choose one of: {choices} (`gan presets` describes them)")]
    UnknownPreset { name: String, choices: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not valid TOML for a training config: {message}")]
    ConfigParse { path: PathBuf, message: String },
    #[error("{path} is not a run directory (no {missing}); give the directory `gan train` wrote")]
    NotARun {
        path: PathBuf,
        missing: &'static str,
    },
    #[error("{path} is in use by another gan process (PID {pid}); wait for it or stop it")]
    Locked { path: PathBuf, pid: u32 },
    #[error("evaluating {what}")]
    Evaluating {
        what: String,
        #[source]
        source: gan_eval::EvalError,
    },
    #[error(
        "--seed {seed} --repeats {repeats}: the draws' seeds would pass {}; pass a smaller --seed",
        u64::MAX
    )]
    SeedsOverflow { seed: u64, repeats: u64 },
    #[error("loading the generator from {path}")]
    LoadGenerator {
        path: PathBuf,
        #[source]
        source: Box<TrainError>,
    },
    #[error("estimating the test log-likelihood")]
    LikelihoodEstimate {
        #[source]
        source: Box<TrainError>,
    },
    #[error("--k applies to likelihood models (VAEs); {path} is a GAN")]
    NoLikelihood { path: PathBuf },
    #[error(
        "--training-prior applies to a VAE whose run fitted a prior for sampling \
         (`prior = fitted-mixture`); {path} samples the prior it was trained with already"
    )]
    NoFittedPrior { path: PathBuf },
    #[error("--set {setting}: {why}")]
    BadSetting { setting: String, why: String },
    #[error("cannot resume {path}")]
    CannotResume {
        path: PathBuf,
        #[source]
        source: Box<TrainError>,
    },
    #[error("{path} {why}")]
    NothingLeft { path: PathBuf, why: String },
    #[error("cannot reflow {path}")]
    CannotReflow {
        path: PathBuf,
        #[source]
        source: Box<TrainError>,
    },
    #[error(
        "{path} (the reflow pairs this run drew when it started) {why}; start the reflow again"
    )]
    BadPairs { path: PathBuf, why: String },
    #[error("replacing the run in {path}")]
    CannotReplace {
        path: PathBuf,
        #[source]
        source: Box<TrainError>,
    },
    #[error("cannot use --out {path}")]
    OutUnusable {
        path: PathBuf,
        #[source]
        source: Box<TrainError>,
    },
    #[error("{path} is at step {step}, beyond the {steps} steps asked for; pass a larger --steps")]
    BeyondSteps {
        path: PathBuf,
        step: u64,
        steps: u64,
    },
    #[error("{path}: a {family} model samples in one pass; --sample-steps and --guidance are for diffusion models")]
    NotSampledInSteps { path: PathBuf, family: &'static str },
    #[error("{path} has no complete checkpoint to resume from: each one there is damaged (named above); delete them to start the run again from step 0")]
    NoCheckpoint { path: PathBuf },
    #[error("{path} holds no checkpoint of step {step}; its checkpoints are of steps {steps}")]
    NoCheckpointAt {
        path: PathBuf,
        step: u64,
        steps: String,
    },
    #[error("{path} is not a valid checkpoint: {why}")]
    BadCheckpoint { path: PathBuf, why: String },
    #[error("{path} line {line}: {why}")]
    BadMetrics {
        path: PathBuf,
        line: usize,
        why: String,
    },
    #[error("device {0} is not available on this machine (see `gan info`); use --device cpu")]
    DeviceUnavailable(String),
    #[error("device cuda:{index} does not exist: this machine has {count} CUDA device(s), cuda:0 to cuda:{last} (see `gan info`)", last = count - 1)]
    NoSuchCudaDevice { index: usize, count: usize },
    #[error(transparent)]
    Model(#[from] gan_models::ModelError),
    #[error(transparent)]
    Data(#[from] gan_data::DataError),
    #[error("evaluation: {0}")]
    Eval(#[from] gan_eval::EvalError),
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    #[error(
        "this model was not trained with labels, so it cannot be asked for a digit; train a conditional one (e.g. --preset cgan)"
    )]
    NotConditional,
    #[error(
        "this {family} model has no likelihood to score or images to reconstruct; train a VAE (e.g. --preset vae)"
    )]
    NotALikelihoodModel { family: &'static str },
    /// `checkpoint` is the step of the newest checkpoint left in the run, where known.
    #[error("training diverged at step {step}: {what} is {value}; {}", kept(*.checkpoint))]
    NonFinite {
        step: u64,
        what: String,
        value: f64,
        checkpoint: Option<u64>,
    },
}

/// What a diverged run still has.
fn kept(checkpoint: Option<u64>) -> String {
    match checkpoint {
        Some(step) => format!("the last good checkpoint (step {step}) is kept"),
        None => "no checkpoint was written before it; change the config (a lower learning rate, \
                 say) and train again with --overwrite"
            .to_owned(),
    }
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(
        field: &'static str,
        value: impl ToString,
        why: impl Into<String>,
    ) -> Self {
        TrainError::InvalidConfig {
            field,
            value: value.to_string(),
            why: why.into(),
        }
    }
}
