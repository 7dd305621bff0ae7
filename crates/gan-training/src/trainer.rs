//! The family-independent half of training: data on the device, batches, the step counter,
//! the fixed noise of the sample grids, and checkpoints of every part.

use std::cell::Cell;

use gan_data::{BatchSampler, DeviceRng, Images, Split};
use gan_models::{Execution, MatmulKernel, Summary};
use tch::{Device, Tensor};

use crate::backprop::Backprop;
use crate::checkpoint::{Checkpoint, Manifest};
use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::execution::{build_family, build_family_here};
use crate::family::{Batch, Family, Metric, SampleWeights};
use crate::inference::{Samples, TrainedGenerator};
use crate::likelihood::{HeldOut, LikelihoodReport};
use crate::metrics::StepMetrics;

/// Random stream of the grid's fixed noise; steps use streams from 0 up.
const FIXED_NOISE_STREAM: u64 = u64::MAX;

/// A model family with its data, on one device.
pub struct Trainer {
    config: TrainConfig,
    device: Device,
    family: Box<dyn Family>,
    /// The kernel the family's dense layers multiply with.
    matmul: MatmulKernel,
    /// How the family's steps form gradients (autograd where the config's choice does not
    /// apply to its networks).
    backprop: Backprop,
    data: Tensor,
    /// The data's classes (`i64`), kept only for a conditional family.
    labels: Option<Tensor>,
    sampler: BatchSampler,
    /// A reflow run's noise of each pair, row for row with `data`.
    paired_noise: Option<Tensor>,
    fixed_noise: Tensor,
    /// Classes of the grid's samples for a conditional family: row `r` shows digit `r`.
    fixed_labels: Option<Tensor>,
    /// Test images a likelihood model is scored on at each evaluation.
    held_out: Option<HeldOut>,
    steps_done: u64,
    /// The step [`Family::fit_sampling`] last ran at, so it runs once per state sampled or
    /// saved.
    sampling_fitted_at: Cell<Option<u64>>,
}

/// Random stream of the likelihood estimates of evaluations.
const LIKELIHOOD_STREAM: u64 = u64::MAX - 17;

impl Trainer {
    /// Builds the config's model (weights seeded by `config.seed`) and moves the data's
    /// images (and, for a conditional model, labels) to the device once.
    pub fn new(config: &TrainConfig, data: &Split) -> Result<Trainer, TrainError> {
        config.validate()?;
        let images = &data.images;
        let [channels, rows, cols] = config.model.image_shape();
        if images.count == 0 {
            return Err(TrainError::invalid(
                "data",
                "0 images",
                "the training set is empty",
            ));
        }
        if channels != 1 || images.rows as i64 != rows || images.cols as i64 != cols {
            return Err(TrainError::invalid(
                "data",
                format!("{}×{} images", images.rows, images.cols),
                format!("the model expects {channels}×{rows}×{cols}"),
            ));
        }
        if config.threads > 0 {
            tch::set_num_threads(config.threads as i32);
        }
        let device = config.device.resolve()?;
        let matmul = crate::matmul_choice::matmul_kernel(config, device)?;
        let chains_before = Execution::chains_built();
        let family = build_family(config, device, matmul)?;
        let backprop = if Execution::chains_built() > chains_before {
            Backprop::Fused
        } else {
            Backprop::Autograd
        };
        let labels = if family.conditional() {
            if data.labels.len() != images.count {
                return Err(TrainError::invalid(
                    "data",
                    format!("{} images with {} labels", images.count, data.labels.len()),
                    "a conditional model needs one label per image",
                ));
            }
            Some(crate::data_tensors::label_tensor(&data.labels, device))
        } else {
            None
        };
        let paired_noise = match &config.reflow {
            Some(reflow) => {
                if images.count as u64 != reflow.pairs {
                    return Err(TrainError::invalid(
                        "data",
                        format!("{} images", images.count),
                        format!("a reflow run of {} pairs trains on its pairs", reflow.pairs),
                    ));
                }
                let latent = family.latent_dim();
                Some(crate::reflow::pair_noise(
                    reflow,
                    config.seed,
                    latent,
                    device,
                )?)
            }
            None => None,
        };
        let data = images.to_tensor(config.scaling, device)?;
        let sampler = BatchSampler::new(
            images.count,
            config.batch_size,
            config.sampling,
            config.seed,
        );
        let grid = (config.grid[0] * config.grid[1]) as i64;
        let fixed_noise = DeviceRng::new(config.seed).normal(
            FIXED_NOISE_STREAM,
            &[grid, family.latent_dim()],
            device,
        )?;
        let fixed_labels = family.conditional().then(|| {
            let cols = config.grid[1] as i64;
            (Tensor::arange(grid, (tch::Kind::Int64, device)) / cols).remainder(gan_models::CLASSES)
        });
        Ok(Trainer {
            config: config.clone(),
            device,
            family,
            matmul,
            backprop,
            data,
            labels,
            sampler,
            paired_noise,
            fixed_noise,
            fixed_labels,
            held_out: None,
            steps_done: 0,
            sampling_fitted_at: Cell::new(None),
        })
    }

