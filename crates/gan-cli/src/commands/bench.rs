//! `gan bench`: measurements for `cargo xtask bench`, printed as one JSON object.
//!
//! Training steps/s (after warm-up, median of repeats), generation images/s, MNIST load time,
//! this process's peak RSS, and the GEMM ceiling: the time the matrix products of one step
//! take when timed alone at the same shapes, which bounds steps/s from above. The ceiling is
//! given twice: with libtorch's BLAS (what `torch.mm` uses), and with the faster of BLAS and
//! oneDNN for each product.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use gan_data::{default_data_dir, Mnist, DATA_DIR_ENV};
use gan_models::matmul_tuning::{time_products, ProductTimes, Timing};
use gan_models::MatmulChoice;
use gan_training::{Backprop, DeviceChoice, TrainConfig, Trainer, DEFAULT_PRESET};
use tch::Device;

#[derive(clap::Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct BenchArgs {
    #[arg(long, default_value = DEFAULT_PRESET, value_parser = super::presets::parser())]
    pub preset: String,
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub batch_size: u64,
    /// Steps per timed repeat.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub steps: u64,
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(0..=1_000_000))]
    pub warmup: u64,
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=1_000))]
    pub repeats: u64,
    /// libtorch threads (default: libtorch's choice).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub threads: Option<u64>,
    #[arg(long, value_name = "DIR", env = DATA_DIR_ENV)]
    pub data_dir: Option<PathBuf>,
    /// cpu, cuda (the first GPU), cuda:N, mps or auto (CUDA, else MPS, else CPU). as for every command.
    #[arg(long, default_value = "auto", value_name = "DEVICE", value_parser = super::device_arg)]
    pub device: DeviceChoice,
    /// Matrix products in dense layers: auto, blas or onednn (as `gan train --matmul`).
    #[arg(long, default_value = "auto", value_parser = ["auto", "blas", "onednn"])]
    pub matmul: String,
    /// Gradients: fused or autograd (as `gan train --backprop`).
    #[arg(long, default_value = "fused", value_parser = ["fused", "autograd"])]
    pub backprop: String,
}

pub fn run(args: &BenchArgs) -> Result<()> {
    if let Some(threads) = args.threads {
        tch::set_num_threads(threads as i32);
    }
    let dir = args.data_dir.clone().unwrap_or_else(default_data_dir);
    let mut load_seconds = f64::INFINITY;
    let mut mnist = None;
    for _ in 0..3 {
        let started = Instant::now();
        let loaded =
            Mnist::load(&dir).with_context(|| format!("loading MNIST from {}", dir.display()))?;
        load_seconds = load_seconds.min(started.elapsed().as_secs_f64());
        mnist = Some(loaded);
    }
    let mnist = mnist.context("MNIST was not loaded")?;

    let mut config = TrainConfig::preset(&args.preset)?;
    config.batch_size = args.batch_size as usize;
    config.device = args.device;
    config.matmul = MatmulChoice::parse(&args.matmul)?;
    config.backprop = Backprop::parse(&args.backprop)
        .with_context(|| format!("--backprop {}: choose fused or autograd", args.backprop))?;
    config.threads = args.threads.unwrap_or(0) as usize;
    config.steps = u64::MAX / 2;
    let mut trainer = Trainer::new(&config, &mnist.train)?;
    let device = trainer.device();
    for _ in 0..args.warmup {
        trainer.step()?;
    }
    let mut rates = Vec::new();
    for _ in 0..args.repeats {
        let started = Instant::now();
        for _ in 0..args.steps {
            trainer.step()?;
        }
        synchronize(device);
        rates.push(args.steps as f64 / started.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    let steps_per_second = rates[rates.len() / 2];

    // An EMA's normalisation statistics and a fitted prior are derived once after training,
    // not per call.
    trainer.prepare_sampling()?;
    let started = Instant::now();
    let generated = trainer.generate(10_000, 0)?;
    let generation_images_per_second =
        generated.images.count as f64 / started.elapsed().as_secs_f64();

    let ceiling = gemm_ceiling(&config, device)?;
    let object = serde_json::json!({
        "preset": args.preset,
        "batch_size": args.batch_size,
        "threads": tch::get_num_threads(),
        "device": format!("{device:?}"),
        "steps_per_second": steps_per_second,
        "steps_per_second_repeats": rates,
        "generation_images_per_second": generation_images_per_second,
        "mnist_load_seconds": load_seconds,
        "matmul": trainer.matmul().name(),
        "backprop": trainer.backprop().name(),
        "step_gemm_flops": ceiling.flops,
        "step_gemm_blas_seconds": ceiling.blas_seconds,
        "step_gemm_onednn_seconds": ceiling.onednn_seconds,
        "step_gemm_plain_onednn_seconds": ceiling.plain_onednn_seconds,
        "step_gemm_ceiling_seconds": ceiling.best_seconds,
        "peak_rss_bytes": peak_rss_bytes(),
    });
    println!("{object}");
    Ok(())
}

fn synchronize(device: Device) {
    if let Device::Cuda(i) = device {
        tch::Cuda::synchronize(i as i64);
    }
}

/// Each of the step's products warmed up, then the median of 20 runs, per library.
fn gemm_ceiling(config: &TrainConfig, device: Device) -> anyhow::Result<ProductTimes> {
    let step = gan_training::probe::step_products(config)?;
    Ok(tch::no_grad(|| {
        time_products(&step.products, device, 5, 20, Timing::Ceiling)
    }))
}

/// This process's peak resident set size (Linux `VmHWM`), if known.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
