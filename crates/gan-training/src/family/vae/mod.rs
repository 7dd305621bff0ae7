//! The VAE family (Kingma & Welling 2014): an encoder to a diagonal Gaussian q(z | x), a
//! decoder to Bernoulli pixels p(x | z), trained on the evidence lower bound (or, with
//! `importance_samples > 1`, the importance-weighted bound of Burda et al. 2015) with one
//! Adam. Conditional (`conditional = true`): the label enters both networks. Samples decode
//! draws from the [`prior`]: `N(0, I)`, or a mixture fitted ex post to the encoder's codes.

pub mod objective;
pub mod prior;

use gan_data::rng::stream_seed;
use gan_data::DeviceRng;
use gan_models::vae::{Decoder, DecoderConfig, Encoder, EncoderConfig, VaeShape};
use gan_models::{OutputActivation, Summary, Tape};
use serde::{Deserialize, Serialize};
use tch::nn::VarStore;
use tch::{Device, Kind, Tensor};

use super::{Batch, BuildContext, Family, FamilyConfig, LikelihoodModel, Metric, SampleWeights};
use crate::adam::AdamConfig;
use crate::ema::EmaConfig;
use crate::error::TrainError;
use crate::part::Part;
use crate::schedule::LrDecay;
use objective::{
    bernoulli_log_likelihood, gaussian_kl, importance_weighted_bound, log_normal,
    log_standard_normal, reparameterize,
};
use prior::FittedPrior;
pub use prior::PriorConfig;

/// The VAE family's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VaeConfig {
    pub latent_dim: i64,
    /// Channels, rows, columns.
    pub image_shape: [i64; 3],
    /// Labels enter the encoder and the decoder; `gan generate --digit` asks for a class.
    #[serde(default, skip_serializing_if = "is_false")]
    pub conditional: bool,
    /// Train on a fresh Bernoulli draw of every pixel at every step (dynamic binarization,
    /// the literature's protocol; likelihoods are then scored on a binarized test set).
    /// Otherwise the pixel intensities in [0, 1] are the Bernoulli targets.
    pub binarize: bool,
    /// Weight of the KL term (β-VAE); 1 is the ELBO.
    pub beta: f64,
    /// The KL weight rises linearly from 0 to `beta` over this many steps (0: none).
    #[serde(default)]
    pub kl_warmup_steps: u64,
    /// Importance samples per image in the training objective: 1 trains on the ELBO, k > 1 on
    /// the IWAE bound.
    pub importance_samples: u32,
    /// k of the log-likelihood estimate of evaluations (`gan eval`, `--eval-every`).
    pub eval_importance_samples: u32,
    pub optimizer: AdamConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr_decay: Option<LrDecay>,
    /// An exponential moving average of the weights, which samples and is scored when
    /// present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ema: Option<EmaConfig>,
    pub encoder: EncoderConfig,
    pub decoder: DecoderConfig,
    /// What samples decode; `N(0, I)` unless set.
    #[serde(default, skip_serializing_if = "PriorConfig::is_standard_normal")]
    pub prior: PriorConfig,
}

fn is_false(value: &bool) -> bool {
    !value
}

pub(super) const METRICS: &[Metric] = &[
    Metric {
        key: "loss",
        label: "loss",
        panel: "nats per image",
        percent: false,
    },
    Metric {
        key: "recon",
        label: "recon",
        panel: "nats per image",
        percent: false,
    },
    Metric {
        key: "kl",
        label: "KL",
        panel: "nats per image",
        percent: false,
    },
];

/// Random streams of a run's seed above any step's.
const ENCODER_INIT_STREAM: u64 = u64::MAX - 1;
const DECODER_INIT_STREAM: u64 = u64::MAX - 2;
const BINARIZATION_STREAM: u64 = u64::MAX - 3;
const PRIOR_FIT_STREAM: u64 = u64::MAX - 4;
/// Decoder rows per forward pass of a likelihood estimate, which bounds its memory.
const ESTIMATE_ROWS: i64 = 16_384;

