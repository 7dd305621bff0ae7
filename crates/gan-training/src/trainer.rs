//! One GAN training step, exactly as the tutorial's loop does it, and the state around it.

use gan_data::rng::stream_seed;
use gan_data::{BatchSampler, DeviceRng, Images};
use gan_models::weights::{assign, named_tensors};
use gan_models::{Discriminator, Generator, Tape};
use tch::nn::{ModuleT, VarStore};
use tch::{Device, Kind, Tensor};

use crate::adam::Adam;
use crate::checkpoint::{Checkpoint, Manifest};
use crate::config::{FakeMode, TrainConfig};
use crate::error::TrainError;
use crate::loss::{accuracy, bce_with_logits};

/// Losses and accuracy of one step, as the tutorial prints them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepMetrics {
    /// Completed steps, counting this one (1-based).
    pub step: u64,
    /// Mean of D's loss on the real and on the fake batch.
    pub d_loss: f64,
    /// D's accuracy over both batches (threshold 0.5).
    pub d_acc: f64,
    pub g_loss: f64,
}

/// Random streams of a run's seed. Step `s` draws its noise from stream `s`; these sit far
/// above any step.
const FIXED_NOISE_STREAM: u64 = u64::MAX;
const GENERATOR_INIT_STREAM: u64 = u64::MAX - 1;
const DISCRIMINATOR_INIT_STREAM: u64 = u64::MAX - 2;

/// Generator, discriminator, their optimizers and the data, on one device.
pub struct Trainer {
    config: TrainConfig,
    device: Device,
    generator: Generator,
    g_vs: VarStore,
    discriminator: Discriminator,
    d_vs: VarStore,
    g_adam: Adam,
    d_adam: Adam,
    /// The parameters each optimizer updates, by var-store name, in its order.
    g_params: Vec<(String, Tensor)>,
    d_params: Vec<(String, Tensor)>,
    data: Tensor,
    sampler: BatchSampler,
    rng: DeviceRng,
    fixed_noise: Tensor,
    real_labels: Tensor,
    fake_labels: Tensor,
    steps_done: u64,
}

