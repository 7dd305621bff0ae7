//! A counter-based random generator computed with tensor ops, on the tensors' device.
//!
//! libtorch's generator is global and stateful: two threads seeding it interleave, and
//! resuming needs its state. Here a random tensor is a pure function of `(seed, stream,
//! element index)`, hashed with integer ops, so it is reproducible across threads, resumes
//! and runs, and costs no host↔device traffic. On the CPU the same integers are computed in
//! one pass of plain Rust (bit for bit what the tensor ops give, as tests check) instead of
//! some twenty element-wise ops, each a pass over the data and a dispatch.

use tch::{Device, Kind, TchError, Tensor};

use crate::rng::stream_seed;

const MASK32: i64 = 0xffff_ffff;

/// Random tensors addressed by `(seed, stream)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRng {
    seed: u64,
}

impl DeviceRng {
    pub fn new(seed: u64) -> Self {
        DeviceRng { seed }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// `count` independent 32-bit values (as `i64` in `[0, 2³²)`) for `stream`.
    pub fn bits(&self, stream: u64, count: i64, device: Device) -> Result<Tensor, TchError> {
        let key = Key::new(self.seed, stream);
        if device == Device::Cpu {
            let bits: Vec<i64> = (0..count).map(|i| key.bits(i) as i64).collect();
            return Ok(Tensor::from_slice(&bits));
        }
        key.bits_on(count, device)
    }

    /// Uniform `f32` values in the open interval (0, 1), 24 bits of resolution.
    pub fn uniform(&self, stream: u64, shape: &[i64], device: Device) -> Result<Tensor, TchError> {
        let count: i64 = shape.iter().product();
        if device == Device::Cpu {
            let key = Key::new(self.seed, stream);
            let values: Vec<f32> = (0..count).map(|i| key.uniform(i)).collect();
            return Tensor::from_slice(&values).f_view(shape);
        }
        uniform_of_bits(&self.bits(stream, count, device)?)?.f_view(shape)
    }

    /// Standard normal `f32` values (Box–Muller, both outputs of each pair used).
    pub fn normal(&self, stream: u64, shape: &[i64], device: Device) -> Result<Tensor, TchError> {
        let count: i64 = shape.iter().product();
        let pairs = (count + 1) / 2;
        let u = self.uniform(stream, &[2, pairs], device)?;
        let radius = u.f_get(0)?.f_log()?.f_mul_scalar(-2.0)?.f_sqrt()?;
        let angle = u.f_get(1)?.f_mul_scalar(std::f64::consts::TAU)?;
        Tensor::f_cat(
            &[
                radius.f_mul(&angle.f_cos()?)?,
                radius.f_mul(&angle.f_sin()?)?,
            ],
            0,
        )?
        .f_narrow(0, 0, count)?
        .f_view(shape)
    }

    /// `count` integers uniform in `[0, upper)` (`upper < 2³¹`), as `i64`.
    pub fn below(
        &self,
        stream: u64,
        count: i64,
        upper: i64,
        device: Device,
    ) -> Result<Tensor, TchError> {
        assert!((1..1 << 31).contains(&upper), "upper bound out of range");
        // (x · upper) >> 32 maps 32-bit x onto [0, upper) with bias below upper / 2³².
        if device == Device::Cpu {
            let key = Key::new(self.seed, stream);
            let values: Vec<i64> = (0..count)
                .map(|i| ((key.bits(i) * upper as u64) >> 32) as i64)
                .collect();
            return Ok(Tensor::from_slice(&values));
        }
        self.bits(stream, count, device)?
            .f_mul_scalar(upper)?
            .f_bitwise_right_shift_tensor_scalar(32)
    }
}

/// The two 32-bit halves of a stream's key. The key is already well mixed (SplitMix64 of
/// seed and stream), so one hash of counter ⊕ low half, offset by the high half, separates
/// streams and neighbours alike.
#[derive(Debug, Clone, Copy)]
struct Key {
    low: u64,
    high: u64,
}

impl Key {
    fn new(seed: u64, stream: u64) -> Key {
        let key = stream_seed(seed, stream);
        Key {
            low: key & 0xffff_ffff,
            high: key >> 32,
        }
    }

