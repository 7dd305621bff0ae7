//! One module per subcommand.

pub mod bench;
pub mod compare;
pub mod completions;
pub mod eval;
pub mod figures;
pub mod generate;
pub mod info;
pub mod interpolate;
pub mod presets;
pub mod report;
pub mod summary;
pub mod train;

/// `--device`'s parser, shared so every command takes the same names
/// (`DeviceChoice::NAMES`) and says the same thing about a wrong one.
pub fn device_arg(value: &str) -> Result<gan_training::DeviceChoice, String> {
    gan_training::DeviceChoice::parse(value).map_err(|_| {
        format!(
            "choose {} (cuda:N names the N-th GPU; see `gan info`)",
            gan_training::DeviceChoice::NAMES
        )
    })
}

/// How a diffusion model samples, for the commands that sample (`generate`, `eval`,
/// `interpolate`); other models refuse these flags.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct SamplingArgs {
    /// A diffusion model: sampler steps instead of the run's config's (network evaluations
    /// are twice as many for Heun, and again for guidance).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub sample_steps: Option<u32>,
    /// A conditional diffusion model: classifier-free guidance weight (1: none; above 1:
    /// more like the digit asked for, less varied) instead of the run's config's.
    #[arg(long, value_name = "W", value_parser = guidance_weight, allow_negative_numbers = true)]
    pub guidance: Option<f64>,
}

fn guidance_weight(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(w) if w.is_finite() && (0.0..=100.0).contains(&w) => Ok(w),
        _ => Err(format!(
            "{text:?}: give a number from 0 to 100 (1: no guidance)"
        )),
    }
}

impl SamplingArgs {
    /// Applies the flags to `generator`; nothing when none is given.
    pub fn apply(
        &self,
        generator: &mut gan_training::TrainedGenerator,
    ) -> Result<(), gan_training::TrainError> {
        generator.set_sampling(self.sample_steps, self.guidance)
    }
}
