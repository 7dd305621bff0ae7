//! Families built for a run: under the [`gan_models::Execution`] of the run's kernel and
//! [`crate::Backprop`], so that their networks multiply and form gradients as the run asks.

use gan_models::MatmulKernel;
use tch::Device;

use crate::config::TrainConfig;
use crate::error::TrainError;
use crate::family::{BuildContext, Family};

/// The config's family on `device` for use outside its training run: with the run's kernel
/// where it can run here (it may have trained on another device), else this device's default.
pub(crate) fn build_family_here(
    config: &TrainConfig,
    device: Device,
) -> Result<Box<dyn Family>, TrainError> {
    let kernel = config
        .matmul
        .resolve(device)
        .or_else(|_| gan_models::MatmulChoice::Auto.resolve(device))?;
    build_family(config, device, kernel)
}

/// The config's family on `device`, its dense layers multiplying with `matmul`.
pub(crate) fn build_family(
    config: &TrainConfig,
    device: Device,
    matmul: MatmulKernel,
) -> Result<Box<dyn Family>, TrainError> {
    let context = BuildContext {
        device,
        seed: config.seed,
        batch_size: config.batch_size,
    };
    config
        .backprop
        .execution(matmul)
        .run(|| config.model.build(&context))
}
