//! sRGB <-> CIE L*a*b* (D65 white, sRGB's own), one pixel at a time, via `palette`.
//!
//! Why D65: the library speaks sRGB, whose white is D65, so a grey pixel (R = G = B) has
//! a* = b* = 0 exactly and stays grey. (babl's "CIE Lab" is D50: clients such as the GIMP
//! plug-ins must not mix the two.)
//!
//! Speed: 8-bit decoding and encoding go through palette's lookup tables (and grey pixels'
//! L* through a table of its own), 16-bit and float
//! both ways through small interpolated tables of the transfer curve (built once); only the
//! Lab <-> XYZ maths runs per pixel.
//!
//! Colours the network asks for may lie outside the sRGB gamut. They are brought inside by
//! lowering chroma at constant L* and hue (a few bisection steps), not by clipping each
//! channel, because clipping would change L*, which the library promises to keep.

use std::sync::OnceLock;

use palette::convert::FromColorUnclamped;
use palette::{Lab, LinSrgb, Srgb};

/// A CIE L*a*b* colour, D65 white: `[L*, a*, b*]`, L* in 0..100.
pub type LabPixel = [f32; 3];

/// Linear-light sRGB of an 8-bit sRGB colour (table look-up).
#[inline]
pub fn srgb8_to_linear(rgb: [u8; 3]) -> [f32; 3] {
    let lin: LinSrgb<f32> = Srgb::new(rgb[0], rgb[1], rgb[2]).into_linear();
    [lin.red, lin.green, lin.blue]
}

/// L* of an 8-bit sRGB colour. Grey pixels (R = G = B), all of a black-and-white photo,
/// take a 256-entry table of the same function, skipping the per-pixel cube root.
#[inline]
pub fn srgb8_to_lightness(rgb: [u8; 3]) -> f32 {
    static GREY: OnceLock<[f32; 256]> = OnceLock::new();
    if rgb[0] == rgb[1] && rgb[1] == rgb[2] {
        let table = GREY.get_or_init(|| {
            std::array::from_fn(|v| linear_to_lightness(srgb8_to_linear([v as u8; 3])))
        });
        return table[usize::from(rgb[0])];
    }
    linear_to_lightness(srgb8_to_linear(rgb))
}

/// Linear-light value of one 16-bit sRGB-encoded sample (the interpolated table of
/// [`srgb_channel_to_linear`]: a 65536-entry table would not stay in the L2 cache).
#[inline]
pub fn srgb16_channel_to_linear(v: u16) -> f32 {
    srgb_channel_to_linear(f32::from(v) * (1.0 / 65535.0))
}

/// [`srgb16_channel_to_linear`] of every 16-bit value, a table built once from it (the
/// same values). Why: per pixel the interpolation costs more than one load, and a row's
/// values are close together, so the 256 KB table is read mostly from the L1 cache.
fn srgb16_linear_table() -> &'static [f32] {
    static TABLE: OnceLock<Box<[f32]>> = OnceLock::new();
    TABLE.get_or_init(|| (0..=u16::MAX).map(srgb16_channel_to_linear).collect())
}

/// L* of a row of 16-bit sRGB pixels (`channels` samples each, the first three RGB) into
/// `l`. Equal to [`linear_to_lightness`] of [`srgb16_channel_to_linear`] per channel;
/// grey pixels (R = G = B) take a table of L* per 16-bit level built from that function.
pub fn srgb16_row_to_lightness(pixels: &[u16], channels: usize, l: &mut [f32]) {
    static GREY: OnceLock<Box<[f32]>> = OnceLock::new();
    let linear = srgb16_linear_table();
    let grey = GREY.get_or_init(|| {
        linear
            .iter()
            .map(|&v| linear_to_lightness([v, v, v]))
            .collect()
    });
    for (out, p) in l.iter_mut().zip(pixels.chunks_exact(channels)) {
        let (r, g, b) = (p[0], p[1], p[2]);
        *out = if r == g && g == b {
            grey[usize::from(r)]
        } else {
            let at = |v: u16| linear[usize::from(v)];
            linear_to_lightness([at(r), at(g), at(b)])
        };
    }
}

