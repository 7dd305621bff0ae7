//! A float matrix transposed into a new row-major tensor, split over libtorch's OpenMP team.
//!
//! oneDNN's inner product wants its left operand row-major, so a weight gradient `gᵀ·x` needs
//! `gᵀ` as a copy. libtorch's own copy of a transposed view runs on one thread; this one gives
//! each thread of the team its own rows of the result and, where the CPU has AVX, moves 8×8
//! blocks through registers (eight row loads, a fixed shuffle network, eight row stores)
//! instead of one value at a time.

use tch::{Device, Kind, Tensor};

use crate::omp;

/// The side of the blocks moved at a time; edges go value by value.
const BLOCK: usize = 8;

/// `xs` `(rows, cols)` transposed into a new row-major `(cols, rows)` tensor.
pub(crate) fn transposed(xs: &Tensor) -> Tensor {
    let xs = xs.contiguous();
    assert!(
        xs.kind() == Kind::Float && xs.device() == Device::Cpu && xs.dim() == 2,
        "transposed: a float CPU matrix"
    );
    let (rows, cols) = (xs.size()[0] as usize, xs.size()[1] as usize);
    let out = Tensor::empty([cols as i64, rows as i64], (Kind::Float, Device::Cpu));
    // Addresses as integers, to share them with the team; each thread writes its own rows.
    let (src, dst) = (xs.data_ptr() as usize, out.data_ptr() as usize);
    let part = |index, count| {
        // Whole blocks of the result's rows per thread, so blocks never straddle two threads.
        let (start, end) = omp::share(cols.div_ceil(BLOCK), index, count);
        let (start, end) = ((start * BLOCK).min(cols), (end * BLOCK).min(cols));
        if start == end {
            return;
        }
        let matrix = Matrix {
            src: src as *const f32,
            dst: dst as *mut f32,
            rows,
            cols,
        };
        // SAFETY: both matrices live until this function returns; this thread writes only
        // rows start..end of the result.
        unsafe { matrix.columns(start, end) };
    };
    omp::on_each_thread_or_alone(rows * cols, &part);
    out
}

/// A row-major `rows × cols` source and its `cols × rows` destination.
struct Matrix {
    src: *const f32,
    dst: *mut f32,
    rows: usize,
    cols: usize,
}

impl Matrix {
    /// Columns `start..end` of the source into rows `start..end` of the destination.
    ///
    /// # Safety
    /// Both buffers hold `rows · cols` values, `start ≤ end ≤ cols`, and no other thread
    /// writes these rows of the destination meanwhile.
    unsafe fn columns(&self, start: usize, end: usize) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU has AVX, checked just above; the rest is the caller's promise.
            return unsafe { self.columns_avx(start, end) };
        }
        // SAFETY: the caller's promise.
        unsafe { self.scalar(0..self.rows, start..end) }
    }

    /// Value by value.
    ///
    /// # Safety
    /// As [`Matrix::columns`], for these rows and columns of the source.
    unsafe fn scalar(&self, rows: std::ops::Range<usize>, cols: std::ops::Range<usize>) {
        for c in cols {
            for r in rows.clone() {
                // SAFETY: r < rows and c < cols index both matrices.
                unsafe { *self.dst.add(c * self.rows + r) = *self.src.add(r * self.cols + c) };
            }
        }
    }

    /// Whole 8×8 blocks through registers, the edges value by value.
    ///
    /// # Safety
    /// As [`Matrix::columns`], and the CPU has AVX.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    unsafe fn columns_avx(&self, start: usize, end: usize) {
        let whole_rows = self.rows / BLOCK * BLOCK;
        let whole_end = start + (end - start) / BLOCK * BLOCK;
        for c in (start..whole_end).step_by(BLOCK) {
            for r in (0..whole_rows).step_by(BLOCK) {
                // SAFETY: the block lies inside both matrices (r + 8 ≤ rows, c + 8 ≤ cols).
                unsafe {
                    block_avx(
                        self.src.add(r * self.cols + c),
                        self.cols,
                        self.dst.add(c * self.rows + r),
                        self.rows,
                    )
                };
            }
        }
        // SAFETY: the caller's promise; the ranges lie inside the matrices.
        unsafe {
            self.scalar(whole_rows..self.rows, start..whole_end);
            self.scalar(0..self.rows, whole_end..end);
        }
    }
}