impl VaeConfig {
    pub fn shape(&self) -> VaeShape {
        VaeShape {
            latent_dim: self.latent_dim,
            image_shape: self.image_shape,
            conditional: self.conditional,
        }
    }

    pub fn validate(&self) -> Result<(), TrainError> {
        self.optimizer.validate()?;
        if let Some(decay) = &self.lr_decay {
            decay.validate()?;
        }
        if let Some(ema) = &self.ema {
            ema.validate()?;
        }
        self.prior.validate()?;
        if !(1..=16_384).contains(&self.latent_dim) {
            return Err(TrainError::invalid(
                "latent_dim",
                self.latent_dim,
                "must be in 1..=16384",
            ));
        }
        if !(self.beta >= 0.0 && self.beta.is_finite()) {
            return Err(TrainError::invalid(
                "beta",
                self.beta,
                "must be a finite number ≥ 0",
            ));
        }
        if !(1..=4096).contains(&self.importance_samples) {
            return Err(TrainError::invalid(
                "importance_samples",
                self.importance_samples,
                "must be in 1..=4096 (1 trains on the ELBO)",
            ));
        }
        if !(1..=1_000_000).contains(&self.eval_importance_samples) {
            return Err(TrainError::invalid(
                "eval_importance_samples",
                self.eval_importance_samples,
                "must be in 1..=1000000",
            ));
        }
        self.encoder.validate(self.shape())?;
        self.decoder.validate(self.shape())?;
        Ok(())
    }

    /// The KL weight at step `step` (0-based).
    pub fn kl_weight(&self, step: u64) -> f64 {
        if self.kl_warmup_steps == 0 {
            self.beta
        } else {
            self.beta * ((step + 1) as f64 / self.kl_warmup_steps as f64).min(1.0)
        }
    }
}

impl FamilyConfig for VaeConfig {
    fn build(&self, context: &BuildContext) -> Result<Box<dyn Family>, TrainError> {
        Ok(Box::new(VaeFamily::new(self, context)?))
    }

    fn validate(&self) -> Result<(), TrainError> {
        VaeConfig::validate(self)
    }

    fn metrics(&self) -> &'static [Metric] {
        METRICS
    }

    /// Bernoulli means are probabilities.
    fn output(&self) -> OutputActivation {
        OutputActivation::Sigmoid
    }

    fn latent_dim(&self) -> i64 {
        self.latent_dim
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

    fn sample_training_prior(&mut self) -> bool {
        if self.prior.is_standard_normal() {
            return false;
        }
        self.prior = PriorConfig::StandardNormal;
        true
    }
}

/// An encoder and a decoder in one var store.
struct Networks {
    encoder: Box<dyn Encoder>,
    decoder: Box<dyn Decoder>,
}

impl Networks {
    fn new(config: &VaeConfig, vs: &VarStore, context: &BuildContext) -> Result<Self, TrainError> {
        let shape = config.shape();
        Ok(Networks {
            encoder: config.encoder.build(
                &(vs.root() / "encoder"),
                shape,
                stream_seed(context.seed, ENCODER_INIT_STREAM),
            )?,
            decoder: config.decoder.build(
                &(vs.root() / "decoder"),
                shape,
                stream_seed(context.seed, DECODER_INIT_STREAM),
            )?,
        })
    }

    /// The log-weights `(k, N)` of `noise`'s k samples per image, and per image (`(N,)`) the
    /// reconstruction log-likelihood averaged over them and the KL term. The weights are
    /// `log p(x|z) + w·(log p(z) - log q(z|x))`; with `closed_form_kl` (one sample) the
    /// second term is the exact `-w·KL` instead, the ELBO's lower-variance estimate.
    fn terms(
        &self,
        images: &Tensor,
        labels: Option<&Tensor>,
        noise: &Tensor,
        kl_weight: f64,
        closed_form_kl: bool,
    ) -> (Tensor, Tensor, Tensor) {
        let (mean, log_var) = self.encoder.forward(images, labels);
        let [k, n, d] = noise.size()[..] else {
            unreachable!("noise is (k, N, latent)")
        };
        let z = reparameterize(&mean, &log_var, noise);
        let repeated_labels = labels.map(|l| l.repeat([k]));
        let logits = self
            .decoder
            .forward(&z.view([k * n, d]), repeated_labels.as_ref());
        let targets = images.repeat([k, 1, 1, 1]);
        let reconstruction = bernoulli_log_likelihood(&logits, &targets).view([k, n]);
        let kl = gaussian_kl(&mean, &log_var);
        let log_weights = if closed_form_kl {
            &reconstruction - &kl * kl_weight
        } else {
            &reconstruction
                + (log_standard_normal(&z) - log_normal(&z, &mean, &log_var)) * kl_weight
        };
        (
            log_weights,
            reconstruction.mean_dim(0, false, Kind::Float),
            kl,
        )
    }
}

