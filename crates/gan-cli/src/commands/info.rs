//! `gan info`: versions, threads and devices, for bug reports and setup checks.

use gan_training::{TrainConfig, DEFAULT_PRESET};
use tch::{utils, Cuda};

#[derive(clap::Args, Debug)]
pub struct InfoArgs {
    /// One JSON object instead of lines: versions, threads, CPU features, the matmul choice,
    /// CUDA and MPS.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &InfoArgs) -> anyhow::Result<()> {
    if args.json {
        return print_json();
    }
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
        logical_cpus()
    );
    println!(
        "cpu       MKL {}, oneDNN {}, OpenMP {}",
        yes_no(utils::has_mkl()),
        yes_no(utils::has_mkldnn()),
        yes_no(utils::has_openmp())
    );
    let (batch, tuning) = matmul_choice()?;
    println!(
        "matmul    --matmul auto on the CPU, preset {DEFAULT_PRESET} at batch {batch}: {}",
        tuning.reason()
    );
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

/// The same facts as one JSON object, for scripts.
fn print_json() -> anyhow::Result<()> {
    let (batch, tuning) = matmul_choice()?;
    let cuda = Cuda::is_available();
    let info = serde_json::json!({
        "gan_rs": env!("CARGO_PKG_VERSION"),
        "tch": env!("GAN_TCH_VERSION"),
        "libtorch": env!("GAN_LIBTORCH_VERSION"),
        "libtorch_lib": env!("GAN_LIBTORCH_LIB"),
        "libtorch_cuda": env!("GAN_LIBTORCH_CUDA") == "true",
        "threads": {
            "intra_op": utils::get_num_threads(),
            "inter_op": utils::get_num_interop_threads(),
            "logical_cpus": logical_cpus(),
        },
        "cpu": {
            "mkl": utils::has_mkl(),
            "onednn": utils::has_mkldnn(),
            "openmp": utils::has_openmp(),
        },
        "matmul_auto": {
            "preset": DEFAULT_PRESET,
            "batch_size": batch,
            "kernel": tuning.kernel.name(),
            "blas_ms": tuning.blas_ms,
            "onednn_ms": tuning.onednn_ms,
            "cached": tuning.cached,
        },
        "cuda": {
            "available": cuda,
            "devices": if cuda { Cuda::device_count() } else { 0 },
            "names": if cuda { gpu_names() } else { Vec::new() },
            "cudnn": cuda && Cuda::cudnn_is_available(),
        },
        "mps": utils::has_mps(),
    });
    println!("{info}");
    Ok(())
}

fn logical_cpus() -> usize {
    std::thread::available_parallelism().map_or(0, |n| n.get())
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

/// What `--matmul auto` chooses for the default preset on this machine (measured now, or
/// read from the cache a run left), with the batch size it was chosen at.
fn matmul_choice() -> anyhow::Result<(usize, gan_models::matmul_tuning::Tuning)> {
    let mut config = TrainConfig::preset(DEFAULT_PRESET)?;
    let Some(tuning) = gan_training::pin_matmul(&mut config, tch::Device::Cpu)? else {
        anyhow::bail!("preset {DEFAULT_PRESET} does not ask for --matmul auto");
    };
    Ok((config.batch_size, tuning))
}