/// The 8×8 block at `src` (rows `src_stride` apart) transposed to `dst` (rows `dst_stride`
/// apart).
///
/// # Safety
/// Eight rows of eight values are readable at `src` and writable at `dst`; the CPU has AVX.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn block_avx(src: *const f32, src_stride: usize, dst: *mut f32, dst_stride: usize) {
    use std::arch::x86_64::*;
    // SAFETY: the caller's promise covers every load and store below.
    unsafe {
        let row = |i: usize| _mm256_loadu_ps(src.add(i * src_stride));
        let (r0, r1, r2, r3) = (row(0), row(1), row(2), row(3));
        let (r4, r5, r6, r7) = (row(4), row(5), row(6), row(7));
        // Pairs of rows interleaved, then pairs of pairs, then the 128-bit halves swapped.
        let (t0, t1) = (_mm256_unpacklo_ps(r0, r1), _mm256_unpackhi_ps(r0, r1));
        let (t2, t3) = (_mm256_unpacklo_ps(r2, r3), _mm256_unpackhi_ps(r2, r3));
        let (t4, t5) = (_mm256_unpacklo_ps(r4, r5), _mm256_unpackhi_ps(r4, r5));
        let (t6, t7) = (_mm256_unpacklo_ps(r6, r7), _mm256_unpackhi_ps(r6, r7));
        let (s0, s1) = (
            _mm256_shuffle_ps::<0x44>(t0, t2),
            _mm256_shuffle_ps::<0xEE>(t0, t2),
        );
        let (s2, s3) = (
            _mm256_shuffle_ps::<0x44>(t1, t3),
            _mm256_shuffle_ps::<0xEE>(t1, t3),
        );
        let (s4, s5) = (
            _mm256_shuffle_ps::<0x44>(t4, t6),
            _mm256_shuffle_ps::<0xEE>(t4, t6),
        );
        let (s6, s7) = (
            _mm256_shuffle_ps::<0x44>(t5, t7),
            _mm256_shuffle_ps::<0xEE>(t5, t7),
        );
        let out = [
            _mm256_permute2f128_ps::<0x20>(s0, s4),
            _mm256_permute2f128_ps::<0x20>(s1, s5),
            _mm256_permute2f128_ps::<0x20>(s2, s6),
            _mm256_permute2f128_ps::<0x20>(s3, s7),
            _mm256_permute2f128_ps::<0x31>(s0, s4),
            _mm256_permute2f128_ps::<0x31>(s1, s5),
            _mm256_permute2f128_ps::<0x31>(s2, s6),
            _mm256_permute2f128_ps::<0x31>(s3, s7),
        ];
        for (i, values) in out.into_iter().enumerate() {
            _mm256_storeu_ps(dst.add(i * dst_stride), values);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::kind;

    /// Shapes with and without whole blocks, edges on either side, one thread's share not a
    /// multiple of the block, a single row or column, and large enough to split over the
    /// team with fewer blocks than threads (one thread then has none) or a partial last one.
    #[test]
    fn equals_libtorchs_transpose() {
        for (rows, cols) in [
            (37, 19),
            (8, 8),
            (64, 200),
            (45, 37),
            (1, 30),
            (30, 1),
            (128, 784),
        ] {
            let xs = Tensor::randn([rows, cols], kind::FLOAT_CPU);
            assert!(
                transposed(&xs).equal(&xs.tr().contiguous()),
                "{rows}×{cols}"
            );
            assert!(
                transposed(&xs.tr()).equal(&xs),
                "{rows}×{cols} transposed view"
            );
        }
    }
}
