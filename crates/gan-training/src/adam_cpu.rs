//! Adam's update as one pass over CPU memory.
//!
//! Written with tensor ops, an update is eight passes over every buffer, each allocating its
//! result (a concatenation of the gradients, two lerps, a square, a square root, two scalings,
//! an addcdiv). Here each element is read and written once, and the work is split over
//! libtorch's OpenMP threads. Measured on 2 cores (`mlp`, batch 128, oneDNN kernels,
//! alternating runs): 67 → 78 steps/s for the fused pass, then +8.6% for splitting it.
//! An exponential moving average of the parameters, where one is kept, is folded into the
//! same pass while each new parameter is still in a register.

use tch::{Device, Kind, Tensor};

use gan_models::omp;

/// The coefficients of `θ ← θ - a·m / (c·√v + ε)` after the moment updates
/// `m ← β1·m + (1-β1)·g`, `v ← β2·v + (1-β2)·g²`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Update {
    pub beta1: f32,
    pub beta2: f32,
    pub a: f32,
    pub c: f32,
    pub eps: f32,
}

/// Whether [`apply`] can run on these buffers: contiguous f32 on the CPU.
pub(crate) fn applies_to(buffers: &[&Tensor]) -> bool {
    buffers
        .iter()
        .all(|t| t.device() == Device::Cpu && t.kind() == Kind::Float && t.is_contiguous())
}

/// A moving average to fold into the pass: `average ← average + weight·(θ - average)` with the
/// updated `θ`, as `average.lerp_(θ, weight)` does.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Average<'a> {
    pub buffer: &'a Tensor,
    pub weight: f32,
}

/// Updates `params`, `m` and `v` (flat, contiguous f32 CPU buffers of one length) in place
/// with `grads[i]` for the slice `slices[i] = (offset, len)`, then `average` (a buffer like
/// them) from the new `params`.
///
/// # Panics
/// If a buffer is not what [`applies_to`] checks, or a gradient's length differs from its
/// slice's.
pub(crate) fn apply(
    params: &Tensor,
    m: &Tensor,
    v: &Tensor,
    grads: &[Tensor],
    slices: &[(i64, i64)],
    update: Update,
    average: Option<Average>,
) {
    assert!(applies_to(&[params, m, v]), "flat f32 CPU buffers");
    let n = params.numel();
    assert!(m.numel() == n && v.numel() == n, "buffers of one length");
    if let Some(a) = average {
        assert!(
            applies_to(&[a.buffer]) && a.buffer.numel() == n,
            "an average buffer like the parameters"
        );
    }
    if n == 0 {
        return;
    }
    // Gradients as contiguous f32 tensors, kept alive until every thread is done.
    let grads: Vec<Tensor> = grads
        .iter()
        .zip(slices)
        .map(|(grad, &(_, len))| {
            assert_eq!(grad.numel() as i64, len, "gradient of its parameter's size");
            assert_eq!(grad.device(), Device::Cpu, "gradient on the CPU");
            grad.to_kind(Kind::Float).contiguous()
        })
        .collect();
    let pieces: Vec<Piece> = grads
        .iter()
        .zip(slices)
        .filter(|(_, &(_, len))| len > 0)
        .map(|(grad, &(offset, len))| Piece {
            start: offset as usize,
            len: len as usize,
            grad: grad.data_ptr() as usize,
        })
        .collect();
    let (p, m, v) = (
        params.data_ptr() as usize,
        m.data_ptr() as usize,
        v.data_ptr() as usize,
    );
    let average = average.map(|a| (a.buffer.data_ptr() as usize, a.weight));
    omp::on_each_thread(&|index, count| {
        let (lo, hi) = omp::share(n, index, count);
        for piece in &pieces {
            let (start, end) = (piece.start.max(lo), (piece.start + piece.len).min(hi));
            if start >= end {
                continue;
            }
            let len = end - start;
            // SAFETY: p, m, v (and the average's buffer) are distinct contiguous f32 buffers
            // of n elements and each piece's gradient one of piece.len elements, all alive
            // until on_each_thread returns; threads write disjoint ranges [lo, hi); libtorch
            // touches none of them meanwhile (CPU ops run synchronously on the calling thread).
            unsafe {
                let at = |base: usize| (base as *mut f32).add(start);
                update_slice(
                    Slices {
                        p: std::slice::from_raw_parts_mut(at(p), len),
                        m: std::slice::from_raw_parts_mut(at(m), len),
                        v: std::slice::from_raw_parts_mut(at(v), len),
                        g: std::slice::from_raw_parts(
                            (piece.grad as *const f32).add(start - piece.start),
                            len,
                        ),
                        average: average
                            .map(|(e, w)| (std::slice::from_raw_parts_mut(at(e), len), w)),
                    },
                    update,
                );
            }
        }
    });
}

