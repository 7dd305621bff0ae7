//! The diffusion family: a denoiser trained on noised images, sampled by running the noising
//! backwards from pure noise in a chosen number of network evaluations. One module covers
//! DDPM's noise prediction and flow matching ([`process`]), and their samplers ([`sampler`]);
//! conditional models train with the label dropped now and then and sample with
//! classifier-free guidance (Ho & Salimans 2022).
//!
//! Every random draw of a step (the noise, the levels, the dropped labels) comes from the
//! run's seed and the step, so a resumed run trains exactly what an uninterrupted one would.

pub mod process;
pub mod sampler;

use gan_data::rng::stream_seed;
use gan_data::DeviceRng;
use gan_models::diffusion::{Denoiser, DenoiserConfig, DenoiserShape, NO_LABEL};
use gan_models::{OutputActivation, Summary, Tape};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::{Batch, BuildContext, Family, FamilyConfig, Metric, SampleWeights};
use crate::adam::AdamConfig;
use crate::ema::EmaConfig;
use crate::error::TrainError;
use crate::part::Part;
use process::{Objective, Prediction, Process};
use sampler::SamplingConfig;

/// The diffusion family's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiffusionConfig {
    /// Channels, rows, columns.
    pub image_shape: [i64; 3],
    /// Labels enter the denoiser; `gan generate --digit` asks for a class.
    #[serde(default, skip_serializing_if = "is_false")]
    pub conditional: bool,
    /// With `conditional`: the chance a training label is replaced by "no label", which
    /// teaches the unconditional prediction that guidance needs.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub label_dropout: f64,
    pub objective: Objective,
    /// What the denoiser outputs: the objective's own target, or the clean image.
    pub prediction: Prediction,
    /// A flow predicting data: each image's squared error weighed by `min(1/t², cap)`, the
    /// weight its velocity's error would have, capped so the nearly clean images do not
    /// dominate; equal weights when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub velocity_weight_cap: Option<f64>,
    pub sampling: SamplingConfig,
    pub optimizer: AdamConfig,
    /// An exponential moving average of the weights, which samples when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ema: Option<EmaConfig>,
    pub denoiser: DenoiserConfig,
}

fn is_false(value: &bool) -> bool {
    !value
}

fn is_zero(value: &f64) -> bool {
    *value == 0.0
}

const METRICS: &[Metric] = &[Metric {
    key: "loss",
    label: "loss",
    panel: "mean squared error",
    percent: false,
}];

/// Sampling steps a reflowed flow takes by default.
const REFLOW_SAMPLE_STEPS: u32 = 2;

/// Random streams of a run's seed above any step's.
const INIT_STREAM: u64 = u64::MAX - 1;
const LEVEL_STREAM: u64 = u64::MAX - 2;
const DROPOUT_STREAM: u64 = u64::MAX - 3;

impl DiffusionConfig {
    fn shape(&self) -> DenoiserShape {
        DenoiserShape {
            image_shape: self.image_shape,
            conditional: self.conditional,
        }
    }
}

impl FamilyConfig for DiffusionConfig {
    fn build(&self, context: &BuildContext) -> Result<Box<dyn Family>, TrainError> {
        Ok(Box::new(DiffusionFamily::new(self, context)?))
    }