    /// Starts every part from the weights `source` samples with (a reflow run starts from
    /// the flow that drew its pairs); the optimizers start fresh.
    pub fn start_from(&mut self, source: &TrainedGenerator) -> Result<(), TrainError> {
        let sources = source.family().parts();
        for part in self.family.parts_mut() {
            let from = sources
                .iter()
                .find(|p| p.name() == part.name())
                .ok_or_else(|| TrainError::BadCheckpoint {
                    path: source.checkpoint.clone(),
                    why: format!("it has no part named {:?}", part.name()),
                })?;
            part.start_from(from, &source.checkpoint)?;
        }
        Ok(())
    }

    /// Keeps the first `eval_samples` images of `split` (MNIST's test set) to score a
    /// likelihood model at each evaluation; other families ignore it.
    pub fn set_held_out(&mut self, split: &Split) -> Result<(), TrainError> {
        if let Some(model) = self.family.likelihood_model() {
            self.held_out = Some(HeldOut::new(
                split,
                Some(self.config.eval_samples),
                model.binarized(),
                self.device,
            )?);
        }
        Ok(())
    }

    /// The held-out ELBO and log-likelihood estimate (the config's k), when the family is a
    /// likelihood model and held-out images were set.
    pub fn likelihood(&self) -> Result<Option<LikelihoodReport>, TrainError> {
        let (Some(model), Some(held_out)) = (self.family.likelihood_model(), &self.held_out) else {
            return Ok(None);
        };
        let seed = gan_data::rng::stream_seed(self.config.seed, LIKELIHOOD_STREAM);
        crate::likelihood::estimate(
            model,
            held_out,
            self.family.conditional(),
            model.eval_importance_samples(),
            seed,
        )
        .map(Some)
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// The kernel dense layers multiply with.
    pub fn matmul(&self) -> MatmulKernel {
        self.matmul
    }

    /// How the steps form gradients.
    pub fn backprop(&self) -> Backprop {
        self.backprop
    }

    /// What [`Trainer::step`] reports, in order.
    pub fn metrics(&self) -> &'static [Metric] {
        self.family.metrics()
    }

    /// Completed steps.
    pub fn steps_done(&self) -> u64 {
        self.steps_done
    }

    pub fn family(&self) -> &dyn Family {
        self.family.as_ref()
    }

    pub fn summaries(&self) -> Vec<Summary> {
        self.family.summaries()
    }

