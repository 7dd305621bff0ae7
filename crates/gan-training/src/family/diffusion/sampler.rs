//! The reverse process: from pure noise to an image in a chosen number of steps.
//!
//! - Flows integrate the velocity from `t = 1` to `0` on an even grid: **Euler** (one
//!   network evaluation a step) or **Heun** (two: Euler's step, then the mean of the
//!   velocities at both ends; the last step is Euler's).
//! - Noise prediction walks a subsequence of the `T` steps ending at the last ("trailing"
//!   spacing, so the first step starts from the noisiest level): **DDIM** with η = 0 (Song
//!   et al. 2021; deterministic) or **DDPM**'s ancestral step on the respaced schedule
//!   (fresh noise at every step but the last). Both clip their estimate of the clean image
//!   to the data's range [-1, 1].

use serde::{Deserialize, Serialize};
use tch::Tensor;

use super::process::{Objective, Process};
use crate::error::TrainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sampler {
    Euler,
    Heun,
    Ddim,
    Ddpm,
}

/// How images are drawn: the sampler, its steps and, for a conditional model, the guidance
/// weight (1: the conditional prediction alone; `w`: `uncond + w·(cond − uncond)`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplingConfig {
    pub sampler: Sampler,
    pub steps: u32,
    /// A flow's grid of levels is `t_k = (1 − k/steps)^time_exponent`: above 1 it puts more
    /// steps near the data, where a data prediction's velocity `(x_t − x̂₀)/t` changes
    /// fastest.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub time_exponent: f64,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub guidance: f64,
}

fn one() -> f64 {
    1.0
}

fn is_one(value: &f64) -> bool {
    *value == 1.0
}

/// The most steps a sampler may take (a noise schedule's own `T` bounds DDIM's and DDPM's).
pub const MAX_STEPS: u32 = 10_000;

impl SamplingConfig {
    pub fn validate(&self, objective: &Objective) -> Result<(), TrainError> {
        let fits = matches!(
            (objective, self.sampler),
            (Objective::Flow { .. }, Sampler::Euler | Sampler::Heun)
                | (Objective::Noise { .. }, Sampler::Ddim | Sampler::Ddpm)
        );
        if !fits {
            let choices = match objective {
                Objective::Flow { .. } => "a flow samples with euler or heun",
                Objective::Noise { .. } => "noise prediction samples with ddim or ddpm",
            };
            return Err(TrainError::invalid(
                "sampling.sampler",
                format!("{:?}", self.sampler).to_lowercase(),
                choices,
            ));
        }
        let most = match objective {
            Objective::Noise { timesteps, .. } => *timesteps,
            Objective::Flow { .. } => MAX_STEPS,
        };
        if !(1..=most).contains(&self.steps) {
            return Err(TrainError::invalid(
                "sampling.steps",
                self.steps,
                format!("must be in 1..={most}"),
            ));
        }
        if !(self.time_exponent.is_finite() && (0.1..=10.0).contains(&self.time_exponent)) {
            return Err(TrainError::invalid(
                "sampling.time_exponent",
                self.time_exponent,
                "must be in 0.1..=10 (1: an even grid of t)",
            ));
        }
        if !(self.guidance.is_finite() && (0.0..=100.0).contains(&self.guidance)) {
            return Err(TrainError::invalid(
                "sampling.guidance",
                self.guidance,
                "must be in 0..=100 (1: no guidance)",
            ));
        }
        Ok(())
    }

    /// Network evaluations per image (twice as many under guidance other than 1).
    pub fn evaluations(&self) -> u32 {
        let per_image = match self.sampler {
            Sampler::Heun => 2 * self.steps - 1,
            _ => self.steps,
        };
        let guided = if self.guidance == 1.0 { 1 } else { 2 };
        per_image * guided
    }
}