impl Trainer {
    /// Builds fresh networks (seeded by `config.seed`) and moves `images` to the device once.
    pub fn new(config: &TrainConfig, images: &Images) -> Result<Trainer, TrainError> {
        config.validate()?;
        let [channels, rows, cols] = config.generator.image_shape;
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
        let kernel = config.matmul.resolve(device)?;
        let g_vs = VarStore::new(device);
        let mut generator = Generator::new(
            &g_vs.root(),
            &config.generator,
            stream_seed(config.seed, GENERATOR_INIT_STREAM),
        )?;
        let d_vs = VarStore::new(device);
        let mut discriminator = Discriminator::new(
            &d_vs.root(),
            &config.discriminator,
            stream_seed(config.seed, DISCRIMINATOR_INIT_STREAM),
        )?;
        generator.set_matmul(kernel);
        discriminator.set_matmul(kernel);
        let g_adam = Adam::new(&g_vs, config.adam);
        let d_adam = Adam::new(&d_vs, config.adam);
        let data = images.to_tensor(config.scaling, device)?;
        let sampler = BatchSampler::new(
            images.count,
            config.batch_size,
            config.sampling,
            config.seed,
        );
        let rng = DeviceRng::new(config.seed);
        let grid = (config.grid[0] * config.grid[1]) as i64;
        let fixed_noise = rng.normal(
            FIXED_NOISE_STREAM,
            &[grid, config.generator.latent_dim],
            device,
        )?;
        let labels_shape = [config.batch_size as i64, 1];
        Ok(Trainer {
            g_params: g_adam.named_parameters(),
            d_params: d_adam.named_parameters(),
            config: config.clone(),
            device,
            generator,
            g_vs,
            discriminator,
            d_vs,
            g_adam,
            d_adam,
            data,
            sampler,
            rng,
            fixed_noise,
            real_labels: Tensor::ones(labels_shape, (Kind::Float, device)),
            fake_labels: Tensor::zeros(labels_shape, (Kind::Float, device)),
            steps_done: 0,
        })
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    pub fn device(&self) -> Device {
        self.device
    }

    /// The kernel both networks multiply with.
    pub fn matmul(&self) -> gan_models::MatmulKernel {
        self.generator.matmul()
    }

    /// Completed steps.
    pub fn steps_done(&self) -> u64 {
        self.steps_done
    }

    pub fn generator(&self) -> &Generator {
        &self.generator
    }

    pub fn generator_vars(&self) -> &VarStore {
        &self.g_vs
    }

    pub fn discriminator_vars(&self) -> &VarStore {
        &self.d_vs
    }

    /// One iteration of the tutorial's loop:
    /// 1. a real batch (sampled with replacement) and a fake batch from G without gradients;
    /// 2. a D update on the real batch with label 1, then a second D update on the fake batch
    ///    with label 0 (two optimizer steps, as two `train_on_batch` calls are);
    /// 3. a G update on fresh noise through D with label 1; only G's parameters change.
    pub fn step(&mut self) -> Result<StepMetrics, TrainError> {
        let step = self.steps_done;
        // Randomness is a function of (seed, step), so a resumed run draws what an
        // uninterrupted one would.
        let (batch, latent) = (
            self.config.batch_size as i64,
            self.config.generator.latent_dim,
        );
        let real = self.sampler.batch(step, &self.data)?;
        // Both noise batches of the step in one draw: [0] for the fakes, [1] for the G update.
        let noise = self.rng.normal(step, &[2, batch, latent], self.device)?;
        let fake_in_training_mode = self.config.fake_mode == FakeMode::Training;
        let fake = tch::no_grad(|| {
            self.generator
                .forward_t(&noise.get(0), fake_in_training_mode)
        });

        let (d_loss_real, d_acc_real) = self.update_discriminator(&real, true);
        let (d_loss_fake, d_acc_fake) = self.update_discriminator(&fake, false);
        let g_loss = self.update_generator(&noise.get(1));

        self.steps_done += 1;
        let metrics = StepMetrics {
            step: self.steps_done,
            d_loss: 0.5 * (d_loss_real.double_value(&[]) + d_loss_fake.double_value(&[])),
            d_acc: 0.5 * (d_acc_real.double_value(&[]) + d_acc_fake.double_value(&[])),
            g_loss: g_loss.double_value(&[]),
        };
        for (what, value) in [("D loss", metrics.d_loss), ("G loss", metrics.g_loss)] {
            if !value.is_finite() {
                return Err(TrainError::NonFinite {
                    step: metrics.step,
                    what: what.to_owned(),
                    value,
                });
            }
        }
        Ok(metrics)
    }

    /// One Adam step of D on `images` labelled real (1) or fake (0); returns loss and accuracy
    /// measured before the update, as Keras' `train_on_batch` reports them.
    fn update_discriminator(&mut self, images: &Tensor, real: bool) -> (Tensor, Tensor) {
        let labels = if real {
            &self.real_labels
        } else {
            &self.fake_labels
        };
        let tape = Tape::new();
        let logits = self.discriminator.forward_taped(images, &tape);
        let loss = bce_with_logits(&logits, labels);
        let acc = accuracy(&logits.detach(), labels);
        let grads = tape.gradients(&loss, &self.d_params);
        self.d_adam.step(&grads);
        (loss, acc)
    }

    /// One Adam step of G through D with "real" labels. Gradients are taken with respect to
    /// G's parameters only (D is off the tape), so D stays untouched (the tutorial's frozen D).
    fn update_generator(&mut self, noise: &Tensor) -> Tensor {
        let tape = Tape::new();
        let logits = self
            .discriminator
            .forward_t(&self.generator.forward_taped(noise, true, &tape), true);
        let loss = bce_with_logits(&logits, &self.real_labels);
        let grads = tape.gradients(&loss, &self.g_params);
        self.g_adam.step(&grads);
        loss
    }

    /// Fails naming the first parameter (or running statistic) that holds NaN or ±∞.
    pub fn check_parameters(&self) -> Result<(), TrainError> {
        for (prefix, vs) in [("generator.", &self.g_vs), ("discriminator.", &self.d_vs)] {
            for (name, t) in named_tensors(vs, prefix) {
                if t.isfinite().all().int64_value(&[]) == 0 {
                    let value = if t.isnan().any().int64_value(&[]) != 0 {
                        f64::NAN
                    } else {
                        f64::INFINITY
                    };
                    return Err(TrainError::NonFinite {
                        step: self.steps_done,
                        what: format!("parameter {name}"),
                        value,
                    });
                }
            }
        }
        Ok(())
    }

    /// `n` images from G in inference mode, from noise seeded by `seed`.
    pub fn generate(&self, n: usize, seed: u64) -> Result<Images, TrainError> {
        crate::inference::generate(&self.generator, &self.config, n, seed, self.device)
    }

    /// G's images for the fixed noise, in inference mode (as the tutorial's `predict`).
    pub fn samples(&self) -> Result<Images, TrainError> {
        let images = tch::no_grad(|| self.generator.forward_t(&self.fixed_noise, false));
        Ok(Images::from_tensor(&images, self.config.scaling)?)
    }

    /// Every tensor of the run by name: both networks and both optimizers' moments.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut all = named_tensors(&self.g_vs, "generator.");
        all.extend(named_tensors(&self.d_vs, "discriminator."));
        all.extend(self.g_adam.state("generator_adam.").0);
        all.extend(self.d_adam.state("discriminator_adam.").0);
        all
    }