    /// One training step of the family on the next batch. Randomness is a function of
    /// (seed, step), so a resumed run draws what an uninterrupted one would.
    pub fn step(&mut self) -> Result<StepMetrics, TrainError> {
        let step = self.steps_done;
        let indices = self.sampler.indices(step, self.device)?;
        let images = self.data.f_index_select(0, &indices)?;
        let labels = match &self.labels {
            Some(all) => Some(all.f_index_select(0, &indices)?),
            None => None,
        };
        let noise = match &self.paired_noise {
            Some(all) => Some(all.f_index_select(0, &indices)?),
            None => None,
        };
        let values = self.family.step(&Batch {
            step,
            images,
            labels,
            noise,
        })?;
        self.steps_done += 1;
        for (metric, &value) in self.family.metrics().iter().zip(&values) {
            if !value.is_finite() {
                return Err(TrainError::NonFinite {
                    step: self.steps_done,
                    what: metric.label.to_owned(),
                    value,
                    checkpoint: None,
                });
            }
        }
        Ok(StepMetrics {
            step: self.steps_done,
            values,
        })
    }

    /// Fails naming the first tensor of any part that holds NaN or ±∞.
    pub fn check_parameters(&self) -> Result<(), TrainError> {
        for part in self.family.parts() {
            part.check_finite(self.steps_done)?;
        }
        Ok(())
    }

    /// `n` images in inference mode (EMA weights where kept), from noise seeded by `seed`;
    /// every class equally often for a conditional model, with the labels.
    pub fn generate(&self, n: usize, seed: u64) -> Result<Samples, TrainError> {
        self.fit_sampling()?;
        crate::inference::generate(
            self.family.as_ref(),
            &self.config,
            n,
            seed,
            self.device,
            SampleWeights::Ema,
            None,
        )
    }

    /// The images of the fixed noise, in inference mode (EMA weights where kept); for a
    /// conditional model, row `r` of the grid shows digit `r`.
    pub fn samples(&self) -> Result<Images, TrainError> {
        self.fit_sampling()?;
        let images = self.family.generate(
            &self.fixed_noise,
            self.fixed_labels.as_ref(),
            SampleWeights::Ema,
        );
        Ok(Images::from_tensor(&images, self.config.scaling)?)
    }

    /// Every tensor of the run by name: each part's weights, optimizer state and EMA (and
    /// what sampling fits to the data, brought up to date).
    pub fn state_tensors(&self) -> Result<Vec<(String, Tensor)>, TrainError> {
        self.family.sync_ema();
        self.fit_sampling()?;
        Ok(self
            .family
            .parts()
            .iter()
            .flat_map(|p| p.state_tensors())
            .collect())
    }

    /// Brings everything sampling derives from the weights up to date (an EMA's
    /// normalisation statistics, a fitted prior), as sampling and saving do on demand; for
    /// timing generation alone.
    pub fn prepare_sampling(&self) -> Result<(), TrainError> {
        self.family.sync_ema();
        self.fit_sampling()
    }

    /// Runs [`Family::fit_sampling`] on the training set unless it ran at this step.
    fn fit_sampling(&self) -> Result<(), TrainError> {
        if self.sampling_fitted_at.get() != Some(self.steps_done) {
            self.family.fit_sampling(&self.data, self.labels.as_ref())?;
            self.sampling_fitted_at.set(Some(self.steps_done));
        }
        Ok(())
    }

    /// The manifest of a checkpoint of the current state (file fields are filled on save).
    pub fn manifest(&self, elapsed_seconds: f64) -> Manifest {
        Manifest::new(
            self.steps_done,
            elapsed_seconds,
            self.family
                .parts()
                .iter()
                .map(|p| (p.name().to_owned(), p.manifest()))
                .collect(),
        )
    }

    /// Restores every part and the step counter from a checkpoint of this config.
    pub fn restore(&mut self, checkpoint: &Checkpoint) -> Result<(), TrainError> {
        let m = &checkpoint.manifest;
        if m.step > self.config.steps {
            return Err(TrainError::BeyondSteps {
                path: checkpoint.path.clone(),
                step: m.step,
                steps: self.config.steps,
            });
        }
        for part in self.family.parts_mut() {
            part.restore(checkpoint)?;
        }
        self.steps_done = m.step;
        self.sampling_fitted_at.set(None);
        Ok(())
    }
}

