//! `colorize::metrics` against values computed by hand on tiny images, and the grayscale
//! baseline on the shared sets against the numbers in `../shared/data/DATA.md`.

use colorize::metrics::{self, ImageScores, MetricsError, ScoreSummary, PSNR_CEILING_DB};

fn close(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol
}

#[test]
fn psnr_of_one_wrong_sample() {
    // Two pixels, six samples, one of them off by 10: MSE = 100 / 6.
    let truth = [0u8, 0, 0, 0, 0, 0];
    let output = [10u8, 0, 0, 0, 0, 0];
    let mse = metrics::mse_rgb8(&truth, &output).unwrap();
    assert!(close(mse, 100.0 / 6.0, 1e-12), "{mse}");
    // 10·log10(65025 / 16.6667) = 10·log10(3901.5) = 35.9123 dB.
    let psnr = metrics::psnr_rgb8(&truth, &output).unwrap();
    assert!(close(psnr, 35.9123, 1e-4), "{psnr}");
    // Symmetric, and the sign of an error does not matter.
    assert_eq!(metrics::psnr_rgb8(&output, &truth).unwrap(), psnr);
}

#[test]
fn psnr_of_extremes() {
    let black = [0u8; 12];
    let white = [255u8; 12];
    assert!(close(
        metrics::psnr_rgb8(&black, &white).unwrap(),
        0.0,
        1e-12
    ));
    assert_eq!(metrics::psnr_rgb8(&white, &white).unwrap(), f64::INFINITY);
    // Every sample off by one level: 10·log10(65025) = 48.1308 dB.
    let grey = [128u8; 12];
    let grey1 = [129u8; 12];
    assert!(close(
        metrics::psnr_rgb8(&grey, &grey1).unwrap(),
        48.1308,
        1e-4
    ));
}

#[test]
fn mismatched_or_empty_buffers_are_errors() {
    assert_eq!(
        metrics::psnr_rgb8(&[0u8; 6], &[0u8; 3]),
        Err(MetricsError::SizeMismatch {
            expected: 6,
            got: 3
        })
    );
    assert_eq!(metrics::psnr_rgb8(&[], &[]), Err(MetricsError::Empty));
    assert!(metrics::colourfulness_rgb8(&[1u8, 2]).is_err());
    assert!(metrics::ab_auc_rgb8(&[0u8; 3], &[0u8; 6]).is_err());
    assert_eq!(metrics::auc_of_ab_errors(&[]), Err(MetricsError::Empty));
    assert!(metrics::grayscale_baseline_rgb8(&[0u8; 4]).is_err());
}

#[test]
fn auc_of_single_errors_by_hand() {
    // Trapezoid over t = 0..150 of F(t) = [error <= t], divided by 150.
    assert_eq!(metrics::auc_of_ab_errors(&[0.0]).unwrap(), 1.0);
    // Counted from t = 1 on: half a step at t = 1 is lost (the trapezoid 0..1 is ½).
    assert!(close(
        metrics::auc_of_ab_errors(&[0.5]).unwrap(),
        149.5 / 150.0,
        1e-12
    ));
    assert!(close(
        metrics::auc_of_ab_errors(&[1.0]).unwrap(),
        149.5 / 150.0,
        1e-12
    ));
    assert!(close(
        metrics::auc_of_ab_errors(&[75.0]).unwrap(),
        75.5 / 150.0,
        1e-12
    ));
    // Only the last threshold counts, with half weight.
    assert!(close(
        metrics::auc_of_ab_errors(&[150.0]).unwrap(),
        0.5 / 150.0,
        1e-12
    ));
    assert_eq!(metrics::auc_of_ab_errors(&[150.001]).unwrap(), 0.0);
    assert_eq!(metrics::auc_of_ab_errors(&[1000.0]).unwrap(), 0.0);
    // A mean over pixels.
    let mixed = metrics::auc_of_ab_errors(&[0.0, 1000.0, 75.0, 75.0]).unwrap();
    assert!(
        close(mixed, (1.0 + 0.0 + 2.0 * 75.5 / 150.0) / 4.0, 1e-12),
        "{mixed}"
    );
}

#[test]
fn auc_equals_the_curve_integrated_the_slow_way() {
    // A deterministic spread of errors, including exact integers and values past 150.
    let errors: Vec<f64> = (0..997)
        .map(|i| ((i * 7919) % 1700) as f64 / 10.0)
        .collect();
    let fraction_within =
        |t: f64| errors.iter().filter(|&&e| e <= t).count() as f64 / errors.len() as f64;
    let curve: Vec<f64> = (0..=150).map(|t| fraction_within(f64::from(t))).collect();
    let area: f64 = curve.windows(2).map(|w| 0.5 * (w[0] + w[1])).sum();
    let auc = metrics::auc_of_ab_errors(&errors).unwrap();
    assert!(close(auc, area / 150.0, 1e-12), "{auc} vs {}", area / 150.0);
}

#[test]
fn lab_of_primaries_matches_reference() {
    // Bruce Lindbloom's calculator, sRGB, D65: red = (53.2408, 80.0925, 67.2032).
    let red = metrics::srgb8_to_lab([255, 0, 0]);
    assert!(
        close(red[0], 53.2408, 1e-3)
            && close(red[1], 80.0925, 2e-3)
            && close(red[2], 67.2032, 2e-3),
        "{red:?}"
    );
    let blue = metrics::srgb8_to_lab([0, 0, 255]);
    assert!(
        close(blue[0], 32.2970, 1e-3)
            && close(blue[1], 79.1875, 2e-3)
            && close(blue[2], -107.8602, 2e-3),
        "{blue:?}"
    );
    let grey = metrics::srgb8_to_lab([119, 119, 119]);
    // Palette's matrix and white point agree to about 1e-5 in a*, b*.
    assert!(grey[1].abs() < 1e-4 && grey[2].abs() < 1e-4, "{grey:?}");
}