/// An encoder and a decoder sharing one optimizer and checkpoint part (`vae`), and
/// optionally their moving average, which then samples and is scored.
pub struct VaeFamily {
    config: VaeConfig,
    device: Device,
    live: Networks,
    averaged: Option<Networks>,
    part: Part,
    noise: DeviceRng,
    binarization: DeviceRng,
    /// The fitted prior that samples, if the config asks for one (held in the part's store,
    /// so checkpoints carry it).
    fitted_prior: Option<FittedPrior>,
    /// Draws of q(z | x) the prior is fitted to.
    prior_noise: DeviceRng,
}

impl VaeFamily {
    pub fn new(config: &VaeConfig, context: &BuildContext) -> Result<VaeFamily, TrainError> {
        config.validate()?;
        let device = context.device;
        let vs = VarStore::new(device);
        let live = Networks::new(config, &vs, context)?;
        let fitted_prior =
            FittedPrior::for_config(config.prior, &(vs.root() / "prior"), config.latent_dim);
        let (averaged, ema) = match config.ema {
            Some(ema) => {
                let shadow = VarStore::new(device);
                (
                    Some(Networks::new(config, &shadow, context)?),
                    Some((shadow, ema)),
                )
            }
            None => (None, None),
        };
        Ok(VaeFamily {
            config: config.clone(),
            device,
            live,
            averaged,
            part: Part::new("vae", vs, config.optimizer, ema),
            noise: DeviceRng::new(context.seed),
            binarization: DeviceRng::new(stream_seed(context.seed, BINARIZATION_STREAM)),
            fitted_prior,
            prior_noise: DeviceRng::new(stream_seed(context.seed, PRIOR_FIT_STREAM)),
        })
    }

    /// The networks that evaluations score and encode with: the average where kept.
    fn scored(&self) -> &Networks {
        self.averaged.as_ref().unwrap_or(&self.live)
    }

    /// The batch's Bernoulli targets: a fresh binary draw of the step when binarizing.
    fn targets(&self, batch: &Batch) -> Result<Tensor, TrainError> {
        if !self.config.binarize {
            return Ok(batch.images.shallow_clone());
        }
        let u = self
            .binarization
            .uniform(batch.step, &batch.images.size(), self.device)?;
        Ok(u.lt_tensor(&batch.images).to_kind(Kind::Float))
    }

    /// Bernoulli means of p(x | z) from the chosen weights, without gradients.
    fn decode_with(&self, weights: SampleWeights, z: &Tensor, labels: Option<&Tensor>) -> Tensor {
        let networks = match (weights, &self.averaged) {
            (SampleWeights::Ema, Some(averaged)) => averaged,
            _ => &self.live,
        };
        tch::no_grad(|| networks.decoder.forward(z, labels).sigmoid())
    }

    fn labels<'a>(&self, batch: &'a Batch) -> Result<Option<&'a Tensor>, TrainError> {
        match (self.config.conditional, &batch.labels) {
            (false, _) => Ok(None),
            (true, Some(labels)) => Ok(Some(labels)),
            (true, None) => Err(TrainError::invalid(
                "data",
                "images without labels",
                "a conditional VAE trains on labelled images",
            )),
        }
    }
}

