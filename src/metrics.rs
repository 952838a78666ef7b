//! The quality yardstick (docs/quality.md): PSNR, AuC of the a*b* error, colourfulness.
//!
//! Every function takes interleaved 8-bit sRGB (`[r, g, b, r, g, b, …]`, row after row,
//! no padding) borrowed from the caller, because that is what a user keeps of a colorized
//! photo and what the ground truth is. Colour conversion here uses `palette` in `f64`
//! directly rather than the engine's `crate::color`, so the yardstick does not share code
//! with what it measures.
//!
//! Definitions (each checked against hand-computed values in `tests/metrics.rs`, and the
//! grayscale baseline against an independent scikit-image computation in
//! `tests/metrics_crosscheck.py`):
//! - **PSNR**: `10·log10(255² / MSE)` over all pixels and the three channels of one image.
//!   A set's PSNR is the mean of its images' PSNRs. An image reproduced exactly has
//!   infinite PSNR; it counts as [`PSNR_CEILING_DB`] in a mean, so that one exact image
//!   cannot make a whole set infinite.
//! - **AuC**: for thresholds t = 0, 1, …, 150 the fraction of pixels whose a*b* error
//!   `√(Δa*² + Δb*²)` is at most t; the area under that curve (trapezoid rule) divided by
//!   150 (Zhang, Isola & Efros 2016). 1 means every pixel's colour is exact.
//! - **Colourfulness** (Hasler & Süsstrunk 2003, metric M3) on 0..255 values:
//!   `rg = R − G`, `yb = (R + G)/2 − B`, `M = √(σ_rg² + σ_yb²) + 0.3·√(μ_rg² + μ_yb²)`
//!   with population standard deviations, per image; a set's value is the mean over its
//!   images. Its ratio output/truth tells vivid (near 1) from sepia (near 0).

use palette::{FromColor, Lab, Srgb};

/// Threshold range of the AuC in a*b* units (Zhang et al. 2016).
pub const AUC_MAX_THRESHOLD: u32 = 150;

/// What an exactly reproduced image's (infinite) PSNR counts as in a mean, in dB.
pub const PSNR_CEILING_DB: f64 = 100.0;

/// Why two images cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsError {
    /// A buffer's length is not 3 × width × height, or the two differ.
    SizeMismatch { expected: usize, got: usize },
    /// An image without pixels has no meaningful score.
    Empty,
}

impl std::fmt::Display for MetricsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::SizeMismatch { expected, got } => write!(
                f,
                "image buffers differ in size: expected {expected} bytes (3 per pixel), got {got}"
            ),
            Self::Empty => write!(f, "image has no pixels"),
        }
    }
}

impl std::error::Error for MetricsError {}

fn check_pair(truth: &[u8], output: &[u8]) -> Result<(), MetricsError> {
    check_rgb(truth)?;
    if output.len() != truth.len() {
        return Err(MetricsError::SizeMismatch {
            expected: truth.len(),
            got: output.len(),
        });
    }
    Ok(())
}

fn check_rgb(rgb: &[u8]) -> Result<(), MetricsError> {
    if rgb.is_empty() {
        return Err(MetricsError::Empty);
    }
    if rgb.len() % 3 != 0 {
        return Err(MetricsError::SizeMismatch {
            expected: rgb.len() / 3 * 3,
            got: rgb.len(),
        });
    }
    Ok(())
}

/// Mean squared error over all samples of two 8-bit sRGB images, in 8-bit levels².
pub fn mse_rgb8(truth: &[u8], output: &[u8]) -> Result<f64, MetricsError> {
    check_pair(truth, output)?;
    let sum: u64 = truth
        .iter()
        .zip(output)
        .map(|(&t, &o)| {
            let d = u64::from(t.abs_diff(o));
            d * d
        })
        .sum();
    Ok(sum as f64 / truth.len() as f64)
}

/// PSNR in dB of an 8-bit sRGB output against its truth; `f64::INFINITY` when identical.
pub fn psnr_rgb8(truth: &[u8], output: &[u8]) -> Result<f64, MetricsError> {
    let mse = mse_rgb8(truth, output)?;
    Ok(if mse == 0.0 {
        f64::INFINITY
    } else {
        10.0 * (255.0f64 * 255.0 / mse).log10()
    })
}

