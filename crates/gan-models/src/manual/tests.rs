//! Chains against autograd on the same networks: values, parameter and input gradients,
//! running statistics, for both kernels, with layers large enough to split over threads.

use std::collections::HashMap;

use tch::nn::VarStore;
use tch::{kind, Device, Kind, Tensor};

use super::{Chain, Wanted};
use crate::architecture::{DiscriminatorConfig, GeneratorConfig};
use crate::execution::Execution;
use crate::matmul::{cpu_kernels, MatmulKernel};
use crate::mlp::{MlpDiscriminator, MlpDiscriminatorConfig, MlpGenerator, MlpGeneratorConfig};
use crate::network::{Discriminator, Generator, Mode};

const BATCH: i64 = 64;

fn assert_close(got: &Tensor, want: &Tensor, what: &str) {
    assert_eq!(got.size(), want.size(), "{what}");
    let scale = want.abs().max().double_value(&[]).max(1e-3);
    let error = (got - want).abs().max().double_value(&[]);
    assert!(
        error <= 2e-4 * scale,
        "{what}: differs by {error} (largest value {scale})"
    );
}

/// Trainable variables of `vs` and their autograd gradients of `loss`.
fn autograd_gradients(vs: &VarStore, loss: &Tensor) -> HashMap<String, Tensor> {
    let (names, tensors): (Vec<String>, Vec<Tensor>) = vs
        .variables()
        .into_iter()
        .filter(|(_, t)| t.requires_grad())
        .unzip();
    let grads = Tensor::run_backward(&[loss], &tensors, false, false);
    names.into_iter().zip(grads).collect()
}

fn assert_gradients(got: Vec<(String, Tensor)>, want: &HashMap<String, Tensor>, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: one gradient per parameter");
    for (name, grad) in got {
        assert_close(&grad, &want[&name], &format!("{what}: {name}"));
    }
}

fn small_generators() -> Vec<MlpGeneratorConfig> {
    // 64 × 512 values in the first layer: its passes split over the threads.
    let mlp = MlpGeneratorConfig {
        latent_dim: 16,
        hidden: vec![512, 48],
        ..MlpGeneratorConfig::mlp()
    };
    let tutorial = MlpGeneratorConfig {
        latent_dim: 16,
        hidden: vec![512, 48],
        ..MlpGeneratorConfig::tutorial()
    };
    vec![mlp, tutorial]
}

/// The network, and it as a chain, built with `kernel` where chains may run by hand.
fn generator(config: &MlpGeneratorConfig, kernel: MatmulKernel) -> (VarStore, MlpGenerator, Chain) {
    let vs = VarStore::new(Device::Cpu);
    Execution::new(kernel, true).run(|| {
        let g = MlpGenerator::new(&vs.root(), config, 7).unwrap();
        let chain = Chain::of_generator(&GeneratorConfig::Mlp(config.clone()), &vs.root())
            .expect("an unconditional MLP is a chain");
        (vs, g, chain)
    })
}

#[test]
fn generator_chain_matches_autograd() {
    for kernel in cpu_kernels() {
        for config in small_generators() {
            let what = format!("{kernel:?}, output {:?}", config.output);
            let (autograd_vs, autograd, _) = generator(&config, kernel);
            let (chain_vs, _, chain) = generator(&config, kernel);
            let z = Tensor::randn([BATCH, 16], kind::FLOAT_CPU);
            let weights = Tensor::randn([BATCH, 784], kind::FLOAT_CPU);

            let images = autograd.forward(&z, None, Mode::Training).view([BATCH, -1]);
            let want = autograd_gradients(&autograd_vs, &(&images * &weights).sum(Kind::Float));
            let (output, pass) = chain.forward(&z, true);
            assert_close(&output, &images, &format!("{what}: images"));
            let got = chain.backward(pass, &weights, Wanted::Parameters);
            assert!(got.input.is_none());
            assert_gradients(got.parameters, &want, &what);

            let (autograd_vars, chain_vars) = (autograd_vs.variables(), chain_vs.variables());
            for (name, value) in autograd_vars.iter().filter(|(n, _)| n.contains("running")) {
                assert_close(&chain_vars[name], value, &format!("{what}: {name}"));
            }
            let inference = tch::no_grad(|| autograd.forward(&z, None, Mode::Inference));
            let (output, _) = chain.forward(&z, false);
            assert_close(
                &output,
                &inference.view([BATCH, -1]),
                &format!("{what}: inference"),
            );
        }
    }
}

#[test]
fn discriminator_chain_matches_autograd() {
    let config = MlpDiscriminatorConfig {
        hidden: vec![512, 32],
        ..MlpDiscriminatorConfig::mlp()
    };
    for kernel in cpu_kernels() {
        let what = format!("{kernel:?}");
        let vs = VarStore::new(Device::Cpu);
        let (d, chain) = Execution::new(kernel, true).run(|| {
            let d = MlpDiscriminator::new(&vs.root(), &config, 3).unwrap();
            let chain =
                Chain::of_discriminator(&DiscriminatorConfig::Mlp(config.clone()), &vs.root());
            (d, chain.expect("an unconditional MLP is a chain"))
        });
        let images = Tensor::randn([BATCH, 1, 28, 28], kind::FLOAT_CPU).set_requires_grad(true);
        let weights = Tensor::randn([BATCH, 1], kind::FLOAT_CPU);

        let scores = d.forward(&images, None);
        let loss = (&scores * &weights).sum(Kind::Float);
        let want_input = Tensor::run_backward(&[&loss], &[&images], true, false).remove(0);
        let want = autograd_gradients(&vs, &loss);

        let flat = images.detach().flatten(1, -1);
        let (output, pass) = chain.forward(&flat, true);
        assert_close(&output, &scores, &format!("{what}: scores"));
        let got = chain.backward(pass, &weights, Wanted::Parameters);
        assert_gradients(got.parameters, &want, &what);

        let (_, pass) = chain.forward(&flat, true);
        let got = chain.backward(pass, &weights, Wanted::Input);
        assert!(got.parameters.is_empty());
        assert_close(
            &got.input.unwrap(),
            &want_input.flatten(1, -1),
            &format!("{what}: input"),
        );
    }
}