    fn validate(&self) -> Result<(), TrainError> {
        self.optimizer.validate()?;
        if let Some(ema) = &self.ema {
            ema.validate()?;
        }
        self.objective.validate()?;
        self.prediction.validate(&self.objective)?;
        if let Some(cap) = self.velocity_weight_cap {
            let flow_data = matches!(self.objective, Objective::Flow { .. })
                && self.prediction == Prediction::Data;
            if !(flow_data && cap.is_finite() && (1.0..=1e6).contains(&cap)) {
                return Err(TrainError::invalid(
                    "velocity_weight_cap",
                    cap,
                    "is for a flow with prediction = data, and must be in 1..=1e6",
                ));
            }
        }
        self.sampling.validate(&self.objective)?;
        self.denoiser.validate()?;
        if self.image_shape.iter().any(|&d| !(1..=4_096).contains(&d)) {
            return Err(TrainError::invalid(
                "image_shape",
                format!("{:?}", self.image_shape),
                "each size must be in 1..=4096",
            ));
        }
        if !(0.0..1.0).contains(&self.label_dropout) {
            return Err(TrainError::invalid(
                "label_dropout",
                self.label_dropout,
                "must be in [0, 1)",
            ));
        }
        if !self.conditional && (self.label_dropout != 0.0 || self.sampling.guidance != 1.0) {
            return Err(TrainError::invalid(
                "conditional",
                false,
                "label_dropout and sampling.guidance are for a conditional model",
            ));
        }
        Ok(())
    }

    fn metrics(&self) -> &'static [Metric] {
        METRICS
    }

    fn output(&self) -> OutputActivation {
        OutputActivation::Tanh
    }

    /// The starting noise is image-sized.
    fn latent_dim(&self) -> i64 {
        self.image_shape.iter().product()
    }

    fn conditional(&self) -> bool {
        self.conditional
    }

    fn image_shape(&self) -> [i64; 3] {
        self.image_shape
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.optimizer.lr = lr;
    }

    fn set_sampling(&mut self, steps: Option<u32>, guidance: Option<f64>) -> bool {
        if let Some(steps) = steps {
            self.sampling.steps = steps;
        }
        if let Some(guidance) = guidance {
            self.sampling.guidance = guidance;
        }
        true
    }

    /// A flow relearnt from its own pairs follows nearly straight paths: Euler's method in
    /// few steps on an even grid. It trains on levels drawn uniformly: a few steps evaluate
    /// the network at the noisiest levels, which a logit-normal draw seldom visits.
    fn prepare_reflow(&mut self) -> Result<(), TrainError> {
        if !self.learns_from_pairs() {
            return Err(TrainError::invalid(
                "model.objective",
                "noise",
                "reflow straightens a flow: train the source with a flow objective",
            ));
        }
        self.objective = Objective::Flow {
            time_sampling: process::TimeSampling::Uniform,
        };
        self.sampling.sampler = sampler::Sampler::Euler;
        self.sampling.steps = REFLOW_SAMPLE_STEPS;
        self.sampling.time_exponent = 1.0;
        Ok(())
    }

    fn evaluations_per_image(&self) -> u32 {
        self.sampling.evaluations()
    }

    fn learns_from_pairs(&self) -> bool {
        matches!(self.objective, Objective::Flow { .. })
    }

    fn describe_sampling(&self) -> Option<String> {
        let sampling = &self.sampling;
        let sampler = format!("{:?}", sampling.sampler).to_lowercase();
        let guidance = match (self.conditional, sampling.guidance) {
            (true, w) if w != 1.0 => format!(", guidance {w}"),
            _ => String::new(),
        };
        let plural = |n: u32, what: &str| match n {
            1 => format!("1 {what}"),
            n => format!("{n} {what}s"),
        };
        Some(format!(
            "{sampler} in {}{guidance}, {} per image",
            plural(sampling.steps, "step"),
            plural(sampling.evaluations(), "network evaluation")
        ))
    }
}

/// See the module docs.
pub struct DiffusionFamily {
    config: DiffusionConfig,
    device: Device,
    process: Process,
    live: Box<dyn Denoiser>,
    /// The moving average's network, when kept.
    averaged: Option<Box<dyn Denoiser>>,
    part: Part,
    noise: DeviceRng,
    levels: DeviceRng,
    dropout: DeviceRng,
}