/// CIE L*a*b* (D65) of one 8-bit sRGB pixel, in `f64`.
pub fn srgb8_to_lab(rgb: [u8; 3]) -> [f64; 3] {
    let lab: Lab<palette::white_point::D65, f64> = Lab::from_color(
        Srgb::new(rgb[0], rgb[1], rgb[2])
            .into_format::<f64>()
            .into_linear(),
    );
    [lab.l, lab.a, lab.b]
}

/// The AuC contribution of one pixel whose a*b* error is `error`, times 150: the
/// trapezoid weights (½ at t = 0 and t = 150, 1 between) of the thresholds t ≥ error.
fn auc_weight(error: f64) -> f64 {
    let max = f64::from(AUC_MAX_THRESHOLD);
    if error > max {
        0.0
    } else if error <= 0.0 {
        max
    } else {
        // Thresholds ceil(error) ..= 150 count; none of them is t = 0.
        max + 0.5 - error.ceil()
    }
}

/// AuC (0..1) of per-pixel a*b* errors, thresholds 0..=150, trapezoid rule.
pub fn auc_of_ab_errors(errors: &[f64]) -> Result<f64, MetricsError> {
    if errors.is_empty() {
        return Err(MetricsError::Empty);
    }
    let total: f64 = errors.iter().map(|&e| auc_weight(e)).sum();
    Ok(total / (errors.len() as f64 * f64::from(AUC_MAX_THRESHOLD)))
}

/// Per-pixel a*b* error `√(Δa*² + Δb*²)` of an 8-bit sRGB output against its truth.
pub fn ab_errors_rgb8(truth: &[u8], output: &[u8]) -> Result<Vec<f64>, MetricsError> {
    check_pair(truth, output)?;
    Ok(truth
        .chunks_exact(3)
        .zip(output.chunks_exact(3))
        .map(|(t, o)| {
            let t = srgb8_to_lab([t[0], t[1], t[2]]);
            let o = srgb8_to_lab([o[0], o[1], o[2]]);
            (t[1] - o[1]).hypot(t[2] - o[2])
        })
        .collect())
}

/// AuC (0..1) of the a*b* error of an 8-bit sRGB output against its truth.
pub fn ab_auc_rgb8(truth: &[u8], output: &[u8]) -> Result<f64, MetricsError> {
    auc_of_ab_errors(&ab_errors_rgb8(truth, output)?)
}

/// Hasler & Süsstrunk's M3 colourfulness of an 8-bit sRGB image (0 for any grey image;
/// everyday photos score roughly 15..100).
pub fn colourfulness_rgb8(rgb: &[u8]) -> Result<f64, MetricsError> {
    check_rgb(rgb)?;
    let (mut sum_rg, mut sum_yb, mut sum_rg2, mut sum_yb2) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for p in rgb.chunks_exact(3) {
        let (r, g, b) = (f64::from(p[0]), f64::from(p[1]), f64::from(p[2]));
        let rg = r - g;
        let yb = 0.5 * (r + g) - b;
        sum_rg += rg;
        sum_yb += yb;
        sum_rg2 += rg * rg;
        sum_yb2 += yb * yb;
    }
    let n = (rgb.len() / 3) as f64;
    let (mean_rg, mean_yb) = (sum_rg / n, sum_yb / n);
    // Population variances; clamp the tiny negative values rounding can leave.
    let var_rg = (sum_rg2 / n - mean_rg * mean_rg).max(0.0);
    let var_yb = (sum_yb2 / n - mean_yb * mean_yb).max(0.0);
    Ok((var_rg + var_yb).sqrt() + 0.3 * mean_rg.hypot(mean_yb))
}

