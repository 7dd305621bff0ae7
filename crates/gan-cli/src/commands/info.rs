//! `gan info`: versions, threads and devices, for bug reports and setup checks.

use gan_training::{TrainConfig, DEFAULT_PRESET};
use tch::{utils, Cuda};

pub fn run() -> anyhow::Result<()> {
    println!("gan-rs    {}", env!("CARGO_PKG_VERSION"));
    println!("tch       {}", env!("GAN_TCH_VERSION"));
    println!(
        "libtorch  {} ({})",
        env!("GAN_LIBTORCH_VERSION"),
        env!("GAN_LIBTORCH_LIB")
    );
    println!(
        "threads   {} intra-op, {} inter-op ({} logical CPUs)",
        utils::get_num_threads(),
        utils::get_num_interop_threads(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!(
        "cpu       MKL {}, oneDNN {}, OpenMP {}",
        yes_no(utils::has_mkl()),
        yes_no(utils::has_mkldnn()),
        yes_no(utils::has_openmp())
    );
    matmul_line()?;
    if Cuda::is_available() {
        let names = gpu_names();
        println!(
            "cuda      available: {} device(s){}{}",
            Cuda::device_count(),
            if names.is_empty() { "" } else { ": " },
            names.join(", ")
        );
        println!("cudnn     {}", yes_no(Cuda::cudnn_is_available()));
    } else if env!("GAN_LIBTORCH_CUDA") == "true" {
        println!("cuda      not available (libtorch has CUDA support; no GPU or driver found)");
    } else {
        println!("cuda      not available (libtorch built without CUDA)");
    }
    println!(
        "mps       {}",
        if utils::has_mps() {
            "available"
        } else {
            "not available"
        }
    );
    Ok(())
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// libtorch has no device-name query in tch; the driver's tool knows.
fn gpu_names() -> Vec<String> {
    std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=name", "--format=csv,noheader"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .map(|l| l.trim().to_owned())
                .filter(|l| !l.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// What `--matmul auto` chooses for the default preset on this machine, and why (measured
/// now, or read from the cache a run left).
fn matmul_line() -> anyhow::Result<()> {
    let mut config = TrainConfig::preset(DEFAULT_PRESET)?;
    let Some(tuning) = gan_training::pin_matmul(&mut config, tch::Device::Cpu)? else {
        anyhow::bail!("preset {DEFAULT_PRESET} does not ask for --matmul auto");
    };
    println!(
        "matmul    --matmul auto on the CPU, preset {DEFAULT_PRESET} at batch {}: {}",
        config.batch_size,
        tuning.reason()
    );
    Ok(())
}