impl DiffusionFamily {
    pub fn new(
        config: &DiffusionConfig,
        context: &BuildContext,
    ) -> Result<DiffusionFamily, TrainError> {
        config.validate()?;
        let device = context.device;
        let init = stream_seed(context.seed, INIT_STREAM);
        let build = |vs: &VarStore| {
            config
                .denoiser
                .build(&(vs.root() / "denoiser"), config.shape(), init)
        };
        let vs = VarStore::new(device);
        let live = build(&vs)?;
        let (averaged, ema) = match config.ema {
            Some(ema) => {
                let shadow = VarStore::new(device);
                (Some(build(&shadow)?), Some((shadow, ema)))
            }
            None => (None, None),
        };
        Ok(DiffusionFamily {
            config: config.clone(),
            device,
            process: Process::new(config.objective, device),
            live,
            averaged,
            part: Part::new("denoiser", vs, config.optimizer, ema),
            noise: DeviceRng::new(context.seed),
            levels: DeviceRng::new(stream_seed(context.seed, LEVEL_STREAM)),
            dropout: DeviceRng::new(stream_seed(context.seed, DROPOUT_STREAM)),
        })
    }

    /// The batch's labels with the configured share replaced by [`NO_LABEL`].
    fn training_labels(&self, batch: &Batch) -> Result<Option<Tensor>, TrainError> {
        if !self.config.conditional {
            return Ok(None);
        }
        let Some(labels) = &batch.labels else {
            return Err(TrainError::invalid(
                "data",
                "images without labels",
                "a conditional diffusion model trains on labelled images",
            ));
        };
        if self.config.label_dropout == 0.0 {
            return Ok(Some(labels.shallow_clone()));
        }
        let u = self
            .dropout
            .uniform(batch.step, &labels.size(), self.device)?;
        let dropped = u.lt(self.config.label_dropout);
        Ok(Some(labels.where_self(
            &dropped.logical_not(),
            &labels.full_like(NO_LABEL),
        )))
    }

    fn network(&self, weights: SampleWeights) -> &dyn Denoiser {
        match (weights, &self.averaged) {
            (SampleWeights::Ema, Some(averaged)) => averaged.as_ref(),
            _ => self.live.as_ref(),
        }
    }

    /// The prediction at level `t` for every row of `x`, guided when the config says.
    fn predict(
        &self,
        network: &dyn Denoiser,
        x: &Tensor,
        t: f64,
        labels: Option<&Tensor>,
    ) -> Tensor {
        let n = x.size()[0];
        let levels = Tensor::full([n], t, (Kind::Float, self.device));
        let guidance = self.config.sampling.guidance;
        match labels {
            Some(labels) if guidance != 1.0 => guided(network, x, &levels, labels, guidance),
            _ => network.forward(x, &levels, labels),
        }
    }
}

impl DiffusionFamily {
    /// The configured sampler from `noise`, showing `visit` each state on the way.
    fn run_sampler(
        &self,
        noise: &Tensor,
        labels: Option<&Tensor>,
        weights: SampleWeights,
        visit: &mut dyn FnMut(f64, &Tensor),
    ) -> Tensor {
        let [c, h, w] = self.config.image_shape;
        let start = noise.view([-1, c, h, w]);
        let network = self.network(weights);
        let labels = labels.filter(|_| self.config.conditional);
        let key = start.flatten(0, -1).get(0).double_value(&[]).to_bits() ^ start.size()[0] as u64;
        let ancestral = DeviceRng::new(key);
        let sampling = self.config.sampling;
        tch::no_grad(|| {
            sampler::sample_visiting(
                &self.process,
                &sampling,
                &start,
                &mut |x, t| {
                    let output = self.predict(network, x, t, labels);
                    self.process
                        .sampler_quantity(self.config.prediction, output, x, t)
                },
                &mut |k| {
                    ancestral
                        .normal(u64::from(k), &start.size(), self.device)
                        .expect("normal draw on the model's device")
                },
                visit,
            )
            .clamp(-1.0, 1.0)
        })
    }
}

