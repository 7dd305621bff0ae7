//! `--matmul auto` by measurement: a run's own matrix products, timed at start-up with BLAS
//! and with oneDNN's dense layer (with the copies into and out of oneDNN's layout that a
//! layer pays around each product), choose the kernel of its dense layers. Which library
//! wins depends on the CPU (MKL's AVX-512 paths run on Intel only; oneDNN's on any AVX-512
//! CPU), on the shapes and on the thread count, so the choice is measured rather than ruled;
//! it is cached per CPU model, libtorch version, thread count and set of shapes, and the
//! first choice written for a key stays (runs and their resumes on one machine multiply the
//! same way).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use tch::{Device, Kind, Tensor};

use crate::error::ModelError;
use crate::matmul::{from_onednn, onednn_runs_on, to_onednn, MatmulKernel};
use crate::plain_onednn;

/// One step's products: `((m, k, n), count)` for `count` products of an `m × k` and a
/// `k × n` matrix.
pub type Products = [((i64, i64, i64), u32)];

/// oneDNN is chosen only when it is at least this much faster: within it, the libraries tie
/// and BLAS (libtorch's default) keeps the run like everyone else's.
pub const ONEDNN_MARGIN: f64 = 0.95;

/// The libtorch the build linked, for the cache key.
const LIBTORCH_VERSION: &str = env!("GAN_LIBTORCH_VERSION");

/// Seconds of a step's products with each library.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProductTimes {
    /// Floating-point operations of the step's products.
    pub flops: f64,
    pub blas_seconds: f64,
    /// `None` where oneDNN cannot run. Its dense-layer form (`mkldnn_linear`, input already
    /// in oneDNN's layout).
    pub onednn_seconds: Option<f64>,
    /// The same with the copies into and out of oneDNN's layout that a dense layer run
    /// through autograd pays around each product: what `auto` weighs against BLAS.
    pub onednn_layer_seconds: Option<f64>,
    /// oneDNN's product on plain tensors (no layout conversions, see the chains of
    /// [`crate::manual`]), where this libtorch has it.
    pub plain_onednn_seconds: Option<f64>,
    /// Each product with the fastest of these: the step's GEMM limit on this machine.
    pub best_seconds: f64,
}

/// What [`time_products`] is for, and so which forms it times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// `auto`'s choice: BLAS and oneDNN's dense layer with its copies.
    KernelChoice,
    /// The bench's ceilings: every form, the fastest counting.
    Ceiling,
}

/// Times each product `runs` times after `warmup` calls, in the forms `timing` asks for, and
/// weighs the medians by the counts.
pub fn time_products(
    products: &Products,
    device: Device,
    warmup: usize,
    runs: usize,
    timing: Timing,
) -> ProductTimes {
    let onednn = onednn_runs_on(device);
    let ceiling = timing == Timing::Ceiling;
    let mut times = ProductTimes {
        flops: 0.0,
        blas_seconds: 0.0,
        onednn_seconds: (onednn && ceiling).then_some(0.0),
        onednn_layer_seconds: onednn.then_some(0.0),
        plain_onednn_seconds: (onednn && ceiling && plain_onednn::available()).then_some(0.0),
        best_seconds: 0.0,
    };
    for &((m, k, n), count) in products {
        let count = f64::from(count);
        let a = Tensor::randn([m, k], (Kind::Float, device));
        let b = Tensor::randn([k, n], (Kind::Float, device));
        let blas = median_seconds(device, warmup, runs, || {
            let _ = a.matmul(&b);
        });
        let mut best = blas;
        if let Some(total) = times.onednn_seconds.as_mut() {
            // oneDNN multiplies by a transposed (out × in) weight, as a dense layer holds it.
            let (a, w) = (a.to_mkldnn(), b.tr().contiguous());
            let seconds = median_seconds(device, warmup, runs, || {
                let _ = a.mkldnn_linear(&w, None::<Tensor>);
            });
            *total += seconds * count;
            best = best.min(seconds);
        }
        if let Some(total) = times.onednn_layer_seconds.as_mut() {
            let w = b.tr().contiguous();
            let seconds = median_seconds(device, warmup, runs, || {
                let _ = from_onednn(&to_onednn(&a).mkldnn_linear(&w, None::<Tensor>));
            });
            *total += seconds * count;
            best = best.min(seconds);
        }
        if let Some(total) = times.plain_onednn_seconds.as_mut() {
            // The operand layouts the chains use: a weight as stored (forward), a weight's
            // transpose as a view (input gradient), and both operands as transposed views of
            // row-major matrices (weight gradient); the fastest counts.
            let w = b.tr().contiguous();
            let a_view = Tensor::randn([k, m], (Kind::Float, device));
            let a_view = a_view.tr();
            let layouts = [(&a, &w), (&a, &b.tr()), (&a_view, &b.tr())];
            let seconds = layouts
                .into_iter()
                .map(|(a, w)| {
                    median_seconds(device, warmup, runs, || {
                        let _ = plain_onednn::linear(a, w, None);
                    })
                })
                .fold(f64::INFINITY, f64::min);
            *total += seconds * count;
            best = best.min(seconds);
        }
        times.blas_seconds += blas * count;
        times.best_seconds += best * count;
        times.flops += 2.0 * (m * k * n) as f64 * count;
    }
    times
}