/// A parameter's slice of the flat buffers and its gradient's address.
struct Piece {
    start: usize,
    len: usize,
    grad: usize,
}

/// One thread's part of one parameter: the buffers' slices and the gradient's.
struct Slices<'a> {
    p: &'a mut [f32],
    m: &'a mut [f32],
    v: &'a mut [f32],
    g: &'a [f32],
    /// The average's slice and its weight.
    average: Option<(&'a mut [f32], f32)>,
}

fn update_slice(s: Slices, u: Update) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above.
            return unsafe { update_slice_avx512(s, u) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { update_slice_avx2(s, u) };
        }
    }
    update_slice_portable(s, u)
}

/// The loop compiled for AVX-512: the same arithmetic, 16 lanes at a time.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn update_slice_avx512(s: Slices, u: Update) {
    update_slice_portable(s, u)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn update_slice_avx2(s: Slices, u: Update) {
    update_slice_portable(s, u)
}

#[inline(always)]
fn update_slice_portable(s: Slices, u: Update) {
    let (one_minus_beta1, one_minus_beta2) = (1.0 - u.beta1, 1.0 - u.beta2);
    let adam = |p: &mut f32, m: &mut f32, v: &mut f32, g: f32| {
        *m = u.beta1 * *m + one_minus_beta1 * g;
        *v = u.beta2 * *v + one_minus_beta2 * (g * g);
        *p -= u.a * *m / (u.c * v.sqrt() + u.eps);
    };
    let moments = s.p.iter_mut().zip(s.m.iter_mut()).zip(s.v.iter_mut());
    match s.average {
        None => {
            for (((p, m), v), &g) in moments.zip(s.g) {
                adam(p, m, v, g);
            }
        }
        Some((e, w)) => {
            for ((((p, m), v), &g), e) in moments.zip(s.g).zip(e.iter_mut()) {
                adam(p, m, v, g);
                *e += w * (*p - *e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fused pass against the same update written with tensor ops (in f64), on slices
    /// of several lengths, including one under a vector's width, with an average folded in.
    #[test]
    fn equals_the_update_in_tensor_ops() {
        let lens = [(0i64, 3i64), (3, 1000), (1003, 17)];
        let n = 1020;
        let params = Tensor::randn([n], tch::kind::FLOAT_CPU);
        let m = Tensor::randn([n], tch::kind::FLOAT_CPU) * 0.1;
        let v = Tensor::rand([n], tch::kind::FLOAT_CPU) * 0.01;
        let grads: Vec<Tensor> = lens
            .iter()
            .map(|&(_, len)| Tensor::randn([len], tch::kind::FLOAT_CPU))
            .collect();
        let u = Update {
            beta1: 0.5,
            beta2: 0.999,
            a: 2e-4,
            c: 1.3,
            eps: 1e-8,
        };
        let g = Tensor::cat(&grads, 0).to_kind(Kind::Double);
        let (p64, m64, v64) = (
            params.to_kind(Kind::Double),
            m.to_kind(Kind::Double),
            v.to_kind(Kind::Double),
        );
        let m_want = &m64 * f64::from(u.beta1) + &g * f64::from(1.0 - u.beta1);
        let v_want = &v64 * f64::from(u.beta2) + g.square() * f64::from(1.0 - u.beta2);
        let p_want =
            &p64 - &m_want * f64::from(u.a) / (v_want.sqrt() * f64::from(u.c) + f64::from(u.eps));

        let average = Tensor::randn([n], tch::kind::FLOAT_CPU);
        let e_want = average.to_kind(Kind::Double) * 0.75 + &p_want * 0.25;
        apply(
            &params,
            &m,
            &v,
            &grads,
            &lens,
            u,
            Some(Average {
                buffer: &average,
                weight: 0.25,
            }),
        );
        for (got, want) in [
            (&params, &p_want),
            (&m, &m_want),
            (&v, &v_want),
            (&average, &e_want),
        ] {
            let err = (got.to_kind(Kind::Double) - want)
                .abs()
                .max()
                .double_value(&[]);
            assert!(err < 1e-6, "{err}");
        }
    }
}
