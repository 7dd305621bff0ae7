//! The forward process: how an image is noised to a level `t`, and what the denoiser is
//! trained to predict there.
//!
//! - **Noise prediction** (DDPM, Ho et al. 2020): `T` discrete steps with `ᾱ_i` falling from
//!   about 1 to about 0 (a linear schedule of `β`, or Nichol & Dhariwal's cosine one);
//!   `x_i = √ᾱ_i·x₀ + √(1 − ᾱ_i)·ε`, and the network predicts `ε`.
//! - **Flow matching** on straight paths (Lipman et al. 2023; Liu et al.'s rectified flow):
//!   `x_t = (1 − t)·x₀ + t·ε` for `t` in [0, 1] (data at 0, noise at 1), and the network
//!   predicts the velocity `ε − x₀`; `t` is drawn uniformly or logit-normally (Esser et al.
//!   2024), which trains the middle of the path, where the prediction is hardest, more.

use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};

use crate::error::TrainError;

/// What the denoiser learns, with its settings; tagged by `kind` in TOML.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Objective {
    /// DDPM: predict the noise of `timesteps` discrete steps on `schedule`.
    Noise { schedule: Schedule, timesteps: u32 },
    /// Flow matching on straight paths: predict the velocity.
    Flow { time_sampling: TimeSampling },
}

/// How `β` (the noise added per step) grows with the step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Schedule {
    /// `β` from 1e-4 to 0.02 evenly (Ho et al.'s, for T = 1000).
    Linear,
    /// `ᾱ` following a squared cosine (Nichol & Dhariwal 2021), `β` capped at 0.999.
    Cosine,
}

/// How a flow's training draws `t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TimeSampling {
    Uniform,
    /// `t = σ(n)` for a standard normal `n`.
    LogitNormal,
}

/// What the network outputs; the loss is its squared error. The sampler's quantity (a
/// flow's velocity, DDPM's noise) is derived from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Prediction {
    /// A flow's velocity `ε − x₀`, as the sampler uses it.
    Velocity,
    /// DDPM's noise `ε`, as the sampler uses it.
    Noise,
    /// The clean image `x₀`; the velocity is then `(x_t − x̂₀)/t` and the noise
    /// `(x_t − √ᾱ·x̂₀)/√(1 − ᾱ)`. Both are mostly `x_t` itself, scaled, which the formula
    /// passes through exactly where a network would have to learn the identity (and a
    /// pixel MLP leaves residual noise when it cannot).
    Data,
}

impl Prediction {
    pub fn validate(&self, objective: &Objective) -> Result<(), TrainError> {
        match (objective, self) {
            (_, Prediction::Data)
            | (Objective::Flow { .. }, Prediction::Velocity)
            | (Objective::Noise { .. }, Prediction::Noise) => Ok(()),
            (Objective::Flow { .. }, _) => Err(TrainError::invalid(
                "prediction",
                "noise",
                "a flow predicts velocity or data",
            )),
            (Objective::Noise { .. }, _) => Err(TrainError::invalid(
                "prediction",
                "velocity",
                "noise prediction predicts noise or data",
            )),
        }
    }
}

/// The smallest `t` a data prediction's velocity divides by.
const MIN_FLOW_TIME: f64 = 1e-3;

impl Objective {
    pub fn validate(&self) -> Result<(), TrainError> {
        match *self {
            Objective::Noise { timesteps, .. } if !(2..=100_000).contains(&timesteps) => Err(
                TrainError::invalid("objective.timesteps", timesteps, "must be in 2..=100000"),
            ),
            _ => Ok(()),
        }
    }
}

/// `ᾱ_i` for `i` in `0..timesteps` (step `i + 1` of the paper's numbering).
pub fn alpha_bars(schedule: Schedule, timesteps: u32) -> Vec<f64> {
    let steps = f64::from(timesteps);
    match schedule {
        Schedule::Linear => {
            // Ho et al.'s ends for T = 1000, scaled so other T give the same curve.
            let scale = 1_000.0 / steps;
            let (first, last) = (scale * 1e-4, (scale * 0.02).min(0.999));
            let mut product = 1.0;
            (0..timesteps)
                .map(|i| {
                    let beta = first + (last - first) * f64::from(i) / (steps - 1.0);
                    product *= 1.0 - beta;
                    product
                })
                .collect()
        }
        Schedule::Cosine => {
            let s = 0.008;
            let f = |i: f64| {
                ((i / steps + s) / (1.0 + s) * std::f64::consts::FRAC_PI_2)
                    .cos()
                    .powi(2)
            };
            let mut product = 1.0;
            (1..=timesteps)
                .map(|i| {
                    let i = f64::from(i);
                    let beta = (1.0 - f(i) / f(i - 1.0)).min(0.999);
                    product *= 1.0 - beta;
                    product
                })
                .collect()
        }
    }
}

