//! `--matmul auto` by measurement: a run's own matrix products, timed at start-up with BLAS
//! and with oneDNN in the form the run would use it (a dense layer run through autograd pays
//! copies into and out of oneDNN's layout around each product; a chain of [`crate::manual`]
//! multiplies plain tensors, its operands laid out as each product's role gives them),
//! choose the kernel of its dense layers. Which library
//! wins depends on the CPU (MKL's AVX-512 paths run on Intel only; oneDNN's on any AVX-512
//! CPU), on the shapes and on the thread count, so the choice is measured rather than ruled;
//! it is cached per CPU model, libtorch version, thread count, set of products and form, and the
//! first choice written for a key stays (runs and their resumes on one machine multiply the
//! same way).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use tch::{Device, Kind, Tensor};

use crate::error::ModelError;
use crate::matmul::{from_onednn, onednn_runs_on, to_onednn, MatmulKernel};
use crate::plain_onednn;

/// What a product does in a step, which fixes how a chain lays out its operands. (The
/// values are part of cache keys.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProductRole {
    /// A layer's output: its input times its weight as stored.
    Forward = 0,
    /// A layer's weight gradient `gᵀ·x`: the right operand is the input, as a transposed view.
    WeightGradient = 1,
    /// A layer's input gradient `g·W`: the right operand is the weight, as a transposed view.
    InputGradient = 2,
}

/// `count` products of an `m × k` and a `k × n` matrix in one step, each doing `role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepProduct {
    pub shape: (i64, i64, i64),
    pub count: u32,
    pub role: ProductRole,
}

impl StepProduct {
    pub fn new(shape: (i64, i64, i64), count: u32, role: ProductRole) -> StepProduct {
        StepProduct { shape, count, role }
    }

    /// Floating-point operations of all `count` products.
    pub fn flops(&self) -> f64 {
        let (m, k, n) = self.shape;
        2.0 * (m * k * n) as f64 * f64::from(self.count)
    }
}

/// One step's products.
pub type Products = [StepProduct];

/// How a run's dense layers would use oneDNN, and so what `auto` times for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OneDnnForm {
    /// Layers run through autograd: each product pays copies into and out of oneDNN's layout.
    Layer,
    /// Chains ([`crate::manual`]) on plain tensors: no copies, each product's operands as its
    /// role lays them out. Where this libtorch lacks the op, chains run as layers do.
    Plain,
}

impl OneDnnForm {
    /// The form chains take with this libtorch: [`OneDnnForm::Plain`] where it has the op.
    fn of_chains() -> OneDnnForm {
        if plain_onednn::available() {
            OneDnnForm::Plain
        } else {
            OneDnnForm::Layer
        }
    }

    fn describe(self) -> &'static str {
        match self {
            OneDnnForm::Layer => "with its layout copies",
            OneDnnForm::Plain => "on plain tensors",
        }
    }
}

/// For layers, oneDNN is chosen only when it is at least this much faster: within it, the
/// libraries tie and BLAS (libtorch's default) keeps the run like everyone else's. Chains
/// have no such margin: their oneDNN products also apply the activations that a BLAS chain
/// runs as passes of their own, so at equal product times the oneDNN step is the faster.
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
    /// [`crate::manual`]), where this libtorch has it: for the ceiling the fastest of the
    /// operand layouts, for a kernel choice the layout of each product's role.
    pub plain_onednn_seconds: Option<f64>,
    /// Each product with the fastest of these: the step's GEMM limit on this machine.
    pub best_seconds: f64,
}