/// Linear-light value of one sRGB-encoded sample in 0..1 (interpolated table look-up,
/// within 2e-7 of the exact curve; values outside 0..1 take the exact curve).
#[inline]
pub fn srgb_channel_to_linear(v: f32) -> f32 {
    decode_curve().eval(v)
}

fn decode_curve() -> &'static Curve {
    static CURVE: OnceLock<Curve> = OnceLock::new();
    CURVE.get_or_init(|| Curve::sample(4096, srgb_decode_exact, 0.04045))
}

fn encode_curve() -> &'static Curve {
    static CURVE: OnceLock<Curve> = OnceLock::new();
    CURVE.get_or_init(|| Curve::sample(16384, srgb_encode_exact, 0.003_130_8))
}

/// [`srgb_channel_to_linear`] of every value, in place (the same values, eight at a time
/// with AVX2).
pub fn srgb_row_to_linear(values: &mut [f32]) {
    decode_curve().eval_row(values)
}

/// [`linear_channel_to_srgb`] of every value, in place (the same values, eight at a time
/// with AVX2).
pub fn linear_row_to_srgb(values: &mut [f32]) {
    encode_curve().eval_row(values)
}

/// sRGB-encoded value in 0..1 of one linear-light sample in 0..1 (interpolated table
/// look-up, within 1e-6 of the exact curve, a fifteenth of a 16-bit step; values outside
/// 0..1 take the exact curve).
#[inline]
pub fn linear_channel_to_srgb(v: f32) -> f32 {
    encode_curve().eval(v)
}

/// The sRGB transfer function (IEC 61966-2-1), encoded -> linear.
fn srgb_decode_exact(v: f64) -> f64 {
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

/// The sRGB transfer function (IEC 61966-2-1), linear -> encoded.
fn srgb_encode_exact(v: f64) -> f64 {
    if v <= 0.003_130_8 {
        v * 12.92
    } else {
        1.055 * v.powf(1.0 / 2.4) - 0.055
    }
}

/// A curve on 0..1 sampled at `n + 1` evenly spaced points, read back by linear
/// interpolation. Why: 16-bit and float buffers cannot use palette's 8-bit tables, and a
/// `powf` per channel made them ten times slower than 8-bit. The sRGB curves join a linear
/// toe to a power law at a kink where the slope jumps; interpolating across it would err
/// by 2e-6, so values up to the first sample past the kink take the exact formula (dark
/// values only, cheap in the toe). Above it the power law is most bent right after the
/// kink, where 16384 intervals keep the encoding error under 1e-6. Small tables also stay
/// in the L2 cache.
struct Curve {
    samples: Box<[f32]>,
    intervals: f32,
    exact: fn(f64) -> f64,
    /// Where the table takes over from `exact`: the first sample past the kink.
    table_from: f32,
}

impl Curve {
    fn sample(intervals: usize, exact: fn(f64) -> f64, kink: f64) -> Self {
        let samples = (0..=intervals)
            .map(|i| exact(i as f64 / intervals as f64) as f32)
            .collect();
        let first_past_kink = (kink * intervals as f64).floor() + 1.0;
        Curve {
            samples,
            intervals: intervals as f32,
            exact,
            table_from: (first_past_kink / intervals as f64) as f32,
        }
    }

    #[inline]
    fn eval(&self, v: f32) -> f32 {
        if !(self.table_from..=1.0).contains(&v) {
            // The toe, values outside 0..1 (float images may hold them) and NaN.
            return (self.exact)(f64::from(v)) as f32;
        }
        let position = v * self.intervals;
        // `position` is at most `intervals`; the last interval serves v = 1 exactly.
        let index = (position as usize).min(self.samples.len() - 2);
        let fraction = position - index as f32;
        let (low, high) = (self.samples[index], self.samples[index + 1]);
        low + (high - low) * fraction
    }

    /// [`Curve::eval`] of every value, in place. Why: one look-up costs some 3.6 ns in
    /// scalar code, six per pixel of a float image; AVX2 gathers do eight at once.
    fn eval_row(&self, values: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, checked just above.
            return unsafe { self.eval_row_avx2(values) };
        }
        for v in values {
            *v = self.eval(*v);
        }
    }

    /// [`Curve::eval`] in the same operations (no FMA), eight lanes at a time; lanes
    /// outside the table's range (the toe, outside 0..1, NaN) take the scalar path.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn eval_row_avx2(&self, values: &mut [f32]) {
        use std::arch::x86_64::*;
        let samples = self.samples.as_ptr();
        let last = _mm256_set1_epi32((self.samples.len() - 2) as i32);
        let intervals = _mm256_set1_ps(self.intervals);
        let (from, one) = (_mm256_set1_ps(self.table_from), _mm256_set1_ps(1.0));
        let mut chunks = values.chunks_exact_mut(8);
        for chunk in &mut chunks {
            let v = _mm256_loadu_ps(chunk.as_ptr());
            let inside = _mm256_and_ps(
                _mm256_cmp_ps::<_CMP_GE_OQ>(v, from),
                _mm256_cmp_ps::<_CMP_LE_OQ>(v, one),
            );
            let position = _mm256_mul_ps(v, intervals);
            let index = _mm256_min_epi32(_mm256_cvttps_epi32(position), last);
            // Lanes outside read sample 0: every gathered address stays in the table.
            let index = _mm256_and_si256(index, _mm256_castps_si256(inside));
            let fraction = _mm256_sub_ps(position, _mm256_cvtepi32_ps(index));
            let low = _mm256_i32gather_ps::<4>(samples, index);
            let high = _mm256_i32gather_ps::<4>(samples.add(1), index);
            let result = _mm256_add_ps(low, _mm256_mul_ps(_mm256_sub_ps(high, low), fraction));
            let outside = !_mm256_movemask_ps(inside) & 0xFF;
            let mut original = [0.0f32; 8];
            original.copy_from_slice(chunk);
            _mm256_storeu_ps(chunk.as_mut_ptr(), result);
            if outside != 0 {
                for (lane, out) in chunk.iter_mut().enumerate() {
                    if outside & (1 << lane) != 0 {
                        *out = self.eval(original[lane]);
                    }
                }
            }
        }
        for v in chunks.into_remainder() {
            *v = self.eval(*v);
        }
    }
}

