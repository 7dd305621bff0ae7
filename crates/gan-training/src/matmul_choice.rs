//! `matmul = "auto"` for training: the kernel of the dense layers chosen by timing the run's
//! own products on this machine ([`gan_models::matmul_tuning`]).

use gan_models::matmul_tuning::{self, Tuning};
use gan_models::{MatmulChoice, MatmulKernel};
use tch::Device;

use crate::config::TrainConfig;
use crate::error::TrainError;

/// For a new run: replaces `matmul = auto` by the kernel it chooses on this machine (the
/// faster for the run's own products, measured or cached), so the run's config records it
/// and a resume multiplies the same way whatever the cache then holds. Returns the
/// measurement behind the choice, if one was made.
pub fn pin_matmul(config: &mut TrainConfig, device: Device) -> Result<Option<Tuning>, TrainError> {
    let tuning = auto_tuning(config, device)?;
    if let Some(t) = &tuning {
        config.matmul = match t.kernel {
            MatmulKernel::Blas => MatmulChoice::Blas,
            MatmulKernel::OneDnn => MatmulChoice::Onednn,
        };
    }
    Ok(tuning)
}

/// The kernel of the dense layers: as the config asks, and for `auto` on the CPU, the faster
/// library for this run's own products on this machine (measured once, then cached; see
/// [`gan_models::matmul_tuning`]). The choice and its grounds go to the log.
pub(crate) fn matmul_kernel(
    config: &TrainConfig,
    device: Device,
) -> Result<MatmulKernel, TrainError> {
    match auto_tuning(config, device)? {
        Some(tuning) => {
            tracing::info!("matmul auto: {}", tuning.reason());
            Ok(tuning.kernel)
        }
        None => Ok(config.matmul.resolve(device)?),
    }
}

/// What `auto` measures (or finds cached) for `config` on the CPU; `None` for an explicit
/// choice or another device.
fn auto_tuning(config: &TrainConfig, device: Device) -> Result<Option<Tuning>, TrainError> {
    if config.matmul != MatmulChoice::Auto || device != Device::Cpu {
        return Ok(None);
    }
    // The measurement is of the run's own thread count.
    if config.threads > 0 {
        tch::set_num_threads(config.threads as i32);
    }
    let step = crate::probe::step_products(config)?;
    let cache = matmul_tuning::default_cache_path();
    Ok(Some(matmul_tuning::tune(
        &step.products,
        step.form,
        device,
        cache.as_deref(),
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backprop::Backprop;
    use gan_models::matmul_tuning::OneDnnForm;

    /// `auto` times oneDNN on plain tensors exactly for the runs whose steps go by hand.
    #[test]
    fn the_timed_form_follows_how_the_steps_run() {
        let form = |preset: &str, batch: usize, backprop: Backprop| {
            let mut config = TrainConfig::preset(preset).unwrap();
            (config.batch_size, config.backprop) = (batch, backprop);
            crate::probe::step_products(&config).unwrap().form
        };
        let chains = OneDnnForm::Plain;
        assert_eq!(form("mlp", 128, Backprop::Fused), chains);
        assert_eq!(form("tutorial", 256, Backprop::Fused), chains);
        assert_eq!(form("mlp", 128, Backprop::Autograd), OneDnnForm::Layer);
        assert_eq!(form("mlp", 1, Backprop::Fused), OneDnnForm::Layer);
        for preset in ["cgan", "dcgan", "wgan-gp", "vae", "cvae"] {
            assert_eq!(
                form(preset, 128, Backprop::Fused),
                OneDnnForm::Layer,
                "{preset}"
            );
        }
    }

    #[test]
    fn auto_is_pinned_once_and_explicit_choices_are_kept() {
        let mut config = TrainConfig::preset("mlp").unwrap();
        config.batch_size = 8;
        let tuning = pin_matmul(&mut config, Device::Cpu).unwrap();
        assert!(tuning.is_some());
        assert_ne!(config.matmul, MatmulChoice::Auto);
        let pinned = config.matmul;
        assert!(pin_matmul(&mut config, Device::Cpu).unwrap().is_none());
        assert_eq!(config.matmul, pinned);
        assert_eq!(
            matmul_kernel(&config, Device::Cpu).unwrap().name(),
            tuning.unwrap().kernel.name()
        );
    }
}