/// A Keras-style summary of each network of `config`'s model, built on the CPU.
pub fn model_summaries(config: &TrainConfig) -> Result<Vec<Summary>, TrainError> {
    Ok(build_family_here(config, Device::Cpu)?.summaries())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::{self, Silent};
    use crate::run_dir::RunDir;
    use crate::test_support::{mlp_generator, small_config, toy_data, toy_images};

    /// oneDNN and BLAS differ only in rounding: ten steps end at nearly the same losses, at a
    /// batch below and at one above where the weight gradients switch method; oneDNN runs
    /// repeat bit for bit. (On some CPUs the two give identical bits at these small shapes, so
    /// the kernel actually used is checked directly.)
    #[test]
    fn both_matmul_kernels_train_alike() {
        use gan_models::MatmulChoice;
        if MatmulChoice::Onednn.resolve(Device::Cpu).is_err() {
            eprintln!("skipped: this libtorch has no oneDNN");
            return;
        }
        for batch in [16, 128] {
            let losses = |matmul| {
                let mut c = small_config("mlp");
                c.batch_size = batch;
                c.matmul = matmul;
                let mut t = Trainer::new(&c, &toy_data(64)).unwrap();
                let mut last = None;
                for _ in 0..10 {
                    last = Some(t.step().unwrap());
                }
                let m = last.unwrap();
                (t.matmul(), (m.values[0], m.values[2]))
            };
            let (blas, onednn) = (losses(MatmulChoice::Blas), losses(MatmulChoice::Onednn));
            assert_eq!(
                onednn,
                losses(MatmulChoice::Onednn),
                "oneDNN runs must repeat exactly"
            );
            assert_eq!(
                (blas.0, onednn.0),
                (MatmulKernel::Blas, MatmulKernel::OneDnn)
            );
            let (blas, onednn) = (blas.1, onednn.1);
            for (a, b) in [(blas.0, onednn.0), (blas.1, onednn.1)] {
                assert!(
                    (a - b).abs() < 1e-3 * a.abs().max(1.0),
                    "batch {batch}: {blas:?} vs {onednn:?}"
                );
            }
        }
    }

    /// The fused passes form autograd's gradients up to rounding: ten steps of the MLP GANs
    /// (the tutorial's with inference-mode fakes and a sigmoid, `mlp` with an EMA, with D's
    /// two updates and with one joint update) end at nearly the same losses, and fused runs
    /// repeat bit for bit. A conditional GAN is no chain and trains through autograd
    /// whatever the choice.
    #[test]
    fn fused_and_autograd_gradients_train_alike() {
        use crate::backprop::Backprop;
        use crate::family::DiscriminatorUpdate;
        let cases = [
            ("tutorial", DiscriminatorUpdate::Separate),
            ("mlp", DiscriminatorUpdate::Separate),
            ("mlp", DiscriminatorUpdate::Joint),
        ];
        for (preset, update) in cases {
            let losses = |backprop| {
                let mut c = small_config(preset);
                crate::test_support::gan(&mut c).discriminator_update = update;
                c.backprop = backprop;
                let mut t = Trainer::new(&c, &toy_data(64)).unwrap();
                let mut last = None;
                for _ in 0..10 {
                    last = Some(t.step().unwrap());
                }
                (t.backprop(), last.unwrap().values)
            };
            let (fused, autograd) = (losses(Backprop::Fused), losses(Backprop::Autograd));
            assert_eq!(
                fused,
                losses(Backprop::Fused),
                "fused runs must repeat exactly"
            );
            assert_eq!((fused.0, autograd.0), (Backprop::Fused, Backprop::Autograd));
            for (a, b) in fused.1.iter().zip(&autograd.1) {
                assert!(
                    (a - b).abs() < 1e-3 * a.abs().max(1.0),
                    "{preset} {update:?}: {:?} vs {:?}",
                    fused.1,
                    autograd.1
                );
            }
        }
        let t = Trainer::new(&small_config("cgan"), &toy_data(64)).unwrap();
        assert_eq!(t.backprop(), Backprop::Autograd);
    }

    #[test]
    fn generator_learns_a_single_image() {
        // One image repeated: G should learn to draw it. Distance of its samples to it falls,
        // for the live weights and for their EMA.
        let mut c = small_config("mlp");
        c.steps = 300;
        // A faster rate than the preset's, so a few hundred steps suffice.
        c.model.set_learning_rate(2e-3);
        let one = toy_images(1);
        let mut data = toy_data(8);
        data.images.pixels = one.pixels.repeat(8);
        let mut t = Trainer::new(&c, &data).unwrap();
        let target = one.to_tensor(c.scaling, Device::Cpu).unwrap();
        let distance = |t: &Trainer, weights| {
            let s = t.family.generate(&t.fixed_noise, None, weights);
            (s - &target).abs().mean(tch::Kind::Float).double_value(&[])
        };
        let before = distance(&t, SampleWeights::Raw);
        for _ in 0..c.steps {
            t.step().unwrap();
        }
        for weights in [SampleWeights::Raw, SampleWeights::Ema] {
            let after = distance(&t, weights);
            assert!(
                after < 0.5 * before,
                "{weights:?}: mean |G(z) - x| went from {before:.3} to {after:.3}"
            );
        }
    }

    fn metric_rows(run: &RunDir) -> Vec<(u64, Vec<f64>)> {
        crate::metrics::read(&run.metrics_path())
            .unwrap()
            .rows
            .into_iter()
            .map(|r| (r.step, r.values))
            .collect()
    }

    /// For a preset without EMA (tutorial), one with it (mlp), a conditional one (cgan, here
    /// with a decaying learning rate), the convolutional ones (dcgan, here with spectral
    /// norm; wgan-gp with its penalty and five critic steps per G step) and VAEs (binarized, with a KL warm-up and a decay
    /// across the resume point; conditional, with an EMA): a run interrupted at step 20 and resumed in a
    /// fresh trainer ends with the same metrics and every tensor (weights, optimizer moments,
    /// EMA) equal to a straight run's.
    #[test]
    fn identical_runs_and_exact_resume() {
        for preset in [
            "tutorial",
            "mlp",
            "cgan",
            "dcgan",
            "wgan-gp",
            "vae-binarized",
            "cvae",
            "flow-mlp",
            "ddpm-conditional",
        ] {
            let mut config = small_config(if preset == "ddpm-conditional" {
                "flow-mlp"
            } else {
                preset
            });
            if preset == "ddpm-conditional" {
                // Noise prediction, DDPM's sampler (fresh noise per step) and guidance.
                use crate::family::diffusion::{process, sampler};
                let model = crate::test_support::diffusion(&mut config);
                model.objective = process::Objective::Noise {
                    schedule: process::Schedule::Cosine,
                    timesteps: 100,
                };
                model.prediction = process::Prediction::Noise;
                model.velocity_weight_cap = None;
                model.sampling.sampler = sampler::Sampler::Ddpm;
                model.sampling.guidance = 2.0;
                model.conditional = true;
                model.label_dropout = 0.2;
            }
            if preset == "dcgan" {
                // Spectral norm's power-iteration vectors must survive the resume too.
                if let gan_models::DiscriminatorConfig::Conv(d) =
                    &mut crate::test_support::gan(&mut config).discriminator
                {
                    d.spectral_norm = true;
                }
            }
            if preset == "cgan" {
                // A schedule that moves the rate before and after the resume point, and
                // reaches its floor after it.
                crate::test_support::gan(&mut config).lr_decay = Some(crate::schedule::LrDecay {
                    hold_steps: 10,
                    half_life_steps: 10,
                    min_factor: Some(0.3),
                });
            }
            if preset == "cvae" {
                let vae = crate::test_support::vae(&mut config);
                vae.ema = Some(crate::EmaConfig {
                    decay: 0.99,
                    warmup: true,
                    normalization: crate::EmaNormalization::Copy,
                });
                // Fitted at every grid and checkpoint, to the averaged encoder's codes.
                vae.prior = crate::family::PriorConfig::FittedMixture {
                    components: 3,
                    fit_images: 48,
                };
            }
            if preset == "vae-binarized" {
                let vae = crate::test_support::vae(&mut config);
                vae.kl_warmup_steps = 30;
                vae.lr_decay = Some(crate::schedule::LrDecay {
                    hold_steps: 10,
                    half_life_steps: 10,
                    min_factor: None,
                });
            }
            let data = toy_data(64);
            let dir = tempfile::tempdir().unwrap();

            let straight_dir = RunDir::create(&dir.path().join("straight"), &config).unwrap();
            let mut straight = Trainer::new(&config, &data).unwrap();
            run::train(&mut straight, &straight_dir, &mut Silent, 0.0, None).unwrap();

            let mut half = config.clone();
            half.steps = 20;
            let resumed_dir = RunDir::create(&dir.path().join("resumed"), &half).unwrap();
            let mut first = Trainer::new(&half, &data).unwrap();
            run::train(&mut first, &resumed_dir, &mut Silent, 0.0, None).unwrap();
            drop(first);
            resumed_dir.write_config(&config).unwrap();
            let mut second = Trainer::new(&config, &data).unwrap();
            let before = run::resume(
                &mut second,
                &resumed_dir,
                None,
                crate::metrics::UnreadableRows::Refuse,
            )
            .unwrap();
            assert_eq!(second.steps_done(), 20);
            run::train(&mut second, &resumed_dir, &mut Silent, before, None).unwrap();

            assert_eq!(metric_rows(&straight_dir).len(), 40);
            assert_eq!(metric_rows(&straight_dir), metric_rows(&resumed_dir));
            let (a, b) = (
                straight.state_tensors().unwrap(),
                second.state_tensors().unwrap(),
            );
            assert_eq!(a.len(), b.len());
            for (a, b) in a.iter().zip(&b) {
                assert_eq!(a.0, b.0);
                assert!(a.1.equal(&b.1), "{preset}: {} differs after resume", a.0);
            }
            let ema_tensors = a
                .iter()
                .filter(|(n, _)| n.starts_with("generator_ema."))
                .count();
            let manifest = straight.manifest(0.0);
            if preset.contains("flow") || preset.contains("ddpm") {
                assert_eq!(manifest.parts["denoiser"].optimizer_steps, 40);
                assert!(a.iter().any(|(n, _)| n.starts_with("denoiser_ema.")));
            } else if preset.contains("vae") {
                assert_eq!(manifest.parts["vae"].optimizer_steps, 40);
                let averaged = a.iter().any(|(n, _)| n.starts_with("vae_ema.decoder."));
                assert_eq!(averaged, preset == "cvae", "{preset}");
            } else {
                assert_eq!(ema_tensors > 0, preset != "tutorial", "{preset}");
                let (g_steps, d_steps) = match preset {
                    "dcgan" => (40, 40),  // one joint D step per step
                    "wgan-gp" => (8, 40), // G every fifth step
                    _ => (40, 80),        // two D steps per step
                };
                assert_eq!(manifest.parts["generator"].optimizer_steps, g_steps);
                assert_eq!(manifest.parts["discriminator"].optimizer_steps, d_steps);
                if preset == "dcgan" {
                    assert!(a.iter().any(|(n, _)| n == "discriminator.conv2.weight_u"));
                }
            }
            assert_eq!(manifest, second.manifest(0.0));

            // And a second straight run is identical to the first.
            let again_dir = RunDir::create(&dir.path().join("again"), &config).unwrap();
            let mut again = Trainer::new(&config, &data).unwrap();
            run::train(&mut again, &again_dir, &mut Silent, 0.0, None).unwrap();
            assert_eq!(metric_rows(&straight_dir), metric_rows(&again_dir));
        }
    }

    /// A time budget stops after the step that crosses it, with a checkpoint and a grid, and
    /// the run resumes from there.
    #[test]
    fn minutes_budget_stops_with_a_checkpoint() {
        let mut config = small_config("mlp");
        config.steps = 1_000_000;
        config.minutes = Some(1e-9);
        let data = toy_data(32);
        let dir = tempfile::tempdir().unwrap();
        let run_dir = RunDir::create(dir.path(), &config).unwrap();
        let mut t = Trainer::new(&config, &data).unwrap();
        struct Grids(Vec<u64>);
        impl run::TrainObserver for Grids {
            fn on_sample(
                &mut self,
                step: u64,
                _grid: &Images,
                _metrics: &std::path::Path,
            ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
                self.0.push(step);
                Ok(())
            }
        }
        let mut grids = Grids(Vec::new());
        let outcome = run::train(&mut t, &run_dir, &mut grids, 0.0, None).unwrap();
        assert!(outcome.out_of_time && !outcome.interrupted);
        assert_eq!(outcome.steps_done, 1);
        assert_eq!(grids.0, [0, 1]);
        let checkpoint = outcome.checkpoint.unwrap();
        assert!(checkpoint.ends_with("step-00000001.toml"), "{checkpoint:?}");

        let mut more = config.clone();
        more.minutes = None;
        more.steps = 3;
        let mut resumed = Trainer::new(&more, &data).unwrap();
        let before = run::resume(
            &mut resumed,
            &run_dir,
            None,
            crate::metrics::UnreadableRows::Refuse,
        )
        .unwrap();
        let outcome = run::train(&mut resumed, &run_dir, &mut Silent, before, None).unwrap();
        assert_eq!((outcome.steps_done, outcome.out_of_time), (3, false));
        assert_eq!(metric_rows(&run_dir).len(), 3);
    }

    #[test]
    fn checkpoint_of_another_config_is_refused_with_the_tensor() {
        let config = small_config("tutorial");
        let data = toy_data(16);
        let dir = tempfile::tempdir().unwrap();
        let run_dir = RunDir::create(dir.path(), &config).unwrap();
        let mut t = Trainer::new(&config, &data).unwrap();
        let mut short = config.clone();
        short.steps = 1;
        let mut t1 = Trainer::new(&short, &data).unwrap();
        run::train(&mut t1, &run_dir, &mut Silent, 0.0, None).unwrap();
        let mut wider = config.clone();
        mlp_generator(&mut wider).hidden = vec![24, 32];
        let mut other = Trainer::new(&wider, &data).unwrap();
        let err = run::resume(
            &mut other,
            &run_dir,
            None,
            crate::metrics::UnreadableRows::Refuse,
        )
        .unwrap_err()
        .to_string();
        // Variables are checked in name order: bn1.bias is the first whose shape differs.
        assert!(
            err.contains("tensor generator.bn1.bias has shape [16]"),
            "{err}"
        );
        // A config with an EMA cannot take a checkpoint without one.
        let mut with_ema = config.clone();
        let mut mlp = small_config("mlp");
        crate::test_support::gan(&mut with_ema).generator_ema =
            crate::test_support::gan(&mut mlp).generator_ema;
        let mut other = Trainer::new(&with_ema, &data).unwrap();
        let err = run::resume(
            &mut other,
            &run_dir,
            None,
            crate::metrics::UnreadableRows::Refuse,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("no EMA of generator"), "{err}");
        run::resume(
            &mut t,
            &run_dir,
            None,
            crate::metrics::UnreadableRows::Refuse,
        )
        .unwrap();
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// A checkpoint whose tensor file has bytes replaced (and its checksum updated, so the
        /// parser itself is exercised) loads and restores to `Ok` or a typed error, never a
        /// panic or a libtorch abort.
        #[test]
        fn mutated_checkpoints_never_panic(
            edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), proptest::prelude::any::<u8>()), 1..6),
            in_header in proptest::prelude::any::<bool>(),
            cut in proptest::option::of(proptest::prelude::any::<proptest::sample::Index>()),
        ) {
            use sha2::Digest;
            let mut config = small_config("tutorial");
            config.steps = 2;
            config.checkpoint_every = 2;
            let data = toy_data(16);
            let dir = tempfile::tempdir().unwrap();
            let run_dir = RunDir::create(dir.path(), &config).unwrap();
            let mut t = Trainer::new(&config, &data).unwrap();
            run::train(&mut t, &run_dir, &mut Silent, 0.0, None).unwrap();
            let manifest = run_dir.checkpoints_dir().join("step-00000002.toml");
            let tensors = manifest.with_extension("safetensors");
            let mut bytes = std::fs::read(&tensors).unwrap();
            let header_len = 8 + u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
            for (at, byte) in edits {
                let i = if in_header { at.index(header_len) } else { at.index(bytes.len()) };
                bytes[i] = byte;
            }
            if let Some(cut) = cut {
                bytes.truncate(cut.index(bytes.len()));
            }
            std::fs::write(&tensors, &bytes).unwrap();
            let sha: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
            let text = std::fs::read_to_string(&manifest).unwrap();
            let old = text.lines().find(|l| l.starts_with("sha256")).unwrap().to_owned();
            std::fs::write(&manifest, text.replace(&old, &format!("sha256 = \"{sha}\""))).unwrap();
            if let Ok(checkpoint) = crate::checkpoint::load(&manifest) {
                let mut fresh = Trainer::new(&config, &data).unwrap();
                let _ = fresh.restore(&checkpoint);
            }
        }
    }

    /// A conditional model trains on the data's labels: a run on toy digits labelled by
    /// position differs from the same run with the labels shuffled, its grid shows digit `r`
    /// in row `r`, and its evaluation samples come with balanced labels.
    #[test]
    fn conditional_runs_use_labels_and_grid_rows_are_digits() {
        let config = small_config("cgan");
        let data = toy_data(40);
        let mut shuffled = data.clone();
        shuffled.labels.reverse();
        let losses = |data: &Split| {
            let mut t = Trainer::new(&config, data).unwrap();
            (0..5).map(|_| t.step().unwrap().values).last().unwrap()
        };
        assert_ne!(losses(&data), losses(&shuffled));

        let t = Trainer::new(&config, &data).unwrap();
        let rows: Vec<i64> = Vec::try_from(t.fixed_labels.as_ref().unwrap()).unwrap();
        assert_eq!(rows.len(), 100);
        assert!(rows.iter().enumerate().all(|(i, &d)| d == (i / 10) as i64));
        let samples = t.generate(25, 0).unwrap();
        let labels = samples.labels.unwrap();
        assert_eq!(samples.images.count, 25);
        assert_eq!(&labels[..12], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);

        let mut unlabelled = data.clone();
        unlabelled.labels.truncate(3);
        let err = Trainer::new(&config, &unlabelled)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("40 images with 3 labels"), "{err}");
        let plain = Trainer::new(&small_config("mlp"), &unlabelled).unwrap();
        assert!(plain.fixed_labels.is_none() && plain.generate(4, 0).unwrap().labels.is_none());
        let err = crate::inference::generate(
            plain.family(),
            plain.config(),
            4,
            0,
            Device::Cpu,
            SampleWeights::Ema,
            Some(crate::inference::Digits::Only(3)),
        )
        .unwrap_err();
        assert!(matches!(err, TrainError::NotConditional), "{err}");
    }

    /// G and D must agree on conditioning.
    #[test]
    fn half_conditional_gan_is_refused() {
        let mut config = small_config("cgan");
        crate::test_support::mlp_discriminator(&mut config).conditional = false;
        let err = config.validate().unwrap_err().to_string();
        assert!(err.contains("discriminator.conditional"), "{err}");
    }

    #[test]
    fn wrong_image_size_is_refused() {
        let mut data = toy_data(4);
        data.images.rows = 14;
        data.images.cols = 56;
        let err = Trainer::new(&small_config("mlp"), &data)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("14×56"), "{err}");
    }
}