/// L*a*b* of a linear-light sRGB colour.
#[inline]
pub fn linear_to_lab(rgb: [f32; 3]) -> LabPixel {
    let lab: Lab = Lab::from_color_unclamped(LinSrgb::new(rgb[0], rgb[1], rgb[2]));
    [lab.l, lab.a, lab.b]
}

/// L* alone of a linear-light sRGB colour: cheaper than the full conversion and exactly
/// the same L* (it depends on the relative luminance Y only).
#[inline]
pub fn linear_to_lightness(rgb: [f32; 3]) -> f32 {
    // The luminance row of palette's sRGB -> XYZ matrix (D65), so that this L* equals
    // the one the Lab -> RGB direction assumes.
    let y = 0.212_672_9 * rgb[0] + 0.715_152_2 * rgb[1] + 0.072_175 * rgb[2];
    lightness_of_luminance(y)
}

/// CIE L* of a relative luminance Y (white = 1).
#[inline]
pub fn lightness_of_luminance(y: f32) -> f32 {
    const EPSILON: f32 = 216.0 / 24389.0;
    const KAPPA: f32 = 24389.0 / 27.0;
    if y > EPSILON {
        116.0 * y.cbrt() - 16.0
    } else {
        KAPPA * y.max(0.0)
    }
}

/// L*a*b* of an 8-bit sRGB colour.
#[inline]
pub fn srgb8_to_lab(rgb: [u8; 3]) -> LabPixel {
    linear_to_lab(srgb8_to_linear(rgb))
}

/// L*a*b* of a 16-bit sRGB colour.
#[inline]
pub fn srgb16_to_lab(rgb: [u16; 3]) -> LabPixel {
    let linear = srgb16_linear_table();
    linear_to_lab([
        linear[usize::from(rgb[0])],
        linear[usize::from(rgb[1])],
        linear[usize::from(rgb[2])],
    ])
}

