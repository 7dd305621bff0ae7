//! The elementwise work between a chain's products, as single passes over `rows × cols`
//! row-major `f32` buffers: an activation and a BatchNorm forward together, and their
//! backward together. Columns are features; each thread of libtorch's OpenMP team takes a
//! contiguous range of them, so every inner loop runs along a row's contiguous slice and
//! vectorises, and no two threads write the same value.

use crate::omp;

/// A buffer shared by the threads of one pass, each touching its own columns only.
#[derive(Clone, Copy)]
pub(crate) struct Buffer(*mut f32);

// SAFETY: the passes below give each thread a disjoint column range of every buffer they
// write, and the buffers outlive the pass (the caller holds their tensors).
unsafe impl Send for Buffer {}
unsafe impl Sync for Buffer {}

impl Buffer {
    /// # Safety
    /// `ptr` must address a live, contiguous `f32` buffer that nothing else touches while
    /// the pass it is given to runs.
    pub(crate) unsafe fn new(ptr: *mut f32) -> Self {
        Buffer(ptr)
    }

    /// Columns `lo..hi` of row `row` of a `cols`-wide matrix.
    ///
    /// # Safety
    /// The buffer holds at least `(row + 1) · cols` values, `lo ≤ hi ≤ cols`, and no other
    /// thread uses these columns meanwhile.
    #[allow(clippy::mut_from_ref)]
    unsafe fn row(&self, row: usize, cols: usize, lo: usize, hi: usize) -> &mut [f32] {
        unsafe { std::slice::from_raw_parts_mut(self.0.add(row * cols + lo), hi - lo) }
    }

    /// Values `lo..hi` of a vector.
    ///
    /// # Safety
    /// As [`Buffer::row`] with one row.
    #[allow(clippy::mut_from_ref)]
    unsafe fn range(&self, lo: usize, hi: usize) -> &mut [f32] {
        unsafe { self.row(0, 0, lo, hi) }
    }
}

/// One fused pass, done for a range of columns at a time.
trait ColumnPass: Sync {
    /// The pass over columns `lo..hi`, every row.
    ///
    /// # Safety
    /// The pass's buffers are as its constructor's caller promised, and no other thread
    /// touches these columns meanwhile.
    unsafe fn columns(&self, lo: usize, hi: usize);
}

/// Runs `pass` over disjoint column ranges covering `0..cols`, on libtorch's threads when
/// the matrix is large enough to pay for waking them.
///
/// # Safety
/// As [`ColumnPass::columns`] for the whole matrix.
unsafe fn by_columns<P: ColumnPass>(rows: usize, cols: usize, pass: &P) {
    omp::on_each_thread_or_alone(rows * cols, &|index, count| {
        let (lo, hi) = omp::share(cols, index, count);
        if lo < hi {
            // SAFETY: the caller's promise; the shares are disjoint.
            unsafe { vectorised(pass, lo, hi) };
        }
    });
}

/// Columns a thread takes at a time. A BatchNorm's passes read the same values two or three
/// times (statistics, then normalisation); a chunk of `rows × 64` values (256 KB at batch
/// 1,024) is still in the core's own cache for the later passes, where a thread's whole share
/// would have to come from memory again.
const CHUNK_COLUMNS: usize = 64;

/// The pass over columns `lo..hi`, a chunk at a time.
///
/// # Safety
/// As [`ColumnPass::columns`] for these columns.
unsafe fn vectorised<P: ColumnPass>(pass: &P, lo: usize, hi: usize) {
    let mut start = lo;
    while start < hi {
        let end = (start + CHUNK_COLUMNS).min(hi);
        // SAFETY: the caller's promise, for a part of its columns.
        unsafe { vectorised_chunk(pass, start, end) };
        start = end;
    }
}