#[test]
fn auc_of_red_against_its_grey() {
    // Pure red's chroma is √(80.0925² + 67.2032²) = 104.552, so thresholds 105..150 count:
    // (150.5 − 105) / 150. Its grey (same L*) is (127, 127, 127), whose a*b* is 0.
    let truth = [255u8, 0, 0];
    let grey = [127u8, 127, 127];
    let errors = metrics::ab_errors_rgb8(&truth, &grey).unwrap();
    assert!(close(errors[0], 104.552, 2e-3), "{errors:?}");
    assert!(close(
        metrics::ab_auc_rgb8(&truth, &grey).unwrap(),
        45.5 / 150.0,
        1e-12
    ));
    assert_eq!(metrics::ab_auc_rgb8(&truth, &truth).unwrap(), 1.0);
}

#[test]
fn colourfulness_by_hand() {
    // Grey of any level: no colour at all.
    assert_eq!(
        metrics::colourfulness_rgb8(&[0, 0, 0, 90, 90, 90, 255, 255, 255]).unwrap(),
        0.0
    );
    // Uniform red: rg = 255, yb = 127.5 everywhere; σ = 0, μ = √(255² + 127.5²) = 285.099.
    let red = metrics::colourfulness_rgb8(&[255, 0, 0, 255, 0, 0]).unwrap();
    assert!(close(red, 0.3 * 285.0987, 1e-3), "{red}");
    // Red and blue: rg = (255, 0), yb = (127.5, −255). Means 127.5, −63.75;
    // population variances 127.5² = 16256.25 and 191.25² = 36576.5625.
    let want =
        (16256.25f64 + 36576.5625).sqrt() + 0.3 * (127.5f64.powi(2) + 63.75f64.powi(2)).sqrt();
    let got = metrics::colourfulness_rgb8(&[255, 0, 0, 0, 0, 255]).unwrap();
    assert!(close(got, want, 1e-9), "{got} vs {want}");
    assert!(close(want, 272.6178, 1e-3), "{want}");
}

#[test]
fn grayscale_baseline_by_hand() {
    // The grey of the same L*: Y of the primary, sRGB-encoded. Red: Y = 0.212673,
    // 1.055·Y^(1/2.4) − 0.055 = 0.49852 -> 127.1 -> 127; green: Y = 0.715152 -> 219.9 -> 220;
    // blue: Y = 0.072175 -> 75.95 -> 76.
    let out = metrics::grayscale_baseline_rgb8(&[255, 0, 0, 0, 255, 0, 0, 0, 255]).unwrap();
    assert_eq!(out, vec![127, 127, 127, 220, 220, 220, 76, 76, 76]);
    // Grey stays exactly as it is, for every level.
    let greys: Vec<u8> = (0..=255u8).flat_map(|v| [v, v, v]).collect();
    assert_eq!(metrics::grayscale_baseline_rgb8(&greys).unwrap(), greys);
}

#[test]
fn summary_means_and_ratio() {
    let mut summary = ScoreSummary::new();
    assert!(summary.psnr_db().is_nan());
    summary.add(&ImageScores {
        psnr_db: 20.0,
        ab_auc: 0.8,
        colourfulness_output: 10.0,
        colourfulness_truth: 40.0,
    });
    summary.add(&ImageScores {
        psnr_db: f64::INFINITY,
        ab_auc: 1.0,
        colourfulness_output: 0.0,
        colourfulness_truth: 0.0,
    });
    assert_eq!(summary.images(), 2);
    assert_eq!(summary.exact_images(), 1);
    assert_eq!(summary.psnr_db(), (20.0 + PSNR_CEILING_DB) / 2.0);
    assert_eq!(summary.psnr_db_inexact(), 20.0);
    assert!(close(summary.ab_auc(), 0.9, 1e-12));
    assert_eq!(summary.colourfulness_output(), 5.0);
    assert_eq!(summary.colourfulness_truth(), 20.0);
    assert_eq!(summary.colourfulness_ratio(), 0.25);
}

#[test]
fn score_of_a_tiny_image() {
    // Truth: red and grey. Output: its grayscale baseline.
    let truth = [255u8, 0, 0, 100, 100, 100];
    let output = metrics::grayscale_baseline_rgb8(&truth).unwrap();
    assert_eq!(output, vec![127, 127, 127, 100, 100, 100]);
    let scores = metrics::score_rgb8(&truth, &output).unwrap();
    // Squared errors 128² + 127² + 127² over six samples.
    let mse = (128.0f64 * 128.0 + 2.0 * 127.0 * 127.0) / 6.0;
    assert!(close(scores.psnr_db, 10.0 * (65025.0 / mse).log10(), 1e-9));
    assert!(close(scores.ab_auc, (45.5 / 150.0 + 1.0) / 2.0, 1e-12));
    assert_eq!(scores.colourfulness_output, 0.0);
    // rg = (255, 0), yb = (127.5, 0): variances 127.5², 63.75²; means 127.5, 63.75.
    let want = (127.5f64.powi(2) + 63.75f64.powi(2)).sqrt() * 1.3;
    assert!(close(scores.colourfulness_truth, want, 1e-9));
}