/// Classifier-free guidance: `uncond + w·(cond − uncond)`, from one pass over the
/// conditional and the unconditional rows together.
fn guided(
    network: &dyn Denoiser,
    x: &Tensor,
    levels: &Tensor,
    labels: &Tensor,
    guidance: f64,
) -> Tensor {
    let both = network.forward(
        &Tensor::cat(&[x, x], 0),
        &Tensor::cat(&[levels, levels], 0),
        Some(&with_unconditional_rows(labels)),
    );
    let halves = both.chunk(2, 0);
    let (conditional, unconditional) = (&halves[0], &halves[1]);
    unconditional + (conditional - unconditional) * guidance
}

/// `labels` followed by as many rows of "no label", in the labels' form: classes `(N,)`, or
/// class weights `(N, K)` widened to `K + 1` columns, the last "no label".
fn with_unconditional_rows(labels: &Tensor) -> Tensor {
    if labels.dim() == 2 {
        let weights = labels.to_kind(Kind::Float);
        let (n, classes) = (weights.size()[0], weights.size()[1]);
        let none = Tensor::zeros([n, 1], (Kind::Float, weights.device()));
        let conditional = Tensor::cat(&[&weights, &none], 1);
        let unconditional = Tensor::zeros([n, classes + 1], (Kind::Float, weights.device()))
            .index_fill(
                1,
                &Tensor::from_slice(&[classes]).to_device(weights.device()),
                1.0,
            );
        Tensor::cat(&[conditional, unconditional], 0)
    } else {
        Tensor::cat(&[labels, &labels.full_like(NO_LABEL)], 0)
    }
}