impl Family for VaeFamily {
    fn metrics(&self) -> &'static [Metric] {
        METRICS
    }

    /// One Adam step on the negative objective, averaged over the batch: `loss` is it (in
    /// nats per image), `recon` the reconstruction's negative log-likelihood and `kl` the KL
    /// term before its weight.
    fn step(&mut self, batch: &Batch) -> Result<Vec<f64>, TrainError> {
        if let Some(decay) = &self.config.lr_decay {
            self.part.scale_learning_rate(decay.factor(batch.step));
        }
        let targets = self.targets(batch)?;
        let labels = self.labels(batch)?;
        let n = targets.size()[0];
        let k = i64::from(self.config.importance_samples);
        let noise = self
            .noise
            .normal(batch.step, &[k, n, self.config.latent_dim], self.device)?;
        let kl_weight = self.config.kl_weight(batch.step);
        let ((log_weights, reconstruction, kl), tape) =
            Tape::record(|| self.live.terms(&targets, labels, &noise, kl_weight, k == 1));
        let loss = -importance_weighted_bound(&log_weights).mean(Kind::Float);
        let grads = tape.gradients(&loss, self.part.params());
        self.part.apply_gradients(&grads);
        Ok(vec![
            loss.double_value(&[]),
            -reconstruction.mean(Kind::Float).double_value(&[]),
            kl.mean(Kind::Float).double_value(&[]),
        ])
    }

    /// Bernoulli means of p(x | z) for `z` the prior's draw for standard-normal `noise`
    /// (the noise itself under `N(0, I)`). A fitted prior is the one fitted to the scored
    /// (averaged) encoder's codes, and samples the live weights too.
    fn generate(&self, noise: &Tensor, labels: Option<&Tensor>, weights: SampleWeights) -> Tensor {
        let z = match &self.fitted_prior {
            Some(prior) => tch::no_grad(|| prior.mixture.transform(noise)),
            None => noise.shallow_clone(),
        };
        self.decode_with(weights, &z, labels)
    }

    /// Encodes the first `fit_images` training images (a fixed binarization of them for a
    /// binarized model) and fits the mixture prior to one draw of q(z | x) for each: the
    /// aggregate posterior the decoder was trained on (a fit to the code means alone gives
    /// samples of less variety). The draw's noise is the run's own fixed stream.
    fn fit_sampling(&self, images: &Tensor, labels: Option<&Tensor>) -> Result<(), TrainError> {
        let Some(prior) = &self.fitted_prior else {
            return Ok(());
        };
        let count = prior.fit_images.min(images.size()[0]);
        let mut images = images.narrow(0, 0, count);
        if self.config.binarize {
            images = crate::data_tensors::binarize_images(&images)?;
        }
        let labels = labels.map(|l| l.narrow(0, 0, count));
        let started = std::time::Instant::now();
        let (mean, log_var) = self.encode(&images, labels.as_ref());
        let noise = self.prior_noise.normal(0, &mean.size(), self.device)?;
        let mean_log_density = prior
            .mixture
            .fit(&reparameterize(&mean, &log_var, &noise))?;
        tracing::debug!(
            count,
            mean_log_density,
            seconds = started.elapsed().as_secs_f64(),
            "fitted the prior to the encoder's codes"
        );
        Ok(())
    }

    fn latent_dim(&self) -> i64 {
        self.config.latent_dim
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
        let vars = self.part.vars();
        let mut summaries = vec![
            Summary::of_network("encoder", self.live.encoder.layers(), vars),
            Summary::of_network("decoder", self.live.decoder.layers(), vars),
        ];
        if let PriorConfig::FittedMixture { components, .. } = self.config.prior {
            let mixture = gan_models::LayerInfo {
                name: "prior".to_owned(),
                kind: format!("GaussianMixture×{components}"),
                output_shape: vec![self.config.latent_dim],
            };
            let mut prior = Summary::new("prior", vec![mixture], vars);
            let own: i64 = prior.rows.iter().map(|(_, p)| p).sum();
            (prior.total, prior.trainable, prior.non_trainable) = (own, 0, own);
            summaries.push(prior);
        }
        summaries
    }

    fn likelihood_model(&self) -> Option<&dyn LikelihoodModel> {
        Some(self)
    }
}

impl LikelihoodModel for VaeFamily {
    fn binarized(&self) -> bool {
        self.config.binarize
    }