/// The forward process of an [`Objective`], its schedule in a tensor on the device.
#[derive(Debug)]
pub enum Process {
    Noise {
        alpha_bars: Vec<f64>,
        on_device: Tensor,
    },
    Flow {
        time_sampling: TimeSampling,
    },
}

/// A training example: the noised images, the level the network is told, and its target.
#[derive(Debug)]
pub struct Noised {
    pub images: Tensor,
    /// `(N,)` in [0, 1].
    pub t: Tensor,
    pub target: Tensor,
}

impl Process {
    pub fn new(objective: Objective, device: Device) -> Process {
        match objective {
            Objective::Noise {
                schedule,
                timesteps,
            } => {
                let alpha_bars = alpha_bars(schedule, timesteps);
                let on_device = Tensor::from_slice(&alpha_bars)
                    .to_kind(Kind::Float)
                    .to_device(device);
                Process::Noise {
                    alpha_bars,
                    on_device,
                }
            }
            Objective::Flow { time_sampling } => Process::Flow { time_sampling },
        }
    }

    /// Whether the draws `noise_level` takes are normal (else uniform in [0, 1)).
    pub fn draws_normal(&self) -> bool {
        matches!(
            self,
            Process::Flow {
                time_sampling: TimeSampling::LogitNormal
            }
        )
    }

    /// `images` `x₀` noised with `noise` `ε` at the level each row's `draw` picks (`(N,)`,
    /// uniform in [0, 1) or standard normal as [`Process::draws_normal`] says), with the
    /// target of `prediction`.
    pub fn noise(
        &self,
        images: &Tensor,
        noise: &Tensor,
        draw: &Tensor,
        prediction: Prediction,
    ) -> Noised {
        let mut noised = self.noise_native(images, noise, draw);
        if prediction == Prediction::Data {
            noised.target = images.shallow_clone();
        }
        noised
    }

    /// What the sampler steps with at level `t`, from the network's `output` for `x`.
    pub fn sampler_quantity(
        &self,
        prediction: Prediction,
        output: Tensor,
        x: &Tensor,
        t: f64,
    ) -> Tensor {
        if prediction != Prediction::Data {
            return output;
        }
        match self {
            Process::Flow { .. } => (x - output) / t.max(MIN_FLOW_TIME),
            Process::Noise { alpha_bars, .. } => {
                let steps = alpha_bars.len();
                let index = ((t * steps as f64).round() as usize).clamp(1, steps) - 1;
                let alpha_bar = alpha_bars[index];
                (x - output * alpha_bar.sqrt()) / (1.0 - alpha_bar).sqrt()
            }
        }
    }

    fn noise_native(&self, images: &Tensor, noise: &Tensor, draw: &Tensor) -> Noised {
        match self {
            Process::Noise {
                alpha_bars,
                on_device,
            } => {
                let steps = alpha_bars.len() as i64;
                let index = (draw * steps as f64)
                    .floor()
                    .clamp(0, steps - 1)
                    .to_kind(Kind::Int64);
                let alpha_bar = per_row(&on_device.index_select(0, &index), images);
                Noised {
                    images: alpha_bar.sqrt() * images + (alpha_bar.neg() + 1.0).sqrt() * noise,
                    t: (index.to_kind(Kind::Float) + 1.0) / steps as f64,
                    target: noise.shallow_clone(),
                }
            }
            Process::Flow { time_sampling } => {
                let t = match time_sampling {
                    TimeSampling::Uniform => draw.shallow_clone(),
                    TimeSampling::LogitNormal => draw.sigmoid(),
                };
                let t_rows = per_row(&t, images);
                Noised {
                    images: (t_rows.neg() + 1.0) * images + &t_rows * noise,
                    t,
                    target: noise - images,
                }
            }
        }
    }
}