    /// The 32-bit value of counter `i`, on the host.
    fn bits(self, i: i64) -> u64 {
        let mut x = (i as u64 ^ self.low) & MASK32 as u64;
        for (shift, multiplier) in ROUNDS {
            x = ((x ^ (x >> shift)) * multiplier as u64) & MASK32 as u64;
        }
        (x ^ (x >> 15)) ^ self.high
    }

    /// [`DeviceRng::uniform`]'s value of counter `i`, on the host, rounded as the tensor ops
    /// round (`f32` throughout).
    fn uniform(self, i: i64) -> f32 {
        unit_interval(self.bits(i))
    }

    /// The values of counters `0..count` with tensor ops on `device`.
    fn bits_on(self, count: i64, device: Device) -> Result<Tensor, TchError> {
        let counter = Tensor::f_arange(count, (Kind::Int64, device))?;
        hash32(&counter.f_bitwise_xor(self.low as i64)?)?.f_bitwise_xor(self.high as i64)
    }
}

/// The top 24 of 32 bits as the centre of their cell of (0, 1).
fn unit_interval(bits: u64) -> f32 {
    ((bits >> 8) as f32 + 0.5) * (1.0 / 16_777_216.0)
}

fn uniform_of_bits(bits: &Tensor) -> Result<Tensor, TchError> {
    bits.f_bitwise_right_shift_tensor_scalar(8)?
        .f_to_kind(Kind::Float)?
        .f_add_scalar(0.5)?
        .f_mul_scalar(1.0 / 16_777_216.0)
}

/// The xor-shift-multiply rounds of [`hash32`].
const ROUNDS: [(u32, i64); 3] = [(16, 0x7feb_352d), (15, 0x5bd1_e995), (16, 0x27d4_eb2d)];

/// A 32-bit integer hash (three xor-shift-multiply rounds), with every product below 2⁶³ so
/// `i64` arithmetic never overflows on any device.
fn hash32(x: &Tensor) -> Result<Tensor, TchError> {
    let mut x = x.f_bitwise_and(MASK32)?;
    for (shift, multiplier) in ROUNDS {
        x = x
            .f_bitwise_xor_tensor(&x.f_bitwise_right_shift_tensor_scalar(i64::from(shift))?)?
            .f_mul_scalar(multiplier)?
            .f_bitwise_and(MASK32)?;
    }
    x.f_bitwise_xor_tensor(&x.f_bitwise_right_shift_tensor_scalar(15)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CPU: Device = Device::Cpu;

    #[test]
    fn same_address_same_values_other_address_other_values() {
        let rng = DeviceRng::new(7);
        let a = rng.normal(3, &[1000], CPU).unwrap();
        assert!(a.equal(&rng.normal(3, &[1000], CPU).unwrap()));
        assert!(!a.equal(&rng.normal(4, &[1000], CPU).unwrap()));
        assert!(!a.equal(&DeviceRng::new(8).normal(3, &[1000], CPU).unwrap()));
    }

    #[test]
    fn uniform_moments_and_range() {
        let u = DeviceRng::new(1).uniform(0, &[200_000], CPU).unwrap();
        assert!(u.min().double_value(&[]) > 0.0 && u.max().double_value(&[]) < 1.0);
        let mean = u.mean(Kind::Float).double_value(&[]);
        let var = u.var(false).double_value(&[]);
        assert!((mean - 0.5).abs() < 0.005, "{mean}");
        assert!((var - 1.0 / 12.0).abs() < 0.002, "{var}");
    }

    #[test]
    fn normal_moments() {
        let z = DeviceRng::new(2).normal(0, &[100, 2000], CPU).unwrap();
        assert_eq!(z.size(), vec![100, 2000]);
        let mean = z.mean(Kind::Float).double_value(&[]);
        let std = z.std(false).double_value(&[]);
        let kurtosis = z.pow_tensor_scalar(4).mean(Kind::Float).double_value(&[]);
        assert!(
            mean.abs() < 0.01 && (std - 1.0).abs() < 0.01,
            "{mean} {std}"
        );
        assert!((kurtosis - 3.0).abs() < 0.1, "{kurtosis}");
    }

    #[test]
    fn below_is_in_range_and_covers_it_evenly() {
        let i = DeviceRng::new(3).below(0, 100_000, 10, CPU).unwrap();
        let counts = Vec::<i64>::try_from(i.bincount::<Tensor>(None, 10)).unwrap();
        assert_eq!(counts.len(), 10);
        // 10,000 expected per bin, sd ≈ 95: ±500 is five sigmas.
        assert!(
            counts.iter().all(|&c| (9_500..10_500).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn normal_pairs_are_uncorrelated() {
        // Box–Muller's two outputs share a radius; they must still be uncorrelated, as must
        // the two halves of the tensor they fill.
        let z = DeviceRng::new(5).normal(0, &[200_000], CPU).unwrap();
        let (a, b) = (z.narrow(0, 0, 100_000), z.narrow(0, 100_000, 100_000));
        let corr = (&a * &b).mean(Kind::Float).double_value(&[]);
        assert!(corr.abs() < 0.01, "{corr}");
        let odd = DeviceRng::new(5).normal(0, &[3, 7], CPU).unwrap();
        assert_eq!(odd.size(), vec![3, 7]);
    }

    /// The host path (CPU) gives exactly the integers and floats of the tensor path (any
    /// other device), so runs and resumes agree whichever computed them; the counters cover
    /// both ends of the 24-bit range, where `f32` rounds.
    #[test]
    fn host_values_equal_the_tensor_ops_bit_for_bit() {
        for (seed, stream) in [(0, 0), (7, 3), (u64::MAX, u64::MAX - 17), (42, 1 << 40)] {
            let key = Key::new(seed, stream);
            let count = 300_000;
            let tensor_bits = key.bits_on(count, CPU).unwrap();
            let rng = DeviceRng::new(seed);
            assert!(rng.bits(stream, count, CPU).unwrap().equal(&tensor_bits));
            let tensor_uniform = uniform_of_bits(&tensor_bits).unwrap();
            let host_uniform = rng.uniform(stream, &[count], CPU).unwrap();
            assert!(
                host_uniform.equal(&tensor_uniform),
                "seed {seed} stream {stream}"
            );
            let tensor_below = tensor_bits
                .f_mul_scalar(1_000_003)
                .unwrap()
                .f_bitwise_right_shift_tensor_scalar(32)
                .unwrap();
            assert!(rng
                .below(stream, count, 1_000_003, CPU)
                .unwrap()
                .equal(&tensor_below));
        }
        // The extremes of the 24-bit grid, rounded identically.
        let extremes: Vec<i64> = vec![0, 255, 256, 0xffff_ff00, 0xffff_ffff, 0x7fff_ffff];
        let via_tensor = uniform_of_bits(&Tensor::from_slice(&extremes)).unwrap();
        let via_host: Vec<f32> = extremes.iter().map(|&b| unit_interval(b as u64)).collect();
        assert_eq!(Vec::<f32>::try_from(via_tensor).unwrap(), via_host);
    }

    #[test]
    fn neighbouring_counters_are_uncorrelated() {
        let u = DeviceRng::new(4).uniform(0, &[100_001], CPU).unwrap();
        let (a, b) = (u.narrow(0, 0, 100_000), u.narrow(0, 1, 100_000));
        let corr = ((&a - 0.5) * (&b - 0.5))
            .mean(Kind::Float)
            .double_value(&[])
            * 12.0;
        assert!(corr.abs() < 0.02, "{corr}");
    }
}