/// What [`time_products`] is for, and so which forms it times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timing {
    /// `auto`'s choice: BLAS and oneDNN in the run's form.
    KernelChoice(OneDnnForm),
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
    let plain = match timing {
        Timing::Ceiling => plain_onednn::available(),
        Timing::KernelChoice(form) => form == OneDnnForm::Plain && plain_onednn::available(),
    };
    let mut times = ProductTimes {
        flops: 0.0,
        blas_seconds: 0.0,
        onednn_seconds: (onednn && ceiling).then_some(0.0),
        onednn_layer_seconds: (onednn && (ceiling || !plain)).then_some(0.0),
        plain_onednn_seconds: (onednn && plain).then_some(0.0),
        best_seconds: 0.0,
    };
    for product in products {
        let (m, k, n) = product.shape;
        let count = f64::from(product.count);
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
            // Operand layouts: a weight as stored (forward), a right operand as a transposed
            // view (the gradients), and both operands as transposed views of row-major
            // matrices. The ceiling takes the fastest; a choice, the one the chains use for
            // the product's role.
            let w = b.tr().contiguous();
            let a_view = Tensor::randn([k, m], (Kind::Float, device));
            let a_view = a_view.tr();
            let b_view = b.tr();
            let layouts = match (ceiling, product.role) {
                (true, _) => vec![(&a, &w), (&a, &b_view), (&a_view, &b_view)],
                (false, ProductRole::Forward) => vec![(&a, &w)],
                (false, _) => vec![(&a, &b_view)],
            };
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
        times.flops += product.flops();
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

/// The kernel for measured times, oneDNN's in `form`: for layers, oneDNN when it beats BLAS
/// by [`ONEDNN_MARGIN`]; for chains, the faster.
pub fn faster(blas_seconds: f64, onednn_seconds: Option<f64>, form: OneDnnForm) -> MatmulKernel {
    let margin = match form {
        OneDnnForm::Layer => ONEDNN_MARGIN,
        OneDnnForm::Plain => 1.0,
    };
    match onednn_seconds {
        Some(onednn) if onednn < margin * blas_seconds => MatmulKernel::OneDnn,
        _ => MatmulKernel::Blas,
    }
}

/// What `auto` chose and on what grounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Tuning {
    pub kernel: MatmulKernel,
    /// A step's products with BLAS and with oneDNN in `form`, milliseconds.
    pub blas_ms: f64,
    pub onednn_ms: f64,
    pub form: OneDnnForm,
    /// Read from the cache rather than measured now.
    pub cached: bool,
}