/// L*a*b* of an sRGB-encoded colour with channels in 0..1.
#[inline]
pub fn srgb_to_lab(rgb: [f32; 3]) -> LabPixel {
    linear_to_lab([
        srgb_channel_to_linear(rgb[0]),
        srgb_channel_to_linear(rgb[1]),
        srgb_channel_to_linear(rgb[2]),
    ])
}

/// palette's D65 white and sRGB XYZ -> RGB matrix, as the f32 values palette derives from
/// its f64 constants, so that [`lab_to_linear_unclamped`] equals palette's conversion bit
/// for bit (tested).
const WHITE_X: f32 = 0.95047f64 as f32;
const WHITE_Z: f32 = 1.08883f64 as f32;
#[rustfmt::skip]
const XYZ_TO_RGB: [f32; 9] = [
     3.2404542f64 as f32, -1.5371385f64 as f32, -0.4985314f64 as f32,
    -0.9692660f64 as f32,  1.8760108f64 as f32,  0.0415560f64 as f32,
     0.0556434f64 as f32, -0.2040259f64 as f32,  1.0572252f64 as f32,
];
const LAB_EPSILON: f32 = (6.0f64 / 29.0) as f32;
const LAB_KAPPA: f32 = (108.0f64 / 841.0) as f32;
const LAB_DELTA: f32 = (4.0f64 / 29.0) as f32;

/// Linear-light sRGB of an L*a*b* colour, unclamped (clipping the channels would move
/// L*). palette's `Lab -> Xyz -> LinSrgb` written out in the same operations and order:
/// the generic version does not vectorise, this one does (see [`lab_row_to_linear`]).
#[inline(always)]
fn lab_to_linear_unclamped(lab: LabPixel) -> [f32; 3] {
    let fy = (lab[0] + 16.0) * (1.0f32 / 116.0);
    let fx = fy + lab[1] * (1.0f32 / 500.0);
    let fz = fy - lab[2] * (1.0f32 / 200.0);
    let inverse = |c: f32| {
        if c > LAB_EPSILON {
            c * c * c
        } else {
            (c - LAB_DELTA) * LAB_KAPPA
        }
    };
    let (x, y, z) = (inverse(fx) * WHITE_X, inverse(fy), inverse(fz) * WHITE_Z);
    let m = &XYZ_TO_RGB;
    [
        m[0] * x + m[1] * y + m[2] * z,
        m[3] * x + m[4] * y + m[5] * z,
        m[6] * x + m[7] * y + m[8] * z,
    ]
}

fn in_gamut(rgb: [f32; 3]) -> bool {
    // Tight, because near black L* = 903 Y: a clamp of 1e-4 would move L* by 0.09.
    const SLACK: f32 = 2e-6;
    rgb.iter().all(|&c| (-SLACK..=1.0 + SLACK).contains(&c))
}

/// Linear-light sRGB (each channel in 0..1) of an L*a*b* colour. Out-of-gamut colours
/// lose chroma at constant L* and hue until they fit (see the module doc).
pub fn lab_to_linear(lab: LabPixel) -> [f32; 3] {
    let l = lab[0].clamp(0.0, 100.0);
    gamut_mapped(lab, lab_to_linear_unclamped([l, lab[1], lab[2]]))
}

/// `direct` (the unclamped conversion of `lab` with L* clamped to 0..100) brought into
/// the gamut and clamped: the second half of [`lab_to_linear`].
#[inline]
fn gamut_mapped(lab: LabPixel, direct: [f32; 3]) -> [f32; 3] {
    let l = lab[0].clamp(0.0, 100.0);
    let rgb = if in_gamut(direct) {
        direct
    } else {
        // Bisection on the chroma factor: 0 (grey, always inside) .. 1 (as asked).
        let (mut inside, mut outside) = (0.0f32, 1.0f32);
        let mut best = lab_to_linear_unclamped([l, 0.0, 0.0]);
        for _ in 0..10 {
            let t = 0.5 * (inside + outside);
            let candidate = lab_to_linear_unclamped([l, lab[1] * t, lab[2] * t]);
            if in_gamut(candidate) {
                inside = t;
                best = candidate;
            } else {
                outside = t;
            }
        }
        best
    };
    // Written out: `array::map` here was not inlined (a call per channel in the profile).
    [
        rgb[0].clamp(0.0, 1.0),
        rgb[1].clamp(0.0, 1.0),
        rgb[2].clamp(0.0, 1.0),
    ]
}