impl Family for DiffusionFamily {
    fn metrics(&self) -> &'static [Metric] {
        METRICS
    }

    /// One Adam step on the mean squared error of the prediction at random levels.
    fn step(&mut self, batch: &Batch) -> Result<Vec<f64>, TrainError> {
        let images = &batch.images;
        let n = images.size()[0];
        let noise = match &batch.noise {
            Some(paired) => paired.view_as(images),
            None => self.noise.normal(batch.step, &images.size(), self.device)?,
        };
        let draw = if self.process.draws_normal() {
            self.levels.normal(batch.step, &[n], self.device)?
        } else {
            self.levels.uniform(batch.step, &[n], self.device)?
        };
        let noised = self
            .process
            .noise(images, &noise, &draw, self.config.prediction);
        let labels = self.training_labels(batch)?;
        let (prediction, tape) = Tape::record(|| {
            self.live
                .forward(&noised.images, &noised.t, labels.as_ref())
        });
        let per_image = (prediction - &noised.target)
            .square()
            .flatten(1, -1)
            .mean_dim(1, false, Kind::Float);
        let loss = match self.config.velocity_weight_cap {
            Some(cap) => {
                (per_image * noised.t.square().reciprocal().clamp_max(cap)).mean(Kind::Float)
            }
            None => per_image.mean(Kind::Float),
        };
        let grads = tape.gradients(&loss, self.part.params());
        self.part.apply_gradients(&grads);
        Ok(vec![loss.double_value(&[])])
    }

    /// Images from the starting noise `noise` (`(N, C·H·W)`, standard normal) by the
    /// configured sampler. DDPM's fresh noise at each step is drawn from a stream keyed by
    /// `noise`, so the same noise gives the same images.
    fn generate(&self, noise: &Tensor, labels: Option<&Tensor>, weights: SampleWeights) -> Tensor {
        self.run_sampler(noise, labels, weights, &mut |_, _| {})
    }

    fn sampling_path(
        &self,
        noise: &Tensor,
        labels: Option<&Tensor>,
        weights: SampleWeights,
    ) -> Option<Vec<(f64, Tensor)>> {
        let mut path = Vec::new();
        // The last state is the sample itself, recorded by the visit.
        let _sample = self.run_sampler(noise, labels, weights, &mut |t, x| {
            path.push((t, x.clamp(-1.0, 1.0)));
        });
        Some(path)
    }

    fn latent_dim(&self) -> i64 {
        self.config.latent_dim()
    }

    fn conditional(&self) -> bool {
        self.config.conditional
    }

    fn parts(&self) -> Vec<&Part> {
        vec![&self.part]
    }

    fn parts_mut(&mut self) -> Vec<&mut Part> {
        vec![&mut self.part]
    }

    fn sync_ema(&self) {}

    fn summaries(&self) -> Vec<Summary> {
        vec![Summary::of_network(
            "denoiser",
            self.live.layers(),
            self.part.vars(),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{diffusion, small_config};
    use tch::kind::FLOAT_CPU;

    fn conditional_family(guidance: f64) -> DiffusionFamily {
        let mut config = small_config("flow-mlp");
        let model = diffusion(&mut config);
        model.conditional = true;
        model.label_dropout = 0.1;
        model.sampling.guidance = guidance;
        let context = BuildContext {
            device: Device::Cpu,
            seed: 5,
            batch_size: 8,
        };
        DiffusionFamily::new(model, &context).unwrap()
    }

    fn close(a: &Tensor, b: &Tensor) -> bool {
        a.allclose(b, 1e-5, 1e-5, false)
    }

    /// Guidance 1 is the conditional prediction and guidance 0 the unconditional one, for
    /// labels as classes and as class weights.
    #[test]
    fn guidance_weighs_the_conditional_against_the_unconditional_prediction() {
        let family = conditional_family(3.0);
        let net = family.live.as_ref();
        let x = Tensor::randn([4, 1, 28, 28], FLOAT_CPU);
        let t = Tensor::from_slice(&[0.2f32, 0.4, 0.6, 0.8]);
        let classes = Tensor::from_slice(&[1i64, 4, 7, 9]);
        let weights = classes.one_hot(10).to_kind(Kind::Float);
        let none = classes.full_like(NO_LABEL);
        for labels in [&classes, &weights] {
            let conditional = net.forward(&x, &t, Some(labels));
            let unconditional = net.forward(&x, &t, Some(&none));
            assert!(close(&guided(net, &x, &t, labels, 1.0), &conditional));
            assert!(close(&guided(net, &x, &t, labels, 0.0), &unconditional));
            let w3 = &unconditional + (&conditional - &unconditional) * 3.0;
            assert!(close(&guided(net, &x, &t, labels, 3.0), &w3));
        }
        assert!(close(
            &net.forward(&x, &t, Some(&weights)),
            &net.forward(&x, &t, Some(&classes))
        ));
    }

    /// The same noise gives the same images, in range, for every sampler.
    #[test]
    fn samples_are_a_function_of_the_noise() {
        use process::{Objective, Schedule};
        use sampler::Sampler;
        for (objective, sampler) in [
            (None, Sampler::Euler),
            (None, Sampler::Heun),
            (Some(Schedule::Linear), Sampler::Ddim),
            (Some(Schedule::Cosine), Sampler::Ddpm),
        ] {
            let mut family = conditional_family(2.0);
            if let Some(schedule) = objective {
                family.config.objective = Objective::Noise {
                    schedule,
                    timesteps: 50,
                };
                family.process = Process::new(family.config.objective, Device::Cpu);
            }
            family.config.sampling.sampler = sampler;
            let noise = Tensor::randn([3, 784], FLOAT_CPU);
            let labels = Tensor::from_slice(&[0i64, 5, 9]);
            let a = family.generate(&noise, Some(&labels), SampleWeights::Ema);
            let b = family.generate(&noise, Some(&labels), SampleWeights::Ema);
            assert_eq!(a.size(), vec![3, 1, 28, 28]);
            assert!(a.equal(&b), "{sampler:?}");
            assert!(a.abs().max().double_value(&[]) <= 1.0);
        }
    }
}