impl Tuning {
    /// One line for logs and `gan info`.
    pub fn reason(&self) -> String {
        format!(
            "{} ({}: a step's products take {:.2} ms with BLAS, {:.2} ms with oneDNN {})",
            self.kernel.name(),
            if self.cached {
                "measured earlier on this machine"
            } else {
                "measured now"
            },
            self.blas_ms,
            self.onednn_ms,
            self.form.describe()
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

/// What the measurement depends on, as one line without tabs. The form's words also mark
/// keys measured the current way, so choices cached by older builds (which timed oneDNN
/// with its copies for every run) are measured again rather than kept.
pub fn cache_key(products: &Products, form: OneDnnForm) -> String {
    // FNV-1a over the shapes, counts and roles: short, and stable across builds.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for product in products {
        let (m, k, n) = product.shape;
        let role = product.role as i64;
        for v in [m, k, n, i64::from(product.count), role] {
            for byte in v.to_le_bytes() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    format!(
        "{} | libtorch {LIBTORCH_VERSION} | {} threads | products {hash:016x} | oneDNN {}",
        cpu_model().replace('\t', " "),
        tch::get_num_threads(),
        form.describe()
    )
}

fn read_cached(cache: &Path, key: &str, form: OneDnnForm) -> Option<Tuning> {
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
            form,
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

/// `auto`'s kernel for a run whose steps multiply `products` on `device`, using oneDNN in
/// `form` if chosen: BLAS where oneDNN cannot run; else the cached choice for this machine,
/// or a measurement (then cached). A cache that cannot be read or written only costs the
/// measurement.
pub fn tune(
    products: &Products,
    form: OneDnnForm,
    device: Device,
    cache: Option<&Path>,
) -> Result<Tuning, ModelError> {
    // Without the op, chains multiply as layers do.
    let form = match form {
        OneDnnForm::Plain => OneDnnForm::of_chains(),
        OneDnnForm::Layer => OneDnnForm::Layer,
    };
    if !onednn_runs_on(device) {
        return Ok(Tuning {
            kernel: MatmulKernel::Blas,
            blas_ms: 0.0,
            onednn_ms: 0.0,
            form,
            cached: false,
        });
    }
    let key = cache_key(products, form);
    if let Some(found) = cache.and_then(|c| read_cached(c, &key, form)) {
        return Ok(found);
    }
    let timing = Timing::KernelChoice(form);
    let times = tch::no_grad(|| time_products(products, device, 3, 7, timing));
    let onednn_seconds = match form {
        OneDnnForm::Layer => times.onednn_layer_seconds,
        OneDnnForm::Plain => times.plain_onednn_seconds,
    };
    let measured = Tuning {
        kernel: faster(times.blas_seconds, onednn_seconds, form),
        blas_ms: 1e3 * times.blas_seconds,
        onednn_ms: 1e3 * onednn_seconds.unwrap_or(f64::INFINITY),
        form,
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
    Ok(match read_cached(cache, &key, form) {
        Some(first) if first.kernel != measured.kernel => first,
        _ => measured,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRODUCTS: &Products = &[
        StepProduct {
            shape: (16, 32, 8),
            count: 2,
            role: ProductRole::Forward,
        },
        StepProduct {
            shape: (8, 16, 32),
            count: 1,
            role: ProductRole::WeightGradient,
        },
    ];

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
        let onednn = onednn_runs_on(Device::Cpu);
        let layer = Timing::KernelChoice(OneDnnForm::Layer);
        let times = time_products(PRODUCTS, Device::Cpu, 1, 3, layer);
        assert_eq!(times.onednn_seconds, None);
        assert_eq!(times.plain_onednn_seconds, None);
        assert_eq!(times.onednn_layer_seconds.is_some(), onednn);
        let plain = Timing::KernelChoice(OneDnnForm::Plain);
        let times = time_products(PRODUCTS, Device::Cpu, 1, 3, plain);
        let has_op = plain_onednn::available();
        assert_eq!(times.onednn_seconds, None);
        assert_eq!(times.plain_onednn_seconds.is_some(), onednn && has_op);
        assert_eq!(times.onednn_layer_seconds.is_some(), onednn && !has_op);
    }

    /// Each form is measured and cached on its own, and says which it timed.
    #[test]
    fn forms_are_measured_apart() {
        if !onednn_runs_on(Device::Cpu) {
            return;
        }
        assert_ne!(
            cache_key(PRODUCTS, OneDnnForm::Layer),
            cache_key(PRODUCTS, OneDnnForm::Plain)
        );
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("matmul-auto.tsv");
        let layer = tune(PRODUCTS, OneDnnForm::Layer, Device::Cpu, Some(&cache)).unwrap();
        let chains = tune(PRODUCTS, OneDnnForm::Plain, Device::Cpu, Some(&cache)).unwrap();
        assert!(!layer.cached && !chains.cached);
        assert_eq!(chains.form, OneDnnForm::of_chains());
        assert!(
            layer.reason().contains("layout copies"),
            "{}",
            layer.reason()
        );
        if plain_onednn::available() {
            assert!(
                chains.reason().contains("plain tensors"),
                "{}",
                chains.reason()
            );
        }
        let again = tune(PRODUCTS, OneDnnForm::Plain, Device::Cpu, Some(&cache)).unwrap();
        assert!(again.cached && again.form == chains.form);
    }

    /// Roles change the key: the same shapes laid out otherwise are another measurement.
    #[test]
    fn roles_are_part_of_the_key() {
        let mut other = PRODUCTS.to_vec();
        other[1].role = ProductRole::InputGradient;
        assert_ne!(
            cache_key(PRODUCTS, OneDnnForm::Plain),
            cache_key(&other, OneDnnForm::Plain)
        );
    }

    #[test]
    fn onednn_must_win_by_the_margin_for_layers() {
        let layer = OneDnnForm::Layer;
        assert_eq!(faster(1.0, Some(0.9), layer), MatmulKernel::OneDnn);
        assert_eq!(faster(1.0, Some(0.97), layer), MatmulKernel::Blas);
        assert_eq!(faster(1.0, None, layer), MatmulKernel::Blas);
        let chains = OneDnnForm::Plain;
        assert_eq!(faster(1.0, Some(0.97), chains), MatmulKernel::OneDnn);
        assert_eq!(faster(1.0, Some(1.02), chains), MatmulKernel::Blas);
        assert_eq!(faster(1.0, None, chains), MatmulKernel::Blas);
    }

    #[test]
    fn the_first_cached_choice_for_a_key_stays() {
        if !onednn_runs_on(Device::Cpu) {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("sub").join("matmul-auto.tsv");
        let form = OneDnnForm::Layer;
        let first = tune(PRODUCTS, form, Device::Cpu, Some(&cache)).unwrap();
        assert!(!first.cached && first.blas_ms > 0.0);
        let again = tune(PRODUCTS, form, Device::Cpu, Some(&cache)).unwrap();
        assert!(again.cached);
        assert_eq!(again.kernel, first.kernel);
        // A line written first by another process for the same key decides.
        let key = cache_key(PRODUCTS, form);
        let other = if first.kernel == MatmulKernel::Blas {
            "onednn"
        } else {
            "blas"
        };
        std::fs::write(&cache, format!("garbage line\n{key}\t{other}\t1.0\t2.0\n")).unwrap();
        let decided = tune(PRODUCTS, form, Device::Cpu, Some(&cache)).unwrap();
        assert_eq!(decided.kernel.name(), other);
        assert!(
            decided.reason().contains("measured earlier"),
            "{}",
            decided.reason()
        );
        // A different set of shapes is measured on its own.
        let other_shapes = &[StepProduct::new((4, 4, 4), 1, ProductRole::Forward)];
        assert!(
            !tune(other_shapes, form, Device::Cpu, Some(&cache))
                .unwrap()
                .cached
        );
    }
}