    /// The manifest of a checkpoint of the current state (file fields are filled on save).
    pub fn manifest(&self, elapsed_seconds: f64) -> Manifest {
        Manifest {
            format: 0,
            step: self.steps_done,
            generator_adam_steps: self.g_adam.steps_taken(),
            discriminator_adam_steps: self.d_adam.steps_taken(),
            elapsed_seconds,
            tensors: String::new(),
            sha256: String::new(),
            frechet_distance: None,
        }
    }

    /// Restores networks, optimizers and the step counter from a checkpoint of this config.
    pub fn restore(&mut self, checkpoint: &Checkpoint) -> Result<(), TrainError> {
        let path = &checkpoint.path;
        let m = &checkpoint.manifest;
        if m.step > self.config.steps {
            return Err(TrainError::BadCheckpoint {
                path: path.clone(),
                why: format!(
                    "it is at step {}, beyond the configured {} steps",
                    m.step, self.config.steps
                ),
            });
        }
        assign(&self.g_vs, &checkpoint.tensors, "generator.", path)?;
        assign(&self.d_vs, &checkpoint.tensors, "discriminator.", path)?;
        self.g_adam.load_state(
            &checkpoint.tensors,
            "generator_adam.",
            m.generator_adam_steps,
            path,
        )?;
        self.d_adam.load_state(
            &checkpoint.tensors,
            "discriminator_adam.",
            m.discriminator_adam_steps,
            path,
        )?;
        self.steps_done = m.step;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{DeviceChoice, Preset};
    use crate::run::{self, Silent};
    use crate::run_dir::RunDir;

    /// The tutorial's structure at a tenth of the width, for fast tests.
    pub(crate) fn small_config(preset: Preset) -> TrainConfig {
        let mut c = TrainConfig::preset(preset);
        c.generator.hidden = vec![16, 32];
        c.discriminator.hidden = vec![32, 16];
        c.batch_size = 16;
        c.steps = 40;
        c.sample_every = 10;
        c.checkpoint_every = 20;
        c.device = DeviceChoice::Cpu;
        c.threads = 1;
        c
    }

    /// Digits-like blobs: bright squares at a few positions.
    pub(crate) fn toy_images(count: usize) -> Images {
        let mut pixels = vec![0u8; count * 784];
        for i in 0..count {
            let (r0, c0) = (4 + (i % 3) * 6, 4 + (i % 4) * 5);
            for r in r0..r0 + 8 {
                for c in c0..c0 + 8 {
                    pixels[i * 784 + r * 28 + c] = 255;
                }
            }
        }
        Images {
            count,
            rows: 28,
            cols: 28,
            pixels,
        }
    }

    fn snapshot(vs: &VarStore) -> Vec<(String, Tensor)> {
        named_tensors(vs, "")
            .into_iter()
            .map(|(n, t)| (n, t.copy()))
            .collect()
    }

    fn changed(before: &[(String, Tensor)], vs: &VarStore) -> Vec<String> {
        let now = vs.variables();
        before
            .iter()
            .filter(|(n, t)| !now[n].equal(t))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// oneDNN and BLAS differ only in rounding: ten steps end at nearly the same losses, at a
    /// batch below and at one above where the weight gradients switch method; oneDNN runs
    /// repeat bit for bit.
    #[test]
    fn both_matmul_kernels_train_alike() {
        use gan_models::MatmulChoice;
        if MatmulChoice::Onednn.resolve(Device::Cpu).is_err() {
            eprintln!("skipped: this libtorch has no oneDNN");
            return;
        }
        for batch in [16, 128] {
            let losses = |matmul| {
                let mut c = small_config(Preset::Mlp);
                c.batch_size = batch;
                c.matmul = matmul;
                let mut t = Trainer::new(&c, &toy_images(64)).unwrap();
                let mut last = None;
                for _ in 0..10 {
                    last = Some(t.step().unwrap());
                }
                let m = last.unwrap();
                (m.d_loss, m.g_loss)
            };
            let (blas, onednn) = (losses(MatmulChoice::Blas), losses(MatmulChoice::Onednn));
            assert_eq!(
                onednn,
                losses(MatmulChoice::Onednn),
                "oneDNN runs must repeat exactly"
            );
            assert_ne!(blas, onednn, "the kernels were not both used");
            for (a, b) in [(blas.0, onednn.0), (blas.1, onednn.1)] {
                assert!(
                    (a - b).abs() < 1e-3 * a.abs().max(1.0),
                    "batch {batch}: {blas:?} vs {onednn:?}"
                );
            }
        }
    }

    #[test]
    fn d_update_changes_only_d_and_g_update_changes_only_g() {
        let mut t = Trainer::new(&small_config(Preset::Tutorial), &toy_images(32)).unwrap();
        let (g0, d0) = (snapshot(&t.g_vs), snapshot(&t.d_vs));
        let real = t.data.narrow(0, 0, 16);
        let _ = t.update_discriminator(&real, true);
        assert!(changed(&g0, &t.g_vs).is_empty(), "D step touched G");
        assert_eq!(
            changed(&d0, &t.d_vs).len(),
            d0.len(),
            "D step must move every D parameter"
        );

        let (g1, d1) = (snapshot(&t.g_vs), snapshot(&t.d_vs));
        let noise = Tensor::randn([16, 100], (Kind::Float, Device::Cpu));
        let _ = t.update_generator(&noise);
        assert!(changed(&d1, &t.d_vs).is_empty(), "G step touched D");
        let moved = changed(&g1, &t.g_vs);
        assert!(
            moved.iter().any(|n| n == "fc1.weight")
                && moved.iter().any(|n| n == "bn1.running_mean")
        );
    }

    #[test]
    fn generator_learns_a_single_image() {
        // One image repeated: G should learn to draw it. Distance of its samples to it falls.
        let mut c = small_config(Preset::Mlp);
        c.steps = 300;
        // A faster rate than the preset's, so a few hundred steps suffice.
        c.adam.lr = 2e-3;
        let one = toy_images(1);
        let mut data = one.clone();
        data.count = 8;
        data.pixels = one.pixels.repeat(8);
        let mut t = Trainer::new(&c, &data).unwrap();
        let target = one.to_tensor(c.scaling, Device::Cpu).unwrap();
        let distance = |t: &Trainer| {
            let s = tch::no_grad(|| t.generator.forward_t(&t.fixed_noise, false));
            (s - &target).abs().mean(Kind::Float).double_value(&[])
        };
        let before = distance(&t);
        for _ in 0..c.steps {
            t.step().unwrap();
        }
        let after = distance(&t);
        assert!(
            after < 0.5 * before,
            "mean |G(z) - x| went from {before:.3} to {after:.3}"
        );
    }

    #[test]
    fn identical_runs_and_exact_resume() {
        let config = small_config(Preset::Tutorial);
        let data = toy_images(64);
        let dir = tempfile::tempdir().unwrap();

        let straight_dir = RunDir::create(&dir.path().join("straight"), &config).unwrap();
        let mut straight = Trainer::new(&config, &data).unwrap();
        run::train(&mut straight, &straight_dir, &mut Silent, 0.0, None).unwrap();

        // 20 steps, then a fresh process-like start that resumes from the step-20 checkpoint.
        let mut half = config.clone();
        half.steps = 20;
        let resumed_dir = RunDir::create(&dir.path().join("resumed"), &half).unwrap();
        let mut first = Trainer::new(&half, &data).unwrap();
        run::train(&mut first, &resumed_dir, &mut Silent, 0.0, None).unwrap();
        drop(first);
        resumed_dir.write_config(&config).unwrap();
        let mut second = Trainer::new(&config, &data).unwrap();
        let before = run::resume(&mut second, &resumed_dir).unwrap();
        assert_eq!(second.steps_done(), 20);
        run::train(&mut second, &resumed_dir, &mut Silent, before, None).unwrap();

        let metrics = |run: &RunDir| -> Vec<[f64; 4]> {
            crate::metrics::read(&run.metrics_path())
                .unwrap()
                .iter()
                .map(|r| [r.step as f64, r.d_loss, r.d_acc, r.g_loss])
                .collect()
        };
        assert_eq!(metrics(&straight_dir).len(), 40);
        assert_eq!(metrics(&straight_dir), metrics(&resumed_dir));
        for (a, b) in straight.state_tensors().iter().zip(second.state_tensors()) {
            assert_eq!(a.0, b.0);
            assert!(a.1.equal(&b.1), "{} differs after resume", a.0);
        }
        assert_eq!(straight.g_adam.steps_taken(), 40);
        assert_eq!(straight.d_adam.steps_taken(), 80);

        // And a second straight run is identical to the first.
        let again_dir = RunDir::create(&dir.path().join("again"), &config).unwrap();
        let mut again = Trainer::new(&config, &data).unwrap();
        run::train(&mut again, &again_dir, &mut Silent, 0.0, None).unwrap();
        assert_eq!(metrics(&straight_dir), metrics(&again_dir));
    }

    #[test]
    fn checkpoint_of_another_config_is_refused_with_the_tensor() {
        let config = small_config(Preset::Tutorial);
        let data = toy_images(16);
        let dir = tempfile::tempdir().unwrap();
        let run_dir = RunDir::create(dir.path(), &config).unwrap();
        let mut t = Trainer::new(&config, &data).unwrap();
        let mut short = config.clone();
        short.steps = 1;
        let mut t1 = Trainer::new(&short, &data).unwrap();
        run::train(&mut t1, &run_dir, &mut Silent, 0.0, None).unwrap();
        let mut wider = config.clone();
        wider.generator.hidden = vec![24, 32];
        let mut other = Trainer::new(&wider, &data).unwrap();
        let err = run::resume(&mut other, &run_dir).unwrap_err().to_string();
        // Variables are checked in name order: bn1.bias is the first whose shape differs.
        assert!(
            err.contains("tensor generator.bn1.bias has shape [16]"),
            "{err}"
        );
        run::resume(&mut t, &run_dir).unwrap();
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
            let mut config = small_config(Preset::Tutorial);
            config.steps = 2;
            config.checkpoint_every = 2;
            let data = toy_images(16);
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

    #[test]
    fn wrong_image_size_is_refused() {
        let mut data = toy_images(4);
        data.rows = 14;
        data.cols = 56;
        let err = Trainer::new(&small_config(Preset::Mlp), &data)
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("14×56"), "{err}");
    }
}