/// Runs `sampler` for `steps` from `start` (standard normal, image-shaped): `predict(x, t)`
/// is the network's prediction at level `t` in [0, 1]; `fresh_noise(k)` the noise of step
/// `k` of an ancestral sampler.
pub fn sample(
    process: &Process,
    sampling: &SamplingConfig,
    start: &Tensor,
    predict: &mut dyn FnMut(&Tensor, f64) -> Tensor,
    fresh_noise: &mut dyn FnMut(u32) -> Tensor,
) -> Tensor {
    sample_visiting(
        process,
        sampling,
        start,
        predict,
        fresh_noise,
        &mut |_, _| {},
    )
}

/// [`sample`], showing `visit` each state on the way with its level in [0, 1]: the start
/// (level 1) and the state after every step (the last, level 0, is the sample).
pub fn sample_visiting(
    process: &Process,
    sampling: &SamplingConfig,
    start: &Tensor,
    predict: &mut dyn FnMut(&Tensor, f64) -> Tensor,
    fresh_noise: &mut dyn FnMut(u32) -> Tensor,
    visit: &mut dyn FnMut(f64, &Tensor),
) -> Tensor {
    let (sampler, steps) = (sampling.sampler, sampling.steps);
    visit(1.0, start);
    match process {
        Process::Flow { .. } => integrate_flow(
            sampler,
            steps,
            sampling.time_exponent,
            start,
            predict,
            visit,
        ),
        Process::Noise { alpha_bars, .. } => denoise(
            alpha_bars,
            sampler,
            steps,
            start,
            predict,
            fresh_noise,
            visit,
        ),
    }
}

fn integrate_flow(
    sampler: Sampler,
    steps: u32,
    exponent: f64,
    start: &Tensor,
    predict: &mut dyn FnMut(&Tensor, f64) -> Tensor,
    visit: &mut dyn FnMut(f64, &Tensor),
) -> Tensor {
    let level = |k: u32| (1.0 - f64::from(k) / f64::from(steps)).powf(exponent);
    let mut x = start.shallow_clone();
    for k in 0..steps {
        let (t, t_next) = (level(k), level(k + 1));
        let velocity = predict(&x, t);
        let euler = euler_step(&x, &velocity, t, t_next);
        // Heun's last step is Euler's (as in Karras et al.'s sampler): the velocity at the
        // data itself is not needed, and a data prediction's is undefined there.
        x = match sampler {
            Sampler::Heun if k + 1 < steps => {
                let at_end = predict(&euler, t_next);
                euler_step(&x, &((velocity + at_end) * 0.5), t, t_next)
            }
            _ => euler,
        };
        visit(t_next, &x);
    }
    x
}

/// `x` moved from `t` to `t_next` along `velocity`.
pub fn euler_step(x: &Tensor, velocity: &Tensor, t: f64, t_next: f64) -> Tensor {
    x + velocity * (t_next - t)
}

/// The steps of `T` a sampler of `steps` visits, noisiest first: `T − 1`, then evenly down
/// to the step before 0 ("trailing" spacing).
pub fn visited_steps(timesteps: usize, steps: u32) -> Vec<usize> {
    let steps = steps as usize;
    (0..steps)
        .map(|j| {
            let from_end = (j * timesteps) as f64 / steps as f64;
            (timesteps as f64 - from_end).round() as usize - 1
        })
        .collect()
}