    fn eval_importance_samples(&self) -> u32 {
        self.config.eval_importance_samples
    }

    fn log_likelihood(
        &self,
        images: &Tensor,
        labels: Option<&Tensor>,
        k: u32,
        seed: u64,
    ) -> Result<(Tensor, Tensor), TrainError> {
        let n = images.size()[0];
        let per_pass = (ESTIMATE_ROWS / n.max(1)).max(1);
        let rng = DeviceRng::new(seed);
        let (mut log_weights, mut elbo) = (Vec::new(), Vec::new());
        let mut done = 0i64;
        tch::no_grad(|| -> Result<(), TrainError> {
            for pass in 0.. {
                if done == i64::from(k) {
                    break;
                }
                let size = per_pass.min(i64::from(k) - done);
                let noise = rng.normal(pass, &[size, n, self.config.latent_dim], self.device)?;
                let (w, reconstruction, kl) =
                    self.scored().terms(images, labels, &noise, 1.0, false);
                log_weights.push(w);
                elbo.push((reconstruction - kl) * size as f64);
                done += size;
            }
            Ok(())
        })?;
        let elbo = elbo.into_iter().reduce(|a, b| a + b).expect("k ≥ 1") / f64::from(k);
        Ok((
            elbo,
            importance_weighted_bound(&Tensor::cat(&log_weights, 0)),
        ))
    }

    fn encode(&self, images: &Tensor, labels: Option<&Tensor>) -> (Tensor, Tensor) {
        tch::no_grad(|| self.scored().encoder.forward(images, labels))
    }