fn median_seconds(device: Device, warmup: usize, runs: usize, mut product: impl FnMut()) -> f64 {
    for _ in 0..warmup {
        product();
    }
    let mut times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let started = Instant::now();
            product();
            if let Device::Cuda(_) = device {
                tch::Cuda::synchronize(0);
            }
            started.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The kernel for measured times: oneDNN when it beats BLAS by [`ONEDNN_MARGIN`].
pub fn faster(blas_seconds: f64, onednn_seconds: Option<f64>) -> MatmulKernel {
    match onednn_seconds {
        Some(onednn) if onednn < ONEDNN_MARGIN * blas_seconds => MatmulKernel::OneDnn,
        _ => MatmulKernel::Blas,
    }
}

/// What `auto` chose and on what grounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuning {
    pub kernel: MatmulKernel,
    /// A step's products with BLAS and with oneDNN, milliseconds.
    pub blas_ms: f64,
    pub onednn_ms: f64,
    /// Read from the cache rather than measured now.
    pub cached: bool,
}

impl Tuning {
    /// One line for logs and `gan info`.
    pub fn reason(&self) -> String {
        format!(
            "{} ({}: a step's products take {:.2} ms with BLAS, {:.2} ms with oneDNN)",
            self.kernel.name(),
            if self.cached {
                "measured earlier on this machine"
            } else {
                "measured now"
            },
            self.blas_ms,
            self.onednn_ms
        )
    }
}

/// Names another cache file (tests keep theirs apart from a user's); empty for none.
pub const CACHE_ENV: &str = "GAN_MATMUL_CACHE";

/// `$GAN_MATMUL_CACHE`, else `~/.cache/gan-rs/matmul-auto.tsv` (or under `$XDG_CACHE_HOME`).
pub fn default_cache_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(CACHE_ENV) {
        return (!path.is_empty()).then(|| PathBuf::from(path));
    }
    Some(
        gan_data::paths::cache_dir()?
            .join("gan-rs")
            .join("matmul-auto.tsv"),
    )
}

/// The CPU's model name (Linux), for the cache key.
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("model name"))?;
            Some(line.split_once(':')?.1.trim().to_owned())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_owned())
}

/// Marks keys measured the current way (oneDNN timed with its layout copies), so choices
/// cached before are measured again rather than kept.
const MEASURE_VERSION: &str = " | with copies";

/// What the measurement depends on, as one line without tabs.
pub fn cache_key(products: &Products) -> String {
    // FNV-1a over the shapes and counts: short, and stable across builds.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &((m, k, n), count) in products {
        for v in [m, k, n, i64::from(count)] {
            for byte in v.to_le_bytes() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    format!(
        "{} | libtorch {LIBTORCH_VERSION} | {} threads | products {hash:016x}{MEASURE_VERSION}",
        cpu_model().replace('\t', " "),
        tch::get_num_threads()
    )
}

fn read_cached(cache: &Path, key: &str) -> Option<Tuning> {
    let text = std::fs::read_to_string(cache).ok()?;
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split('\t').collect();
        let [k, kernel, blas, onednn] = fields[..] else {
            return None;
        };
        let kernel = match kernel {
            "blas" => MatmulKernel::Blas,
            "onednn" => MatmulKernel::OneDnn,
            _ => return None,
        };
        (k == key).then_some(Tuning {
            kernel,
            blas_ms: blas.parse().ok()?,
            onednn_ms: onednn.parse().ok()?,
            cached: true,
        })
    })
}

/// Appends one line; a short append lands whole, and readers take the first line of a key,
/// so processes measuring at once still agree.
fn append_cached(cache: &Path, key: &str, tuning: &Tuning) -> std::io::Result<()> {
    if let Some(dir) = cache.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let line = format!(
        "{key}\t{}\t{:.4}\t{:.4}\n",
        tuning.kernel.name(),
        tuning.blas_ms,
        tuning.onednn_ms
    );
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(cache)?
        .write_all(line.as_bytes())
}

