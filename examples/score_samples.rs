//! Score samples of a run with the evaluation protocol of `gan eval`: `score_samples RUN_DIR [N]`.

use std::path::PathBuf;

use gan_eval::Evaluator;
use gan_training::{SampleWeights, TrainedGenerator};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let run = PathBuf::from(args.next().ok_or("give a run directory")?);
    let n: usize = args.next().map_or(Ok(10_000), |n| n.parse())?;

    let mnist = gan_data::Mnist::load(&gan_data::default_data_dir())?;
    let evaluator = Evaluator::new(&mnist.test, tch::Device::Cpu)?;
    let generator = TrainedGenerator::load(&run, tch::Device::Cpu, SampleWeights::Ema)?;
    let samples = generator.generate(n, 0, None)?;
    let report = evaluator.evaluate(&samples.images)?;
    println!("{report}");
    Ok(())
}