    fn decode(&self, z: &Tensor, labels: Option<&Tensor>) -> Tensor {
        self.decode_with(SampleWeights::Ema, z, labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{small_config, toy_images, vae};

    fn blas() -> gan_models::Execution {
        gan_models::Execution::new(gan_models::MatmulKernel::Blas, true)
    }

    fn family(preset: &str) -> VaeFamily {
        let mut config = small_config(preset);
        let context = BuildContext {
            device: Device::Cpu,
            seed: 5,
            batch_size: 16,
        };
        blas().run(|| VaeFamily::new(vae(&mut config), &context).unwrap())
    }

    fn toy(count: usize) -> Tensor {
        toy_images(count)
            .to_tensor(gan_data::Scaling::ZeroOne, Device::Cpu)
            .unwrap()
    }

    /// On a fixed model the importance-weighted estimate sits above the ELBO and rises with
    /// k (Burda et al., Theorem 1), here averaged over images so sampling noise is small.
    #[test]
    fn importance_weighted_bound_exceeds_the_elbo_and_grows_with_k() {
        let f = family("vae-binarized");
        let images = crate::data_tensors::binarize_images(&toy(64)).unwrap();
        let mean_of = |t: Tensor| t.mean(Kind::Double).double_value(&[]);
        let (elbo, one) = f.log_likelihood(&images, None, 1, 9).unwrap();
        let (elbo, one) = (mean_of(elbo), mean_of(one));
        let bounds: Vec<f64> = [10, 100, 1000]
            .iter()
            .map(|&k| mean_of(f.log_likelihood(&images, None, k, 9).unwrap().1))
            .collect();
        // One importance sample estimates the ELBO with a sampled KL instead of its closed form.
        assert!(
            (one - elbo).abs() < 0.05 * elbo.abs(),
            "{one} vs ELBO {elbo}"
        );
        assert!(bounds[0] > elbo, "k=10 {} vs ELBO {elbo}", bounds[0]);
        assert!(
            bounds.windows(2).all(|w| w[1] > w[0]),
            "bounds for k = 10, 100, 1000 must rise: {bounds:?}"
        );
    }

    /// A few hundred steps on a handful of images lower the loss well below its start.
    #[test]
    fn training_lowers_the_negative_elbo() {
        for preset in ["vae", "vae-binarized"] {
            let mut f = family(preset);
            let images = toy(16);
            let mut losses = Vec::new();
            for step in 0..300 {
                let batch = Batch {
                    step,
                    images: images.shallow_clone(),
                    labels: None,
                    noise: None,
                };
                losses.push(f.step(&batch).unwrap()[0]);
            }
            let (first, last) = (losses[0], losses[losses.len() - 1]);
            assert!(last < 0.5 * first, "{preset}: loss {first} → {last}");
        }
    }

    /// Dynamic binarization: binary targets, a fresh draw each step, the same draw for the
    /// same step (so a resumed run sees what an uninterrupted one would).
    #[test]
    fn binarization_is_fresh_per_step_and_repeatable() {
        let f = family("vae-binarized");
        let images = toy(8) * 0.5 + 0.25;
        let batch = |step| Batch {
            step,
            images: images.shallow_clone(),
            labels: None,
            noise: None,
        };
        let a = f.targets(&batch(3)).unwrap();
        assert!(a.eq(0.0).logical_or(&a.eq(1.0)).all().int64_value(&[]) == 1);
        assert!(a.equal(&f.targets(&batch(3)).unwrap()));
        assert!(!a.equal(&f.targets(&batch(4)).unwrap()));
        let plain = family("vae");
        assert!(plain.targets(&batch(3)).unwrap().equal(&images));
    }

    #[test]
    fn a_conditional_vae_needs_labels_and_uses_them() {
        let mut f = family("cvae");
        let images = toy(10);
        let batch = Batch {
            step: 0,
            images: images.shallow_clone(),
            labels: None,
            noise: None,
        };
        let err = f.step(&batch).unwrap_err().to_string();
        assert!(err.contains("labelled images"), "{err}");
        let z = Tensor::zeros([2, f.latent_dim()], (Kind::Float, Device::Cpu));
        let digits = Tensor::from_slice(&[1i64, 7]);
        let out = f.generate(&z, Some(&digits), SampleWeights::Ema);
        assert!(
            !out.get(0).equal(&out.get(1)),
            "labels must change the decoding"
        );
    }

    /// A fitted prior moves off `N(0, I)` to where the codes are, changes the samples, and
    /// is a function of the weights and data alone (refitting gives the same tensors).
    #[test]
    fn a_fitted_prior_follows_the_codes_repeatably() {
        let mut config = small_config("vae");
        vae(&mut config).prior = PriorConfig::FittedMixture {
            components: 2,
            fit_images: 40,
        };
        let context = BuildContext {
            device: Device::Cpu,
            seed: 5,
            batch_size: 16,
        };
        let mut f = blas().run(|| VaeFamily::new(vae(&mut config), &context).unwrap());
        let images = toy(48);
        for step in 0..100 {
            let batch = Batch {
                step,
                images: images.narrow(0, 0, 16),
                labels: None,
                noise: None,
            };
            f.step(&batch).unwrap();
        }
        let noise = Tensor::randn([8, f.latent_dim()], (Kind::Float, Device::Cpu));
        let before = f.generate(&noise, None, SampleWeights::Ema);
        f.fit_sampling(&images, None).unwrap();
        let prior = |f: &VaeFamily| {
            f.part
                .state_tensors()
                .into_iter()
                .filter(|(name, _)| name.starts_with("vae.prior."))
                .map(|(name, t)| (name, t.copy()))
                .collect::<Vec<_>>()
        };
        let fitted = prior(&f);
        assert_eq!(fitted.len(), 3, "weights, means and scales are saved");
        let means = &fitted
            .iter()
            .find(|(n, _)| n == "vae.prior.means")
            .unwrap()
            .1;
        assert!(means.abs().max().double_value(&[]) > 0.0);
        let after = f.generate(&noise, None, SampleWeights::Ema);
        assert!(!before.allclose(&after, 1e-4, 1e-4, false));
        f.fit_sampling(&images, None).unwrap();
        for ((name, a), (_, b)) in fitted.iter().zip(prior(&f)) {
            assert!(a.equal(&b), "{name} changed on refitting");
        }
    }

    #[test]
    fn bad_settings_are_named() {
        let mut config = small_config("vae");
        vae(&mut config).importance_samples = 0;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("importance_samples"), "{err}");
        let mut config = small_config("vae");
        vae(&mut config).beta = f64::NAN;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("beta"), "{err}");
    }
}