/// The pass compiled for the widest vectors the CPU has (the crate's baseline is SSE2).
unsafe fn vectorised_chunk<P: ColumnPass>(pass: &P, lo: usize, hi: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above; the rest is the caller's.
            return unsafe { with_avx512(pass, lo, hi) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above; the rest is the caller's.
            return unsafe { with_avx2(pass, lo, hi) };
        }
    }
    // SAFETY: the caller's promise.
    unsafe { pass.columns(lo, hi) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn with_avx512<P: ColumnPass>(pass: &P, lo: usize, hi: usize) {
    // SAFETY: the caller's promise.
    unsafe { pass.columns(lo, hi) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn with_avx2<P: ColumnPass>(pass: &P, lo: usize, hi: usize) {
    // SAFETY: the caller's promise.
    unsafe { pass.columns(lo, hi) }
}

#[inline(always)]
fn leaky(value: f32, slope: f32) -> f32 {
    if value > 0.0 {
        value
    } else {
        value * slope
    }
}

/// The shape of a pass and the activation's slope for negative inputs (0 for ReLU).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    pub(crate) rows: usize,
    pub(crate) cols: usize,
    pub(crate) slope: f32,
}

/// BatchNorm's parameters and running statistics, one value per column.
#[derive(Clone, Copy)]
pub(crate) struct NormBuffers {
    pub(crate) gamma: Buffer,
    pub(crate) beta: Buffer,
    pub(crate) running_mean: Buffer,
    pub(crate) running_var: Buffer,
    pub(crate) momentum: f32,
    pub(crate) eps: f32,
}

struct Activate {
    a: Buffer,
    shape: Shape,
}

impl ColumnPass for Activate {
    #[inline(always)]
    unsafe fn columns(&self, lo: usize, hi: usize) {
        let Shape { rows, cols, slope } = self.shape;
        for row in 0..rows {
            // SAFETY: the constructor's caller's size guarantee; these columns are ours.
            for value in unsafe { self.a.row(row, cols, lo, hi) } {
                *value = leaky(*value, slope);
            }
        }
    }
}

/// `a ← act(a)` in place.
///
/// # Safety
/// `a` holds `rows · cols` values.
pub(crate) unsafe fn activate(a: Buffer, shape: Shape) {
    // SAFETY: the caller's promise.
    unsafe { by_columns(shape.rows, shape.cols, &Activate { a, shape }) }
}

struct ActivateNormalizeTrain {
    a: Buffer,
    y: Buffer,
    norm: NormBuffers,
    mean: Buffer,
    invstd: Buffer,
    shape: Shape,
}

impl ColumnPass for ActivateNormalizeTrain {
    #[inline(always)]
    unsafe fn columns(&self, lo: usize, hi: usize) {
        let Shape { rows, cols, slope } = self.shape;
        let (w, n, momentum) = (hi - lo, rows as f32, self.norm.momentum);
        // SAFETY (every access below): the constructor's caller's size guarantees; these
        // columns are ours.
        let (mean, invstd) = unsafe { (self.mean.range(lo, hi), self.invstd.range(lo, hi)) };
        mean.fill(0.0);
        for row in 0..rows {
            let values = &mut unsafe { self.a.row(row, cols, lo, hi) }[..w];
            let sums = &mut mean[..w];
            for j in 0..w {
                values[j] = leaky(values[j], slope);
                sums[j] += values[j];
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        // Two passes (mean, then squared deviations) keep the variance accurate.
        invstd.fill(0.0);
        for row in 0..rows {
            let values = &unsafe { self.a.row(row, cols, lo, hi) }[..w];
            let (squares, mean) = (&mut invstd[..w], &mean[..w]);
            for j in 0..w {
                let d = values[j] - mean[j];
                squares[j] += d * d;
            }
        }
        let norm = &self.norm;
        let (gamma, beta) = unsafe { (norm.gamma.range(lo, hi), norm.beta.range(lo, hi)) };
        let (running_mean, running_var) = unsafe {
            (
                norm.running_mean.range(lo, hi),
                norm.running_var.range(lo, hi),
            )
        };
        let mut scale = vec![0.0f32; w];
        let mut shift = vec![0.0f32; w];
        for j in 0..w {
            let var = invstd[j] / n;
            invstd[j] = 1.0 / (var + norm.eps).sqrt();
            running_mean[j] = (1.0 - momentum) * running_mean[j] + momentum * mean[j];
            running_var[j] = (1.0 - momentum) * running_var[j] + momentum * var * n / (n - 1.0);
            scale[j] = gamma[j] * invstd[j];
            shift[j] = beta[j] - mean[j] * scale[j];
        }
        for row in 0..rows {
            let values = &unsafe { self.a.row(row, cols, lo, hi) }[..w];
            let out = &mut unsafe { self.y.row(row, cols, lo, hi) }[..w];
            let (scale, shift) = (&scale[..w], &shift[..w]);
            for j in 0..w {
                out[j] = values[j] * scale[j] + shift[j];
            }
        }
    }
}

/// In training mode: `a ← act(a)` in place, then `y ← BatchNorm(a)` with the batch's
/// statistics, whose mean and `1/√(var + ε)` go to `mean` and `invstd` (for the backward
/// pass) and into the running statistics (PyTorch's update, with the unbiased variance).
///
/// # Safety
/// `a` and `y` hold `rows · cols` values, every other buffer `cols`; `rows ≥ 2`.
pub(crate) unsafe fn activate_normalize_train(
    a: Buffer,
    y: Buffer,
    norm: NormBuffers,
    mean: Buffer,
    invstd: Buffer,
    shape: Shape,
) {
    let pass = ActivateNormalizeTrain {
        a,
        y,
        norm,
        mean,
        invstd,
        shape,
    };
    // SAFETY: the caller's promise.
    unsafe { by_columns(shape.rows, shape.cols, &pass) }
}

struct ActivateNormalizeEval {
    a: Buffer,
    y: Buffer,
    norm: NormBuffers,
    shape: Shape,
}

impl ColumnPass for ActivateNormalizeEval {
    #[inline(always)]
    unsafe fn columns(&self, lo: usize, hi: usize) {
        let Shape { rows, cols, slope } = self.shape;
        let (w, norm) = (hi - lo, &self.norm);
        // SAFETY (every access below): the constructor's caller's size guarantees; these
        // columns are ours.
        let (gamma, beta) = unsafe { (norm.gamma.range(lo, hi), norm.beta.range(lo, hi)) };
        let (running_mean, running_var) = unsafe {
            (
                norm.running_mean.range(lo, hi),
                norm.running_var.range(lo, hi),
            )
        };
        let scale: Vec<f32> = (0..w)
            .map(|j| gamma[j] / (running_var[j] + norm.eps).sqrt())
            .collect();
        let shift: Vec<f32> = (0..w)
            .map(|j| beta[j] - running_mean[j] * scale[j])
            .collect();
        for row in 0..rows {
            let values = &mut unsafe { self.a.row(row, cols, lo, hi) }[..w];
            let out = &mut unsafe { self.y.row(row, cols, lo, hi) }[..w];
            let (scale, shift) = (&scale[..w], &shift[..w]);
            for j in 0..w {
                values[j] = leaky(values[j], slope);
                out[j] = values[j] * scale[j] + shift[j];
            }
        }
    }
}

/// In inference mode: `a ← act(a)` in place, then `y ← BatchNorm(a)` with the running
/// statistics, which stay as they are.
///
/// # Safety
/// `a` and `y` hold `rows · cols` values, every buffer of `norm` `cols`.
pub(crate) unsafe fn activate_normalize_eval(
    a: Buffer,
    y: Buffer,
    norm: NormBuffers,
    shape: Shape,
) {
    let pass = ActivateNormalizeEval { a, y, norm, shape };
    // SAFETY: the caller's promise.
    unsafe { by_columns(shape.rows, shape.cols, &pass) }
}

struct ActivationBackward {
    g: Buffer,
    activated: Buffer,
    shape: Shape,
}

impl ColumnPass for ActivationBackward {
    #[inline(always)]
    unsafe fn columns(&self, lo: usize, hi: usize) {
        let Shape { rows, cols, slope } = self.shape;
        let w = hi - lo;
        for row in 0..rows {
            // SAFETY: the constructor's caller's size guarantees; these columns are ours.
            let g = &mut unsafe { self.g.row(row, cols, lo, hi) }[..w];
            let r = &unsafe { self.activated.row(row, cols, lo, hi) }[..w];
            for j in 0..w {
                g[j] = if r[j] > 0.0 { g[j] } else { g[j] * slope };
            }
        }
    }
}

/// `g ← g · act′` in place, where `activated` is the activation's output (positive exactly
/// where its input was).
///
/// # Safety
/// `g` and `activated` hold `rows · cols` values.
pub(crate) unsafe fn activation_backward(g: Buffer, activated: Buffer, shape: Shape) {
    let pass = ActivationBackward {
        g,
        activated,
        shape,
    };
    // SAFETY: the caller's promise.
    unsafe { by_columns(shape.rows, shape.cols, &pass) }
}

/// What [`activate_normalize_backward`] reads and writes besides the gradient.
#[derive(Clone, Copy)]
pub(crate) struct NormBackward {
    pub(crate) activated: Buffer,
    pub(crate) mean: Buffer,
    pub(crate) invstd: Buffer,
    pub(crate) gamma: Buffer,
    pub(crate) dgamma: Buffer,
    pub(crate) dbeta: Buffer,
}

struct ActivateNormalizeBackward {
    g: Buffer,
    saved: NormBackward,
    shape: Shape,
}

impl ColumnPass for ActivateNormalizeBackward {
    #[inline(always)]
    unsafe fn columns(&self, lo: usize, hi: usize) {
        let Shape { rows, cols, slope } = self.shape;
        let (w, n, s) = (hi - lo, rows as f32, &self.saved);
        // SAFETY (every access below): the constructor's caller's size guarantees; these
        // columns are ours.
        let (mean, invstd, gamma) = unsafe {
            (
                s.mean.range(lo, hi),
                s.invstd.range(lo, hi),
                s.gamma.range(lo, hi),
            )
        };
        let (dgamma, dbeta) = unsafe { (s.dgamma.range(lo, hi), s.dbeta.range(lo, hi)) };
        dgamma.fill(0.0);
        dbeta.fill(0.0);
        for row in 0..rows {
            let g = &unsafe { self.g.row(row, cols, lo, hi) }[..w];
            let r = &unsafe { s.activated.row(row, cols, lo, hi) }[..w];
            let (dgamma, dbeta, mean) = (&mut dgamma[..w], &mut dbeta[..w], &mean[..w]);
            for j in 0..w {
                dbeta[j] += g[j];
                dgamma[j] += g[j] * (r[j] - mean[j]);
            }
        }
        let mut scale = vec![0.0f32; w];
        let mut mean_g = vec![0.0f32; w];
        let mut mean_gx = vec![0.0f32; w];
        for j in 0..w {
            dgamma[j] *= invstd[j];
            scale[j] = gamma[j] * invstd[j];
            mean_g[j] = dbeta[j] / n;
            mean_gx[j] = dgamma[j] / n;
        }
        for row in 0..rows {
            let g = &mut unsafe { self.g.row(row, cols, lo, hi) }[..w];
            let r = &unsafe { s.activated.row(row, cols, lo, hi) }[..w];
            let (mean, invstd) = (&mean[..w], &invstd[..w]);
            let (scale, mean_g, mean_gx) = (&scale[..w], &mean_g[..w], &mean_gx[..w]);
            for j in 0..w {
                let xhat = (r[j] - mean[j]) * invstd[j];
                let d = scale[j] * (g[j] - mean_g[j] - xhat * mean_gx[j]);
                g[j] = if r[j] > 0.0 { d } else { d * slope };
            }
        }
    }
}

/// The backward pass of [`activate_normalize_train`]: from `g = ∂L/∂y` in place to `∂L/∂a`,
/// with `∂L/∂γ` and `∂L/∂β` into `saved.dgamma` and `saved.dbeta`; the rest of `saved` is
/// what the forward pass kept and γ.
///
/// # Safety
/// `g` and `saved.activated` hold `rows · cols` values, every other buffer `cols`.
pub(crate) unsafe fn activate_normalize_backward(g: Buffer, saved: NormBackward, shape: Shape) {
    let pass = ActivateNormalizeBackward { g, saved, shape };
    // SAFETY: the caller's promise.
    unsafe { by_columns(shape.rows, shape.cols, &pass) }
}
