//! A named part of a model: one network's variables, its own optimizer and, optionally, an
//! exponential moving average of its weights. The part owns everything a checkpoint holds
//! about it: tensor names (`<name>.`, `<name>_adam.`, `<name>_ema.`), restore and the
//! finite-value check.

use tch::nn::VarStore;
use tch::Tensor;

use crate::adam::{Adam, AdamConfig};
use crate::checkpoint::Checkpoint;
pub use crate::checkpoint::PartManifest;
use crate::ema::{Ema, EmaConfig};
use crate::error::TrainError;
use gan_models::weights::{assign, named_tensors};

/// See the module docs.
#[derive(Debug)]
pub struct Part {
    name: &'static str,
    vs: VarStore,
    optimizer: Adam,
    /// The configured learning rate, which schedules scale.
    learning_rate: f64,
    /// The optimizer's parameters by var-store name, in its order.
    params: Vec<(String, Tensor)>,
    ema: Option<Ema>,
}

impl Part {
    /// A part over the network in `vs`, optimised with `optimizer`; with `ema`, the shadow
    /// network's var store (a network built like the live one) and the EMA settings.
    pub fn new(
        name: &'static str,
        vs: VarStore,
        optimizer: AdamConfig,
        ema: Option<(VarStore, EmaConfig)>,
    ) -> Part {
        let learning_rate = optimizer.lr;
        let optimizer = Adam::new(&vs, optimizer);
        let ema = ema.map(|(shadow, config)| {
            Ema::new(config, shadow, &vs, &optimizer.layout(), optimizer.flat())
        });
        Part {
            name,
            params: optimizer.named_parameters(),
            vs,
            optimizer,
            learning_rate,
            ema,
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn vars(&self) -> &VarStore {
        &self.vs
    }

    /// The trainable parameters by var-store name, in the order [`Part::apply_gradients`]
    /// expects their gradients (the form [`gan_models::Tape::gradients`] takes).
    pub fn params(&self) -> &[(String, Tensor)] {
        &self.params
    }

    pub fn ema(&self) -> Option<&Ema> {
        self.ema.as_ref()
    }

    pub fn optimizer_steps(&self) -> u64 {
        self.optimizer.steps_taken()
    }

    /// Scales the configured learning rate by `factor` for the next updates.
    pub fn scale_learning_rate(&mut self, factor: f64) {
        self.optimizer
            .set_learning_rate(self.learning_rate * factor);
    }

    /// One optimizer step with `grads[i]` the gradient of `params()[i]`, then one EMA update.
    pub fn apply_gradients(&mut self, grads: &[Tensor]) {
        match &mut self.ema {
            Some(ema) => {
                self.optimizer.step_averaged(grads, Some(ema.next_update()));
                ema.record_update(&self.vs);
            }
            None => self.optimizer.step(grads),
        }
    }

    /// [`Part::apply_gradients`] with the gradients named (full var-store names, in any
    /// order), as a network run by hand returns them.
    ///
    /// # Panics
    /// If a parameter of the part has no gradient among `gradients`.
    pub fn apply_named_gradients(&mut self, mut gradients: Vec<(String, Tensor)>) {
        let grads: Vec<Tensor> = self
            .params
            .iter()
            .map(|(name, _)| {
                let at = gradients
                    .iter()
                    .position(|(n, _)| n == name)
                    .unwrap_or_else(|| panic!("no gradient for parameter {name}"));
                gradients.swap_remove(at).1
            })
            .collect();
        self.apply_gradients(&grads);
    }

    /// Every tensor of the part by checkpoint name.
    pub fn state_tensors(&self) -> Vec<(String, Tensor)> {
        let mut all = named_tensors(&self.vs, &format!("{}.", self.name));
        all.extend(self.optimizer.state(&format!("{}_adam.", self.name)).0);
        if let Some(ema) = &self.ema {
            all.extend(named_tensors(ema.vars(), &format!("{}_ema.", self.name)));
        }
        all
    }

    pub fn manifest(&self) -> PartManifest {
        PartManifest {
            optimizer_steps: self.optimizer.steps_taken(),
            ema_updates: self.ema.as_ref().map(Ema::updates),
        }
    }

    /// Restores weights, optimizer state and EMA from `checkpoint`; nothing changes when a
    /// tensor is missing or has another shape.
    pub fn restore(&mut self, checkpoint: &Checkpoint) -> Result<(), TrainError> {
        let path = &checkpoint.path;
        let bad = |why: String| TrainError::BadCheckpoint {
            path: path.clone(),
            why,
        };
        let Some(state) = checkpoint.manifest.parts.get(self.name) else {
            return Err(bad(format!("it has no part named {:?}", self.name)));
        };
        if self.ema.is_some() && state.ema_updates.is_none() {
            return Err(bad(format!(
                "it holds no EMA of {} and this config keeps one; resume with the config \
                 the checkpoint was trained with",
                self.name
            )));
        }
        assign(
            &self.vs,
            &checkpoint.tensors,
            &format!("{}.", self.name),
            path,
        )?;
        self.optimizer.load_state(
            &checkpoint.tensors,
            &format!("{}_adam.", self.name),
            state.optimizer_steps,
            path,
        )?;
        if let (Some(ema), Some(updates)) = (&mut self.ema, state.ema_updates) {
            assign(
                ema.vars(),
                &checkpoint.tensors,
                &format!("{}_ema.", self.name),
                path,
            )?;
            ema.set_updates(updates);
        }
        Ok(())
    }

    /// Starts from the weights `source` samples with (its EMA where it keeps one): they
    /// become this part's weights and its EMA's, with the optimizer's state left fresh.
    /// `path` names the source in errors; nothing changes when a tensor is missing or has
    /// another shape.
    pub fn start_from(&mut self, source: &Part, path: &std::path::Path) -> Result<(), TrainError> {
        let weights = source.ema().map_or(&source.vs, Ema::vars);
        let tensors = named_tensors(weights, "").into_iter().collect();
        assign(&self.vs, &tensors, "", path)?;
        if let Some(ema) = &self.ema {
            assign(ema.vars(), &tensors, "", path)?;
        }
        Ok(())
    }

    /// Fails naming the first tensor (weights, running statistics, EMA) that holds NaN or ±∞.
    pub fn check_finite(&self, step: u64) -> Result<(), TrainError> {
        let mut stores = vec![(format!("{}.", self.name), &self.vs)];
        if let Some(ema) = &self.ema {
            stores.push((format!("{}_ema.", self.name), ema.vars()));
        }
        for (prefix, vs) in stores {
            for (name, t) in named_tensors(vs, &prefix) {
                if t.isfinite().all().int64_value(&[]) == 0 {
                    let value = if t.isnan().any().int64_value(&[]) != 0 {
                        f64::NAN
                    } else {
                        f64::INFINITY
                    };
                    return Err(TrainError::NonFinite {
                        step,
                        what: format!("parameter {name}"),
                        value,
                        checkpoint: None,
                    });
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adam::EpsilonStyle;
    use crate::ema::EmaNormalization;
    use std::path::Path;
    use tch::{Device, Kind};

    fn store() -> VarStore {
        let vs = VarStore::new(Device::Cpu);
        let root = vs.root();
        let _ = root.var_copy("w", &Tensor::from_slice(&[1.0f32, -2.0, 3.0]));
        let _ = root.var_copy("b", &Tensor::from_slice(&[0.5f32]));
        let _ = root.zeros_no_train("running_mean", &[2]);
        vs
    }

    fn adam() -> AdamConfig {
        AdamConfig {
            lr: 0.1,
            beta1: 0.5,
            beta2: 0.999,
            eps: 1e-8,
            epsilon_style: EpsilonStyle::Pytorch,
        }
    }

    /// After each update the shadow is `d_t·shadow + (1 - d_t)·live` with the warm-up decay,
    /// and running statistics are copied.
    #[test]
    fn ema_follows_its_closed_form_and_copies_running_statistics() {
        let config = EmaConfig {
            decay: 0.9,
            warmup: true,
            normalization: EmaNormalization::Copy,
        };
        let mut part = Part::new("net", store(), adam(), Some((store(), config)));
        let live = part.vars().variables();
        let mut expected: Vec<Tensor> = ["b", "w"].iter().map(|n| live[*n].copy()).collect();
        for t in 0..30u64 {
            let grads: Vec<Tensor> = part
                .params()
                .iter()
                .map(|(_, p)| p.detach() * 0.3 + (t as f64).sin())
                .collect();
            tch::no_grad(|| {
                let _ = live["running_mean"].shallow_clone().fill_(t as f64);
            });
            part.apply_gradients(&grads);
            let d = config.decay_at(t);
            for (e, name) in expected.iter_mut().zip(["b", "w"]) {
                *e = &*e * d + live[name].detach() * (1.0 - d);
            }
        }
        let shadow = part.ema().unwrap().vars().variables();
        for (e, name) in expected.iter().zip(["b", "w"]) {
            let gap = (&shadow[name] - e).abs().max().double_value(&[]);
            assert!(gap < 1e-5, "{name}: {gap}");
        }
        assert_eq!(
            shadow["running_mean"].sum(Kind::Float).double_value(&[]),
            2.0 * 29.0
        );
        assert_eq!(part.manifest().ema_updates, Some(30));
        let names: Vec<String> = part.state_tensors().into_iter().map(|(n, _)| n).collect();
        for name in [
            "net.w",
            "net_adam.m.w",
            "net_adam.v.b",
            "net_ema.w",
            "net_ema.running_mean",
        ] {
            assert!(
                names.iter().any(|n| n == name),
                "{name} missing from {names:?}"
            );
        }
    }

    /// A part started from another takes the weights the other samples with (its EMA) into
    /// both its weights and its EMA, and moves them through its own parameters afterwards;
    /// its optimizer starts fresh.
    #[test]
    fn a_part_starts_from_the_sampling_weights_of_another() {
        let config = EmaConfig {
            decay: 0.5,
            warmup: false,
            normalization: EmaNormalization::Copy,
        };
        let mut source = Part::new("net", store(), adam(), Some((store(), config)));
        for _ in 0..3 {
            let grads: Vec<Tensor> = source.params().iter().map(|(_, p)| p.ones_like()).collect();
            source.apply_gradients(&grads);
        }
        let averaged = source.ema().unwrap().vars().variables();
        let raw = source.vars().variables();
        assert!(!averaged["w"].equal(&raw["w"]));
        let mut part = Part::new("net", store(), adam(), Some((store(), config)));
        part.start_from(&source, Path::new("source")).unwrap();
        for vs in [part.vars(), part.ema().unwrap().vars()] {
            let vars = vs.variables();
            assert!(vars["w"].equal(&averaged["w"]));
            assert!(vars["b"].equal(&averaged["b"]));
        }
        assert_eq!(part.optimizer_steps(), 0);
        let (_, param) = part.params().iter().find(|(n, _)| n == "w").unwrap();
        assert!(param.equal(&averaged["w"]), "the optimizer's view of w");
        let grads: Vec<Tensor> = part.params().iter().map(|(_, p)| p.ones_like()).collect();
        part.apply_gradients(&grads);
        assert!(!part.vars().variables()["w"].equal(&averaged["w"]));
    }

    /// Named gradients land on their own parameters whatever their order.
    #[test]
    fn named_gradients_are_matched_by_name() {
        let mut by_order = Part::new("net", store(), adam(), None);
        let mut by_name = Part::new("net", store(), adam(), None);
        let grads: Vec<Tensor> = by_order
            .params()
            .iter()
            .map(|(_, p)| p.detach() * 2.0 + 1.0)
            .collect();
        let mut named: Vec<(String, Tensor)> = by_order
            .params()
            .iter()
            .zip(&grads)
            .map(|((name, _), g)| (name.clone(), g.copy()))
            .collect();
        named.reverse();
        by_order.apply_gradients(&grads);
        by_name.apply_named_gradients(named);
        let (ordered, matched) = (by_order.vars().variables(), by_name.vars().variables());
        for name in ["w", "b"] {
            assert!(ordered[name].equal(&matched[name]), "{name}");
            assert!(
                !ordered[name].equal(&store().variables()[name]),
                "{name} moved"
            );
        }
    }

    #[test]
    #[should_panic(expected = "no gradient for parameter")]
    fn a_missing_named_gradient_is_named() {
        let mut part = Part::new("net", store(), adam(), None);
        part.apply_named_gradients(vec![(
            "w".into(),
            Tensor::ones([3], (Kind::Float, Device::Cpu)),
        )]);
    }

    #[test]
    fn a_non_finite_shadow_is_named() {
        let config = EmaConfig {
            decay: 0.5,
            warmup: false,
            normalization: EmaNormalization::Copy,
        };
        let part = Part::new("net", store(), adam(), Some((store(), config)));
        part.check_finite(3).unwrap();
        tch::no_grad(|| {
            let _ = part.ema().unwrap().vars().variables()["w"]
                .shallow_clone()
                .fill_(f64::NAN);
        });
        let err = part.check_finite(3).unwrap_err().to_string();
        assert!(err.contains("net_ema.w"), "{err}");
    }
}
