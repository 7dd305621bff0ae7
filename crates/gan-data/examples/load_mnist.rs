//! Loads MNIST and reports how long the validating IDX reader takes.
//!
//! `cargo run --release -p gan-data --example load_mnist [DIR]`

use std::time::Instant;

fn main() -> Result<(), gan_data::DataError> {
    let dir = std::env::args_os()
        .nth(1)
        .map(Into::into)
        .unwrap_or_else(gan_data::default_data_dir);
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let started = Instant::now();
        let mnist = gan_data::Mnist::load(&dir)?;
        best = best.min(started.elapsed().as_secs_f64());
        assert_eq!(mnist.train.len() + mnist.test.len(), 70_000);
    }
    println!(
        "loaded MNIST (60,000 + 10,000 images, gzipped) from {}: best of 5 {:.1} ms",
        dir.display(),
        best * 1e3
    );
    Ok(())
}
