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

/// Linear-light value of one sRGB-encoded sample in 0..1 (interpolated table look-up,
/// within 2e-7 of the exact curve; values outside 0..1 take the exact curve).
#[inline]
pub fn srgb_channel_to_linear(v: f32) -> f32 {
    static CURVE: OnceLock<Curve> = OnceLock::new();
    CURVE
        .get_or_init(|| Curve::sample(4096, srgb_decode_exact, 0.04045))
        .eval(v)
}

/// sRGB-encoded value in 0..1 of one linear-light sample in 0..1 (interpolated table
/// look-up, within 1e-6 of the exact curve, a fifteenth of a 16-bit step; values outside
/// 0..1 take the exact curve).
#[inline]
pub fn linear_channel_to_srgb(v: f32) -> f32 {
    static CURVE: OnceLock<Curve> = OnceLock::new();
    CURVE
        .get_or_init(|| Curve::sample(16384, srgb_encode_exact, 0.003_130_8))
        .eval(v)
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
    linear_to_lab(rgb.map(srgb16_channel_to_linear))
}

/// L*a*b* of an sRGB-encoded colour with channels in 0..1.
#[inline]
pub fn srgb_to_lab(rgb: [f32; 3]) -> LabPixel {
    linear_to_lab(rgb.map(srgb_channel_to_linear))
}

fn lab_to_linear_unclamped(lab: LabPixel) -> [f32; 3] {
    // Unclamped: palette's `from_color` clips RGB channels, which would move L*.
    let lin = LinSrgb::from_color_unclamped(Lab::new(lab[0], lab[1], lab[2]));
    [lin.red, lin.green, lin.blue]
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
    let direct = lab_to_linear_unclamped([l, lab[1], lab[2]]);
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
    rgb.map(|c| c.clamp(0.0, 1.0))
}

/// 8-bit sRGB of an L*a*b* colour (gamut-mapped, rounded; table look-up for the encoding).
#[inline]
pub fn lab_to_srgb8(lab: LabPixel) -> [u8; 3] {
    let [r, g, b] = lab_to_linear(lab);
    let srgb: Srgb<u8> = Srgb::from_linear(LinSrgb::new(r, g, b));
    [srgb.red, srgb.green, srgb.blue]
}

/// 16-bit sRGB of an L*a*b* colour (gamut-mapped, rounded).
#[inline]
pub fn lab_to_srgb16(lab: LabPixel) -> [u16; 3] {
    // + 0.5 and truncation rounds these non-negative values like `round`, without the
    // libm call `round` becomes on x86-64's baseline instruction set.
    lab_to_linear(lab).map(|c| (linear_channel_to_srgb(c) * 65535.0 + 0.5) as u16)
}

/// sRGB-encoded colour in 0..1 of an L*a*b* colour (gamut-mapped).
#[inline]
pub fn lab_to_srgb(lab: LabPixel) -> [f32; 3] {
    lab_to_linear(lab).map(linear_channel_to_srgb)
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