/// `auto`'s kernel for a run whose steps multiply `products` on `device`: BLAS where oneDNN
/// cannot run; else the cached choice for this machine, or a measurement (then cached). A
/// cache that cannot be read or written only costs the measurement.
pub fn tune(
    products: &Products,
    device: Device,
    cache: Option<&Path>,
) -> Result<Tuning, ModelError> {
    if !onednn_runs_on(device) {
        return Ok(Tuning {
            kernel: MatmulKernel::Blas,
            blas_ms: 0.0,
            onednn_ms: 0.0,
            cached: false,
        });
    }
    let key = cache_key(products);
    if let Some(found) = cache.and_then(|c| read_cached(c, &key)) {
        return Ok(found);
    }
    let times = tch::no_grad(|| time_products(products, device, 3, 7, Timing::KernelChoice));
    let onednn = times.onednn_layer_seconds.unwrap_or(f64::INFINITY);
    let measured = Tuning {
        kernel: faster(times.blas_seconds, times.onednn_layer_seconds),
        blas_ms: 1e3 * times.blas_seconds,
        onednn_ms: 1e3 * onednn,
        cached: false,
    };
    let Some(cache) = cache else {
        return Ok(measured);
    };
    if let Err(e) = append_cached(cache, &key, &measured) {
        tracing::warn!(path = %cache.display(), "could not cache the matmul measurement: {e}");
        return Ok(measured);
    }
    // Another process may have cached this key first; its choice wins for everyone.
    Ok(match read_cached(cache, &key) {
        Some(first) if first.kernel != measured.kernel => first,
        _ => measured,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRODUCTS: &Products = &[((16, 32, 8), 2), ((8, 16, 32), 1)];

    #[test]
    fn products_are_timed_and_counted() {
        let times = time_products(PRODUCTS, Device::Cpu, 1, 3, Timing::Ceiling);
        assert_eq!(
            times.flops,
            2.0 * (16.0 * 32.0 * 8.0 * 2.0 + 8.0 * 16.0 * 32.0)
        );
        assert!(times.blas_seconds > 0.0 && times.best_seconds <= times.blas_seconds);
        for onednn in [times.onednn_seconds, times.plain_onednn_seconds]
            .into_iter()
            .flatten()
        {
            assert!(onednn > 0.0 && times.best_seconds <= onednn);
        }
        assert_eq!(
            times.onednn_layer_seconds.is_some(),
            times.onednn_seconds.is_some()
        );
        assert_eq!(
            times.plain_onednn_seconds.is_some(),
            times.onednn_seconds.is_some() && plain_onednn::available()
        );
    }

    #[test]
    fn a_kernel_choice_times_only_what_it_weighs() {
        let times = time_products(PRODUCTS, Device::Cpu, 1, 3, Timing::KernelChoice);
        assert_eq!(times.onednn_seconds, None);
        assert_eq!(times.plain_onednn_seconds, None);
        assert_eq!(
            times.onednn_layer_seconds.is_some(),
            onednn_runs_on(Device::Cpu)
        );
    }

    #[test]
    fn onednn_must_win_by_the_margin() {
        assert_eq!(faster(1.0, Some(0.9)), MatmulKernel::OneDnn);
        assert_eq!(faster(1.0, Some(0.97)), MatmulKernel::Blas);
        assert_eq!(faster(1.0, None), MatmulKernel::Blas);
    }

    #[test]
    fn the_first_cached_choice_for_a_key_stays() {
        if !onednn_runs_on(Device::Cpu) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("sub").join("matmul-auto.tsv");
        let first = tune(PRODUCTS, Device::Cpu, Some(&cache)).unwrap();
        assert!(!first.cached && first.blas_ms > 0.0);
        let again = tune(PRODUCTS, Device::Cpu, Some(&cache)).unwrap();
        assert!(again.cached);
        assert_eq!(again.kernel, first.kernel);
        // A line written first by another process for the same key decides.
        let key = cache_key(PRODUCTS);
        let other = if first.kernel == MatmulKernel::Blas {
            "onednn"
        } else {
            "blas"
        };
        std::fs::write(&cache, format!("garbage line\n{key}\t{other}\t1.0\t2.0\n")).unwrap();
        let decided = tune(PRODUCTS, Device::Cpu, Some(&cache)).unwrap();
        assert_eq!(decided.kernel.name(), other);
        assert!(
            decided.reason().contains("measured earlier"),
            "{}",
            decided.reason()
        );
        // A different set of shapes is measured on its own.
        let other_shapes: &Products = &[((4, 4, 4), 1)];
        assert!(
            !tune(other_shapes, Device::Cpu, Some(&cache))
                .unwrap()
                .cached
        );
    }
}
