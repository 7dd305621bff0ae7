//! `matmul = "auto"` for training: the kernel of the dense layers chosen by timing the run's
//! own products on this machine ([`gan_models::matmul_tuning`]).

use tch::Device;

use crate::config::TrainConfig;
use crate::error::TrainError;

/// For a new run: replaces `matmul = auto` by the kernel it chooses on this machine (the
/// faster for the run's own products, measured or cached), so the run's config records it
/// and a resume multiplies the same way whatever the cache then holds. Returns the
/// measurement behind the choice, if one was made.
pub fn pin_matmul(
    config: &mut TrainConfig,
    device: Device,
) -> Result<Option<gan_models::matmul_tuning::Tuning>, TrainError> {
    use gan_models::{matmul_tuning, MatmulChoice, MatmulKernel};
    if config.matmul != MatmulChoice::Auto || device != Device::Cpu {
        return Ok(None);
    }
    if config.threads > 0 {
        tch::set_num_threads(config.threads as i32);
    }
    let products = config.model.step_products(config.batch_size as i64);
    let cache = matmul_tuning::default_cache_path();
    let tuning = matmul_tuning::tune(&products, device, cache.as_deref())?;
    config.matmul = match tuning.kernel {
        MatmulKernel::Blas => MatmulChoice::Blas,
        MatmulKernel::OneDnn => MatmulChoice::Onednn,
    };
    Ok(Some(tuning))
}

/// The kernel of the dense layers: as the config asks, and for `auto` on the CPU, the faster
/// library for this run's own products on this machine (measured once, then cached; see
/// [`gan_models::matmul_tuning`]). The choice and its grounds go to the log.
pub(crate) fn matmul_kernel(
    config: &TrainConfig,
    device: Device,
) -> Result<gan_models::MatmulKernel, TrainError> {
    use gan_models::matmul_tuning;
    if config.matmul != gan_models::MatmulChoice::Auto || device != Device::Cpu {
        return Ok(config.matmul.resolve(device)?);
    }
    let products = config.model.step_products(config.batch_size as i64);
    let cache = matmul_tuning::default_cache_path();
    let tuning = matmul_tuning::tune(&products, device, cache.as_deref())?;
    tracing::info!("matmul auto: {}", tuning.reason());
    Ok(tuning.kernel)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gan_models::MatmulChoice;

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