/// `(N,)` values shaped to scale the rows of `like` (`(N, 1, 1, 1)` for images).
pub fn per_row(values: &Tensor, like: &Tensor) -> Tensor {
    let mut shape = vec![-1i64];
    shape.resize(like.dim(), 1);
    values.view(shape.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::kind::FLOAT_CPU;

    #[test]
    fn schedules_fall_from_one_to_nearly_zero() {
        for schedule in [Schedule::Linear, Schedule::Cosine] {
            let bars = alpha_bars(schedule, 1_000);
            assert_eq!(bars.len(), 1_000);
            assert!(bars[0] > 0.99 && bars[0] < 1.0, "{schedule:?} {}", bars[0]);
            assert!(bars[999] < 1e-3, "{schedule:?} {}", bars[999]);
            assert!(bars.windows(2).all(|w| w[1] < w[0]));
        }
        // Ho et al.'s schedule: ᾱ at the last step is about 4e-5.
        let last = alpha_bars(Schedule::Linear, 1_000)[999];
        assert!((last - 4.04e-5).abs() < 0.2e-5, "{last}");
    }

    /// Over many draws of ε, x_t given x₀ has the closed form's mean and variance: for noise
    /// prediction `√ᾱ·x₀` and `1 − ᾱ`, for a flow `(1 − t)·x₀` and `t²`.
    #[test]
    fn noised_images_have_the_closed_form_mean_and_variance() {
        let n = 200_000;
        let x0 = Tensor::full([n, 1], 0.6, FLOAT_CPU);
        let eps = Tensor::randn([n, 1], FLOAT_CPU);
        let objectives = [
            Objective::Noise {
                schedule: Schedule::Linear,
                timesteps: 1_000,
            },
            Objective::Noise {
                schedule: Schedule::Cosine,
                timesteps: 1_000,
            },
            Objective::Flow {
                time_sampling: TimeSampling::Uniform,
            },
        ];
        for objective in objectives {
            let process = Process::new(objective, Device::Cpu);
            for level in [0.05, 0.5, 0.93] {
                let draw = Tensor::full([n], level, FLOAT_CPU);
                let noised = process.noise(&x0, &eps, &draw, Prediction::Velocity);
                let (mean, variance) = match &process {
                    Process::Noise { alpha_bars, .. } => {
                        let bar = alpha_bars[(level * 1_000.0) as usize];
                        (bar.sqrt() * 0.6, 1.0 - bar)
                    }
                    Process::Flow { .. } => ((1.0 - level) * 0.6, level * level),
                };
                let got_mean = noised.images.mean(Kind::Double).double_value(&[]);
                let got_var = noised
                    .images
                    .var(true)
                    .to_kind(Kind::Double)
                    .double_value(&[]);
                assert!(
                    (got_mean - mean).abs() < 0.01,
                    "{objective:?} {level}: {got_mean} vs {mean}"
                );
                assert!(
                    (got_var - variance).abs() < 0.01 * variance.max(0.1),
                    "{objective:?} {level}: {got_var} vs {variance}"
                );
            }
        }
    }

    #[test]
    fn flow_targets_are_the_velocity_and_noise_targets_the_noise() {
        let x0 = Tensor::rand([4, 1, 2, 2], FLOAT_CPU);
        let eps = Tensor::randn([4, 1, 2, 2], FLOAT_CPU);
        let draw = Tensor::from_slice(&[0.0f32, 0.3, 0.6, 0.999]);
        let flow = Process::new(
            Objective::Flow {
                time_sampling: TimeSampling::Uniform,
            },
            Device::Cpu,
        );
        let noised = flow.noise(&x0, &eps, &draw, Prediction::Velocity);
        assert!(noised.target.allclose(&(&eps - &x0), 1e-6, 1e-6, false));
        assert!(noised.images.get(0).allclose(&x0.get(0), 1e-6, 1e-6, false));
        let ddpm = Process::new(
            Objective::Noise {
                schedule: Schedule::Cosine,
                timesteps: 10,
            },
            Device::Cpu,
        );
        let noised = ddpm.noise(&x0, &eps, &draw, Prediction::Noise);
        assert!(noised.target.allclose(&eps, 0.0, 0.0, false));
        let t: Vec<f32> = Vec::try_from(&noised.t).unwrap();
        assert_eq!(t, vec![0.1, 0.4, 0.7, 1.0]);
    }

    /// A perfect data prediction gives the exact velocity and noise.
    #[test]
    fn data_predictions_convert_to_the_samplers_quantities() {
        let x0 = Tensor::rand([3, 1, 2, 2], FLOAT_CPU) * 2.0 - 1.0;
        let eps = Tensor::randn([3, 1, 2, 2], FLOAT_CPU);
        for objective in [
            Objective::Flow {
                time_sampling: TimeSampling::Uniform,
            },
            Objective::Noise {
                schedule: Schedule::Linear,
                timesteps: 1_000,
            },
        ] {
            let process = Process::new(objective, Device::Cpu);
            let draw = Tensor::full([3], 0.4, FLOAT_CPU);
            let native = match objective {
                Objective::Flow { .. } => Prediction::Velocity,
                Objective::Noise { .. } => Prediction::Noise,
            };
            let noised = process.noise(&x0, &eps, &draw, Prediction::Data);
            assert!(noised.target.allclose(&x0, 0.0, 0.0, false));
            let exact = process.noise(&x0, &eps, &draw, native).target;
            let t = noised.t.double_value(&[0]);
            let derived =
                process.sampler_quantity(Prediction::Data, x0.shallow_clone(), &noised.images, t);
            assert!(derived.allclose(&exact, 1e-4, 1e-4, false), "{objective:?}");
            assert!(native.validate(&objective).is_ok());
            assert!(Prediction::Data.validate(&objective).is_ok());
        }
        let flow = Objective::Flow {
            time_sampling: TimeSampling::Uniform,
        };
        assert!(Prediction::Noise.validate(&flow).is_err());
    }
}
