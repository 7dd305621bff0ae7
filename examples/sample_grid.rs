//! Load a run and draw 64 of its samples as an 8×8 grid: `sample_grid RUN_DIR GRID.png`.

use std::path::PathBuf;

use gan_training::{SampleWeights, TrainedGenerator};
use gan_viz::{render_grid, GrayImages, GridStyle};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let run = PathBuf::from(args.next().ok_or("give a run directory")?);
    let grid = PathBuf::from(args.next().unwrap_or_else(|| "grid.png".to_owned()));

    let generator = TrainedGenerator::load(&run, tch::Device::Cpu, SampleWeights::Ema)?;
    let samples = generator.generate(64, 0, None)?;
    let images = &samples.images;
    let gray = GrayImages {
        pixels: &images.pixels,
        rows: images.rows,
        cols: images.cols,
    };
    render_grid(gray, GridStyle::new(8, 8))?.save_png(&grid)?;
    println!("wrote {}", grid.display());
    Ok(())
}
