//! Train a preset into a run directory: `train_preset PRESET RUN_DIR [STEPS]`. The run is
//! the one `gan train` makes (checked before any write, locked, with its history); run it
//! again on the same directory to resume it.

use std::path::PathBuf;

use gan_training::session::{train_run, Plan};
use gan_training::{run, RunDir, TrainConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let preset = args.next().unwrap_or_else(|| "mlp".to_owned());
    let out = PathBuf::from(args.next().unwrap_or_else(|| "runs/example".to_owned()));
    let steps = args.next().map(|s| s.parse()).transpose()?;

    let mnist = gan_data::Mnist::load(&gan_data::default_data_dir())?;
    let plan = if RunDir::holds_run(&out) {
        Plan::Resume {
            dir: out.clone(),
            steps,
            from_step: None,
        }
    } else {
        let mut config = TrainConfig::preset(&preset)?;
        config.steps = steps.unwrap_or(config.steps);
        Plan::New {
            config,
            out: out.clone(),
            overwrite: false,
        }
    };
    let outcome = train_run(plan, &mnist, &mut run::Silent)?.outcome;
    println!(
        "{preset}: {} steps in {:.1} s into {}",
        outcome.steps_done,
        outcome.elapsed_seconds,
        out.display()
    );
    Ok(())
}