fn denoise(
    alpha_bars: &[f64],
    sampler: Sampler,
    steps: u32,
    start: &Tensor,
    predict: &mut dyn FnMut(&Tensor, f64) -> Tensor,
    fresh_noise: &mut dyn FnMut(u32) -> Tensor,
    visit: &mut dyn FnMut(f64, &Tensor),
) -> Tensor {
    let timesteps = alpha_bars.len();
    let visited = visited_steps(timesteps, steps);
    let mut x = start.shallow_clone();
    for (k, &i) in visited.iter().enumerate() {
        let alpha_bar = alpha_bars[i];
        // Past the last visited step is the data itself: ᾱ = 1.
        let alpha_bar_next = visited.get(k + 1).map_or(1.0, |&j| alpha_bars[j]);
        let noise = predict(&x, (i + 1) as f64 / timesteps as f64);
        x = match sampler {
            Sampler::Ddpm => {
                let last = k + 1 == visited.len();
                let fresh = (!last).then(|| fresh_noise(k as u32));
                ddpm_step(&x, &noise, alpha_bar, alpha_bar_next, fresh.as_ref())
            }
            _ => ddim_step(&x, &noise, alpha_bar, alpha_bar_next),
        };
        let level_next = visited
            .get(k + 1)
            .map_or(0.0, |&j| (j + 1) as f64 / timesteps as f64);
        visit(level_next, &x);
    }
    x
}

/// The clean image that `x` at `ᾱ` with noise `noise` implies, clipped to [-1, 1].
fn clean_estimate(x: &Tensor, noise: &Tensor, alpha_bar: f64) -> Tensor {
    ((x - noise * (1.0 - alpha_bar).sqrt()) / alpha_bar.sqrt()).clamp(-1.0, 1.0)
}

/// DDIM (η = 0): the clean estimate noised to `ᾱ_next` with the same noise.
pub fn ddim_step(x: &Tensor, noise: &Tensor, alpha_bar: f64, alpha_bar_next: f64) -> Tensor {
    clean_estimate(x, noise, alpha_bar) * alpha_bar_next.sqrt()
        + noise * (1.0 - alpha_bar_next).sqrt()
}