/// [`lab_to_linear`] of a row: L* from `l`, a*,b* pairs from `ab`, linear-light RGB
/// triples into `rgb` (as many pixels as all three hold). The same values as one pixel at
/// a time; the direct conversion of every pixel runs first, in a loop the compiler
/// vectorises (with AVX2 where the CPU has it), and only colours outside the gamut take
/// the bisection after it.
pub fn lab_row_to_linear(l: &[f32], ab: &[f32], rgb: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        return unsafe { lab_row_to_linear_avx2(l, ab, rgb) };
    }
    lab_row_to_linear_portable(l, ab, rgb)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn lab_row_to_linear_avx2(l: &[f32], ab: &[f32], rgb: &mut [f32]) {
    lab_row_to_linear_portable(l, ab, rgb)
}

#[inline(always)]
fn lab_row_to_linear_portable(l: &[f32], ab: &[f32], rgb: &mut [f32]) {
    // No FMA is enabled, so the vector code rounds exactly as the scalar code does.
    for ((&l, ab), out) in l
        .iter()
        .zip(ab.chunks_exact(2))
        .zip(rgb.chunks_exact_mut(3))
    {
        let direct = lab_to_linear_unclamped([l.clamp(0.0, 100.0), ab[0], ab[1]]);
        out.copy_from_slice(&direct);
    }
    for ((&l, ab), out) in l
        .iter()
        .zip(ab.chunks_exact(2))
        .zip(rgb.chunks_exact_mut(3))
    {
        let mapped = gamut_mapped([l, ab[0], ab[1]], [out[0], out[1], out[2]]);
        out.copy_from_slice(&mapped);
    }
}

/// 8-bit sRGB of linear-light RGB in 0..1 (palette's table look-up, rounded).
#[inline]
pub fn linear_to_srgb8(rgb: [f32; 3]) -> [u8; 3] {
    let srgb: Srgb<u8> = Srgb::from_linear(LinSrgb::new(rgb[0], rgb[1], rgb[2]));
    [srgb.red, srgb.green, srgb.blue]
}

/// 16-bit sRGB of linear-light RGB in 0..1 (rounded).
#[inline]
pub fn linear_to_srgb16(rgb: [f32; 3]) -> [u16; 3] {
    // + 0.5 and truncation rounds these non-negative values like `round`, without the
    // libm call `round` becomes on x86-64's baseline instruction set.
    let encode = |c: f32| (linear_channel_to_srgb(c) * 65535.0 + 0.5) as u16;
    [encode(rgb[0]), encode(rgb[1]), encode(rgb[2])]
}

/// sRGB-encoded colour of linear-light RGB.
#[inline]
pub fn linear_to_srgb(rgb: [f32; 3]) -> [f32; 3] {
    [
        linear_channel_to_srgb(rgb[0]),
        linear_channel_to_srgb(rgb[1]),
        linear_channel_to_srgb(rgb[2]),
    ]
}

/// 8-bit sRGB of an L*a*b* colour (gamut-mapped, rounded; table look-up for the encoding).
#[inline]
pub fn lab_to_srgb8(lab: LabPixel) -> [u8; 3] {
    linear_to_srgb8(lab_to_linear(lab))
}

/// 16-bit sRGB of an L*a*b* colour (gamut-mapped, rounded).
#[inline]
pub fn lab_to_srgb16(lab: LabPixel) -> [u16; 3] {
    linear_to_srgb16(lab_to_linear(lab))
}

