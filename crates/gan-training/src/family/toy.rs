//! A family defined here, in a test module, to check that adding one is this module and one
//! line in the [`super::registry`]: it trains, checkpoints, resumes and samples through the
//! public API like the real ones. The model is as small as a generative model gets: images
//! `σ(W·z + b)` fitted to the batch by squared error.

use gan_data::DeviceRng;
use gan_models::{LayerInfo, OutputActivation, Summary};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::{Batch, BuildContext, Family, FamilyConfig, Metric, SampleWeights};
use crate::adam::AdamConfig;
use crate::error::TrainError;
use crate::part::Part;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToyConfig {
    pub latent_dim: i64,
    pub image_shape: [i64; 3],
    pub optimizer: AdamConfig,
}

const METRICS: &[Metric] = &[Metric {
    key: "toy_loss",
    label: "toy loss",
    panel: "squared error",
    percent: false,
}];

impl FamilyConfig for ToyConfig {
    fn build(&self, context: &BuildContext) -> Result<Box<dyn Family>, TrainError> {
        Ok(Box::new(ToyFamily::new(self, context)?))
    }

    fn validate(&self) -> Result<(), TrainError> {
        if self.latent_dim < 1 {
            return Err(TrainError::invalid(
                "latent_dim",
                self.latent_dim,
                "must be ≥ 1",
            ));
        }
        self.optimizer.validate()
    }

    fn metrics(&self) -> &'static [Metric] {
        METRICS
    }

    fn output(&self) -> OutputActivation {
        OutputActivation::Sigmoid
    }

    fn latent_dim(&self) -> i64 {
        self.latent_dim
    }

    fn conditional(&self) -> bool {
        false
    }

    fn image_shape(&self) -> [i64; 3] {
        self.image_shape
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.optimizer.lr = lr;
    }
}

/// Step `s` draws its noise from stream `s`; the initial weights from one far above.
const INIT_STREAM: u64 = u64::MAX;

struct ToyFamily {
    config: ToyConfig,
    device: Device,
    weight: Tensor,
    bias: Tensor,
    part: Part,
    noise: DeviceRng,
}

impl ToyFamily {
    /// Weights drawn from an addressed stream of the run's seed (as every family's are), so
    /// that a resumed run trains what an uninterrupted one would.
    fn new(config: &ToyConfig, context: &BuildContext) -> Result<ToyFamily, TrainError> {
        let vs = VarStore::new(context.device);
        let pixels: i64 = config.image_shape.iter().product();
        let root = vs.root();
        let init = DeviceRng::new(context.seed).normal(
            INIT_STREAM,
            &[pixels, config.latent_dim],
            context.device,
        )?;
        let weight = root.var_copy("weight", &(init * 0.01));
        let bias = root.zeros("bias", &[pixels]);
        Ok(ToyFamily {
            config: config.clone(),
            device: context.device,
            weight,
            bias,
            part: Part::new("toy", vs, config.optimizer, None),
            noise: DeviceRng::new(context.seed),
        })
    }

    fn images(&self, noise: &Tensor) -> Tensor {
        let [c, h, w] = self.config.image_shape;
        noise
            .linear(&self.weight, Some(&self.bias))
            .sigmoid()
            .view([-1, c, h, w])
    }
}

impl Family for ToyFamily {
    fn metrics(&self) -> &'static [Metric] {
        METRICS
    }

    fn step(&mut self, batch: &Batch) -> Result<Vec<f64>, TrainError> {
        let n = batch.images.size()[0];
        let noise = self
            .noise
            .normal(batch.step, &[n, self.config.latent_dim], self.device)?;
        let loss = (self.images(&noise) - &batch.images)
            .square()
            .mean(Kind::Float);
        let params: Vec<&Tensor> = self.part.params().iter().map(|(_, t)| t).collect();
        let grads = Tensor::run_backward(&[&loss], &params, false, false);
        self.part.apply_gradients(&grads);
        Ok(vec![loss.double_value(&[])])
    }

    fn generate(&self, noise: &Tensor, _: Option<&Tensor>, _: SampleWeights) -> Tensor {
        tch::no_grad(|| self.images(noise))
    }

    fn latent_dim(&self) -> i64 {
        self.config.latent_dim
    }

    fn conditional(&self) -> bool {
        false
    }

    fn parts(&self) -> Vec<&Part> {
        vec![&self.part]
    }

    fn parts_mut(&mut self) -> Vec<&mut Part> {
        vec![&mut self.part]
    }

    fn sync_ema(&self) {}

    fn summaries(&self) -> Vec<Summary> {
        let layer = LayerInfo {
            name: "affine".to_owned(),
            kind: "Dense".to_owned(),
            output_shape: self.config.image_shape.to_vec(),
        };
        vec![Summary::new("toy", vec![layer], self.part.vars())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::ModelConfig;
    use crate::metrics::UnreadableRows;
    use crate::run::{self, Silent};
    use crate::test_support::toy_data;
    use crate::{RunDir, SampleWeights, TrainConfig, TrainedGenerator, Trainer};

    fn toy_run(steps: u64) -> TrainConfig {
        let mut config = TrainConfig::preset("vae").unwrap();
        config.model = ModelConfig::Toy(ToyConfig {
            latent_dim: 3,
            image_shape: [1, 28, 28],
            optimizer: AdamConfig {
                lr: 0.05,
                ..AdamConfig::keras()
            },
        });
        (config.steps, config.batch_size, config.threads) = (steps, 8, 1);
        (config.sample_every, config.checkpoint_every) = (3, 3);
        config
    }

    #[test]
    fn a_family_registered_in_one_line_trains_resumes_and_samples() {
        let dir = tempfile::tempdir().unwrap();
        let data = toy_data(32);
        let config = toy_run(6);
        // Its config goes through TOML like any other.
        let text = config.to_toml().unwrap();
        assert!(text.contains("family = \"toy\""), "{text}");
        assert!(ModelConfig::families().contains(&"toy"));

        let straight_dir = RunDir::create(&dir.path().join("straight"), &config).unwrap();
        let mut straight = Trainer::new(&config, &data).unwrap();
        let outcome = run::train(&mut straight, &straight_dir, &mut Silent, 0.0, None).unwrap();
        assert_eq!(outcome.steps_done, 6);
        let first = outcome.last.unwrap().values[0];
        assert!(first.is_finite());

        let resumed_dir = RunDir::create(&dir.path().join("resumed"), &toy_run(3)).unwrap();
        let mut half = Trainer::new(&toy_run(3), &data).unwrap();
        run::train(&mut half, &resumed_dir, &mut Silent, 0.0, None).unwrap();
        resumed_dir.write_config(&config).unwrap();
        let mut rest = Trainer::new(&config, &data).unwrap();
        let before = run::resume(&mut rest, &resumed_dir, None, UnreadableRows::Refuse).unwrap();
        assert_eq!(rest.steps_done(), 3);
        run::train(&mut rest, &resumed_dir, &mut Silent, before, None).unwrap();
        let (a, b) = (
            straight.state_tensors().unwrap(),
            rest.state_tensors().unwrap(),
        );
        assert_eq!(a.len(), b.len());
        for (a, b) in a.iter().zip(&b) {
            assert!(a.1.equal(&b.1), "{} differs after the resume", a.0);
        }

        let trained =
            TrainedGenerator::load(resumed_dir.root(), Device::Cpu, SampleWeights::Ema).unwrap();
        assert_eq!(trained.step, 6);
        let samples = trained.generate(5, 1, None).unwrap();
        assert_eq!(samples.images.count, 5);
        assert_eq!(straight.summaries()[0].name, "toy");
    }
}
