//! Train a preset into a run directory: `train_preset PRESET RUN_DIR [STEPS]`.

use std::path::PathBuf;

use gan_training::{run, RunDir, TrainConfig, Trainer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let preset = args.next().unwrap_or_else(|| "mlp".to_owned());
    let out = PathBuf::from(args.next().unwrap_or_else(|| "runs/example".to_owned()));
    let mut config = TrainConfig::preset(&preset)?;
    if let Some(steps) = args.next() {
        config.steps = steps.parse()?;
    }

    let mnist = gan_data::Mnist::load(&gan_data::default_data_dir())?;
    let dir = RunDir::create(&out, &config)?;
    let mut trainer = Trainer::new(&config, &mnist.train)?;
    let outcome = run::train(&mut trainer, &dir, &mut run::Silent, 0.0, None)?;
    println!(
        "{preset}: {} steps in {:.1} s into {}",
        outcome.steps_done,
        outcome.elapsed_seconds,
        out.display()
    );
    Ok(())
}