/// sRGB-encoded colour in 0..1 of an L*a*b* colour (gamut-mapped).
#[inline]
pub fn lab_to_srgb(lab: LabPixel) -> [f32; 3] {
    linear_to_srgb(lab_to_linear(lab))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grey_has_no_chroma_and_round_trips_exactly() {
        for v in 0..=255u8 {
            let lab = srgb8_to_lab([v, v, v]);
            assert!(lab[1].abs() < 1e-3 && lab[2].abs() < 1e-3, "{v}: {lab:?}");
            assert_eq!(lab_to_srgb8(lab), [v, v, v]);
        }
    }

    #[test]
    fn known_colours_match_reference_values() {
        // Reference Lab (D65) of sRGB primaries, from Bruce Lindbloom's calculator.
        let red = srgb8_to_lab([255, 0, 0]);
        assert!(
            (red[0] - 53.24).abs() < 0.05
                && (red[1] - 80.09).abs() < 0.1
                && (red[2] - 67.20).abs() < 0.1,
            "{red:?}"
        );
        let white = srgb8_to_lab([255, 255, 255]);
        assert!((white[0] - 100.0).abs() < 1e-3);
    }

    #[test]
    fn lightness_shortcut_equals_full_conversion() {
        for rgb in [
            [0.1f32, 0.5, 0.9],
            [1.0, 0.0, 0.3],
            [0.0, 0.0, 0.0],
            [0.002, 0.001, 0.0],
        ] {
            let full = linear_to_lab(rgb)[0];
            assert!(
                (linear_to_lightness(rgb) - full).abs() < 1e-3,
                "{rgb:?}: {} vs {full}",
                linear_to_lightness(rgb)
            );
        }
    }

    #[test]
    fn out_of_gamut_keeps_lightness() {
        let lab = [60.0, 120.0, -120.0];
        let back = linear_to_lab(lab_to_linear(lab));
        assert!((back[0] - 60.0).abs() < 0.05, "{back:?}");
        assert!(back[1] > 20.0 && back[2] < -20.0, "hue kept: {back:?}");
    }

    #[test]
    fn transfer_curves_match_the_exact_formula_and_palette() {
        // Every 16-bit level plus points between them, and the toe of each curve.
        let points = (0..=65535 * 4).map(|i| i as f32 / (65535.0 * 4.0));
        for v in points.chain([
            0.003_130_8,
            0.003_13,
            0.003_2,
            0.04045,
            0.0405,
            1e-9,
            1.0 - 1e-7,
        ]) {
            let encoded = linear_channel_to_srgb(v);
            let exact = srgb_encode_exact(f64::from(v)) as f32;
            assert!(
                (encoded - exact).abs() < 2e-6,
                "encode {v}: {encoded} vs {exact}"
            );
            let decoded = srgb_channel_to_linear(v);
            let exact = srgb_decode_exact(f64::from(v)) as f32;
            assert!(
                (decoded - exact).abs() < 2e-7,
                "decode {v}: {decoded} vs {exact}"
            );
        }
        // The same curve palette uses for 8-bit, so every depth agrees.
        for v in [0.001f32, 0.2, 0.5, 0.9] {
            let palette_encoded = Srgb::<f32>::from_linear(LinSrgb::new(v, v, v)).red;
            assert!((linear_channel_to_srgb(v) - palette_encoded).abs() < 1e-5);
            let palette_decoded = Srgb::new(v, v, v).into_linear::<f32>().red;
            assert!((srgb_channel_to_linear(v) - palette_decoded).abs() < 1e-5);
        }
        // Outside 0..1 (float images may hold such values) the exact curve still answers.
        assert!((linear_channel_to_srgb(2.0) - srgb_encode_exact(2.0) as f32).abs() < 1e-6);
        assert!(srgb_channel_to_linear(f32::NAN).is_nan());
    }

    /// The row forms of both curves (AVX2 gathers where the CPU has them) equal the
    /// per-value look-ups bit for bit, in the table, in the toe, outside 0..1 and at NaN.
    #[test]
    fn curve_rows_equal_the_single_look_ups() {
        let mut values: Vec<f32> = (0..=200_003).map(|i| i as f32 / 200_000.0).collect();
        values.extend([
            -0.5,
            -0.0,
            1e-9,
            0.003_13,
            0.0405,
            1.0,
            1.0 + 1e-7,
            7.0,
            f32::NAN,
        ]);
        values.extend([f32::INFINITY, f32::NEG_INFINITY, 0.5]);
        for (row, single) in [
            (
                srgb_row_to_linear as fn(&mut [f32]),
                srgb_channel_to_linear as fn(f32) -> f32,
            ),
            (linear_row_to_srgb, linear_channel_to_srgb),
        ] {
            let mut ours = values.clone();
            row(&mut ours);
            for (v, o) in values.iter().zip(&ours) {
                let want = single(*v);
                assert!(
                    o.to_bits() == want.to_bits() || (o.is_nan() && want.is_nan()),
                    "{v}: {o} vs {want}"
                );
            }
        }
    }

    #[test]
    fn grey_table_lightness_equals_the_full_conversion() {
        let full = |rgb: [u8; 3]| linear_to_lightness(srgb8_to_linear(rgb));
        for v in 0..=255u8 {
            assert_eq!(srgb8_to_lightness([v; 3]), full([v; 3]), "grey {v}");
        }
        for rgb in [[255u8, 0, 0], [10, 200, 30], [128, 128, 127]] {
            assert_eq!(srgb8_to_lightness(rgb), full(rgb), "{rgb:?}");
        }
    }

    /// The hand-written Lab -> linear RGB equals palette's bit for bit, and the row form
    /// equals the per-pixel one (inside and outside the gamut, L* past 0..100, NaN).
    #[test]
    fn lab_conversion_equals_palette_and_rows_equal_pixels() {
        let mut labs = Vec::new();
        for l in (-2..=102).step_by(3) {
            for a in (-130..=130).step_by(7) {
                for b in (-130..=130).step_by(9) {
                    labs.push([l as f32 + 0.37, a as f32 * 0.93, b as f32 * 1.07]);
                }
            }
        }
        labs.push([50.0, f32::NAN, 3.0]);
        for &lab in &labs {
            let ours = lab_to_linear_unclamped(lab);
            let lin = LinSrgb::from_color_unclamped(Lab::new(lab[0], lab[1], lab[2]));
            let theirs = [lin.red, lin.green, lin.blue];
            assert!(
                ours.iter()
                    .zip(&theirs)
                    .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())),
                "{lab:?}: {ours:?} vs {theirs:?}"
            );
        }
        let l: Vec<f32> = labs.iter().map(|p| p[0]).collect();
        let ab: Vec<f32> = labs.iter().flat_map(|p| [p[1], p[2]]).collect();
        let mut rgb = vec![0.0f32; 3 * labs.len()];
        lab_row_to_linear(&l, &ab, &mut rgb);
        for (lab, row) in labs.iter().zip(rgb.chunks_exact(3)) {
            let pixel = lab_to_linear(*lab);
            assert!(
                row.iter()
                    .zip(&pixel)
                    .all(|(a, b)| a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())),
                "{lab:?}: {row:?} vs {pixel:?}"
            );
        }
    }

    /// The 16-bit row L* (tables for every level and for grey) equals the per-pixel
    /// conversion through the interpolated curve.
    #[test]
    fn sixteen_bit_row_lightness_equals_the_pixel_conversion() {
        let levels = (0..=65535u16).step_by(97).chain([1, 2, 65534, 65535]);
        let mut pixels = Vec::new();
        for v in levels {
            pixels.extend([v, v, v, 7]);
            pixels.extend([v, v / 2, 65535 - v, 7]);
        }
        let mut l = vec![0.0f32; pixels.len() / 4];
        srgb16_row_to_lightness(&pixels, 4, &mut l);
        for (p, &ours) in pixels.chunks_exact(4).zip(&l) {
            let full = linear_to_lightness([
                srgb16_channel_to_linear(p[0]),
                srgb16_channel_to_linear(p[1]),
                srgb16_channel_to_linear(p[2]),
            ]);
            assert_eq!(ours.to_bits(), full.to_bits(), "{p:?}");
        }
    }

    #[test]
    fn sixteen_bit_round_trip() {
        for rgb in [[0u16, 1000, 65535], [12345, 23456, 34567]] {
            let back = lab_to_srgb16(srgb16_to_lab(rgb));
            for c in 0..3 {
                assert!(
                    (i32::from(back[c]) - i32::from(rgb[c])).abs() <= 2,
                    "{rgb:?} -> {back:?}"
                );
            }
        }
    }
}