/// DDPM's ancestral step from `ᾱ` to `ᾱ_next` (a respaced schedule's `β = 1 − ᾱ/ᾱ_next`):
/// the posterior mean given the clean estimate, plus its deviation times `fresh` when given.
fn ddpm_step(
    x: &Tensor,
    noise: &Tensor,
    alpha_bar: f64,
    alpha_bar_next: f64,
    fresh: Option<&Tensor>,
) -> Tensor {
    let alpha = alpha_bar / alpha_bar_next;
    let beta = 1.0 - alpha;
    let clean = clean_estimate(x, noise, alpha_bar);
    let mean = clean * (alpha_bar_next.sqrt() * beta / (1.0 - alpha_bar))
        + x * (alpha.sqrt() * (1.0 - alpha_bar_next) / (1.0 - alpha_bar));
    match fresh {
        Some(z) => mean + z * (beta * (1.0 - alpha_bar_next) / (1.0 - alpha_bar)).sqrt(),
        None => mean,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::family::diffusion::process::{Schedule, TimeSampling};
    use tch::kind::FLOAT_CPU;
    use tch::{Device, Kind};

    fn max_difference(a: &Tensor, b: &Tensor) -> f64 {
        (a - b).abs().max().double_value(&[])
    }

    #[test]
    fn trailing_steps_start_at_the_noisiest_and_end_near_zero() {
        assert_eq!(visited_steps(1_000, 4), vec![999, 749, 499, 249]);
        assert_eq!(visited_steps(10, 10), (0..10).rev().collect::<Vec<_>>());
        assert_eq!(visited_steps(1_000, 1), vec![999]);
    }

    /// Given the true noise at every step, DDIM lands on the clean image exactly, in any
    /// number of steps.
    #[test]
    fn ddim_with_the_true_noise_recovers_the_image() {
        for schedule in [Schedule::Linear, Schedule::Cosine] {
            let objective = Objective::Noise {
                schedule,
                timesteps: 1_000,
            };
            let process = Process::new(objective, Device::Cpu);
            let Process::Noise { alpha_bars, .. } = &process else {
                unreachable!()
            };
            let x0 = Tensor::rand([3, 1, 4, 4], FLOAT_CPU).to_kind(Kind::Double) * 2.0 - 1.0;
            let eps = Tensor::randn([3, 1, 4, 4], FLOAT_CPU).to_kind(Kind::Double);
            let last = alpha_bars[999];
            let start = &x0 * last.sqrt() + &eps * (1.0 - last).sqrt();
            for steps in [1, 3, 50] {
                let mut oracle = |x: &Tensor, t: f64| {
                    let bar = alpha_bars[(t * 1_000.0).round() as usize - 1];
                    (x - &x0 * bar.sqrt()) / (1.0 - bar).sqrt()
                };
                let sampling = SamplingConfig {
                    sampler: Sampler::Ddim,
                    steps,
                    time_exponent: 1.0,
                    guidance: 1.0,
                };
                let out = sample(&process, &sampling, &start, &mut oracle, &mut |_| {
                    unreachable!("DDIM draws no noise")
                });
                assert!(max_difference(&out, &x0) < 1e-9, "{schedule:?} {steps}");
            }
        }
    }

    /// With the data a point, the exact velocity field's paths are straight: one Euler step
    /// from any noise lands on the point. For Gaussian data `N(μ, s²)` the exact field maps
    /// noise `ε` to `μ + s·ε`; Euler gets there as steps grow, Heun sooner.
    #[test]
    fn euler_on_the_exact_velocity_of_a_gaussian_follows_the_flow() {
        let process = Process::new(
            Objective::Flow {
                time_sampling: TimeSampling::Uniform,
            },
            Device::Cpu,
        );
        let eps = Tensor::randn([64], FLOAT_CPU).to_kind(Kind::Double);
        let mu = 0.7;
        for (s, sampler, steps, tolerance) in [
            (0.0, Sampler::Euler, 1, 1e-9),
            (0.0, Sampler::Euler, 7, 1e-9),
            (0.5, Sampler::Euler, 2_000, 2e-3),
            (0.5, Sampler::Heun, 50, 1e-3),
        ] {
            // E[ε − x₀ | x_t = x] for x₀ ~ N(μ, s²), ε ~ N(0, 1), x_t = (1 − t)x₀ + tε.
            let mut exact = |x: &Tensor, t: f64| {
                let variance = (1.0 - t).powi(2) * s * s + t * t;
                let centred = x - (1.0 - t) * mu;
                let noise = &centred * (t / variance);
                let data = centred * ((1.0 - t) * s * s / variance) + mu;
                noise - data
            };
            // An uneven grid leaves a point's straight path exact too.
            let sampling = SamplingConfig {
                sampler,
                steps,
                time_exponent: if steps == 7 { 2.0 } else { 1.0 },
                guidance: 1.0,
            };
            let out = sample(
                &process,
                &sampling,
                &eps,
                &mut exact,
                &mut |_| unreachable!(),
            );
            let expected = &eps * s + mu;
            let error = max_difference(&out, &expected);
            assert!(error < tolerance, "s {s} {sampler:?} {steps}: {error}");
        }
    }

    #[test]
    fn samplers_must_fit_the_objective_and_count_their_evaluations() {
        let flow = Objective::Flow {
            time_sampling: TimeSampling::LogitNormal,
        };
        let noise = Objective::Noise {
            schedule: Schedule::Linear,
            timesteps: 100,
        };
        let config = |sampler, steps| SamplingConfig {
            sampler,
            steps,
            time_exponent: 1.0,
            guidance: 1.0,
        };
        assert!(config(Sampler::Heun, 25).validate(&flow).is_ok());
        let err = config(Sampler::Ddim, 25).validate(&flow).unwrap_err();
        assert!(err.to_string().contains("euler or heun"), "{err}");
        assert!(config(Sampler::Ddim, 100).validate(&noise).is_ok());
        let err = config(Sampler::Ddim, 101).validate(&noise).unwrap_err();
        assert!(err.to_string().contains("1..=100"), "{err}");
        assert_eq!(config(Sampler::Heun, 25).evaluations(), 49);
        let guided = SamplingConfig {
            guidance: 2.0,
            ..config(Sampler::Euler, 10)
        };
        assert_eq!(guided.evaluations(), 20);
    }
}