/// The grayscale baseline (docs/quality.md): each pixel keeps its L*, with a* = b* = 0,
/// back to 8-bit sRGB (rounded). Also what "reducing a photo to grey" means in
/// `colorize eval`: it is exactly the input a black-and-white photo would give.
pub fn grayscale_baseline_rgb8(rgb: &[u8]) -> Result<Vec<u8>, MetricsError> {
    check_rgb(rgb)?;
    Ok(rgb
        .chunks_exact(3)
        .flat_map(|p| {
            let l = srgb8_to_lab([p[0], p[1], p[2]])[0];
            let grey: Srgb<f64> = Srgb::from_linear(palette::LinSrgb::from_color(Lab::<
                palette::white_point::D65,
                f64,
            >::new(
                l, 0.0, 0.0
            )));
            // A neutral colour has R = G = B; take green, the channel with the least error.
            let v = (grey.green.clamp(0.0, 1.0) * 255.0).round() as u8;
            [v, v, v]
        })
        .collect())
}

/// The scores of one output image against its truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageScores {
    /// dB; `f64::INFINITY` when the output equals the truth.
    pub psnr_db: f64,
    /// 0..1.
    pub ab_auc: f64,
    pub colourfulness_output: f64,
    pub colourfulness_truth: f64,
}

/// All scores of an 8-bit sRGB output against its truth (same size, interleaved RGB).
pub fn score_rgb8(truth: &[u8], output: &[u8]) -> Result<ImageScores, MetricsError> {
    Ok(ImageScores {
        psnr_db: psnr_rgb8(truth, output)?,
        ab_auc: ab_auc_rgb8(truth, output)?,
        colourfulness_output: colourfulness_rgb8(output)?,
        colourfulness_truth: colourfulness_rgb8(truth)?,
    })
}

/// Running means of [`ImageScores`] over a set of images.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ScoreSummary {
    images: usize,
    exact_images: usize,
    psnr_sum: f64,
    psnr_inexact_sum: f64,
    auc_sum: f64,
    colourfulness_output_sum: f64,
    colourfulness_truth_sum: f64,
}

impl ScoreSummary {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one image's scores.
    pub fn add(&mut self, scores: &ImageScores) {
        self.images += 1;
        if scores.psnr_db.is_infinite() {
            self.exact_images += 1;
        } else {
            self.psnr_inexact_sum += scores.psnr_db;
        }
        self.psnr_sum += scores.psnr_db.min(PSNR_CEILING_DB);
        self.auc_sum += scores.ab_auc;
        self.colourfulness_output_sum += scores.colourfulness_output;
        self.colourfulness_truth_sum += scores.colourfulness_truth;
    }

    /// Number of images added.
    pub fn images(&self) -> usize {
        self.images
    }

    /// Number of images reproduced exactly (infinite PSNR, counted as [`PSNR_CEILING_DB`]).
    pub fn exact_images(&self) -> usize {
        self.exact_images
    }

    fn mean(&self, sum: f64) -> f64 {
        if self.images == 0 {
            f64::NAN
        } else {
            sum / self.images as f64
        }
    }

    /// Mean PSNR in dB (NaN for an empty set).
    pub fn psnr_db(&self) -> f64 {
        self.mean(self.psnr_sum)
    }

    /// Mean PSNR in dB over the images not reproduced exactly (NaN if there are none).
    pub fn psnr_db_inexact(&self) -> f64 {
        let inexact = self.images - self.exact_images;
        if inexact == 0 {
            f64::NAN
        } else {
            self.psnr_inexact_sum / inexact as f64
        }
    }

    /// Mean AuC, 0..1.
    pub fn ab_auc(&self) -> f64 {
        self.mean(self.auc_sum)
    }

    /// Mean colourfulness of the outputs.
    pub fn colourfulness_output(&self) -> f64 {
        self.mean(self.colourfulness_output_sum)
    }

    /// Mean colourfulness of the truths.
    pub fn colourfulness_truth(&self) -> f64 {
        self.mean(self.colourfulness_truth_sum)
    }

    /// Mean output colourfulness over mean truth colourfulness: a ratio of means, so that
    /// grey truths (colourfulness 0) do not divide by zero.
    pub fn colourfulness_ratio(&self) -> f64 {
        self.colourfulness_output_sum / self.colourfulness_truth_sum
    }
}
