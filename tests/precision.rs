//! The network's precision choice through the library: bf16 gives the f32 result up to
//! bfloat16 rounding, on every path of the vendored tract's bf16 convolution (contiguous
//! rows at stride 1, every other pixel at stride 2, panels cut short at the right edge and
//! by odd widths), and actually differs from f32 where the CPU runs it natively (so the
//! test would notice bf16 silently running as f32).

mod common;

use colorize::{Model, Precision};

/// Largest |bf16 - f32| over a*b* and the largest |f32| (for scale), on an L* ramp of
/// `width` x `height`.
fn compare(model: &Model, width: usize, height: usize) -> (f32, f32) {
    let l: Vec<f32> = (0..width * height)
        .map(|i| ((i % width) * 97 + (i / width) * 31) as f32 % 100.0)
        .collect();
    let (exact, ..) = model
        .run_plane(l.clone(), width, height, Precision::F32)
        .unwrap();
    let (rounded, ..) = model.run_plane(l, width, height, Precision::Bf16).unwrap();
    assert_eq!(exact.len(), rounded.len());
    let diff = exact
        .iter()
        .zip(&rounded)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    let scale = exact.iter().map(|a| a.abs()).fold(0.0f32, f32::max);
    (diff, scale)
}

#[test]
fn bf16_matches_f32_up_to_rounding_on_every_gather_path() {
    for stride in [1, 2] {
        let model = Model::from_bytes(&common::wide_model_with_stride(stride), "wide").unwrap();
        // 64 wide: whole 16-column panels; 50 and 38: panels cut at the edge, odd rows.
        for (width, height) in [(64, 48), (50, 38)] {
            let (diff, scale) = compare(&model, width, height);
            assert!(
                scale > 1.0,
                "stride {stride} {width}x{height}: a*b* all near 0"
            );
            // bf16 keeps 8 bits of mantissa: a relative 2^-8 per operand over a 576-term sum
            // of mixed signs stays well under 1% of the output's range (measured ~0.3%).
            assert!(
                diff <= 0.01 * scale,
                "stride {stride} {width}x{height}: bf16 off by {diff} (scale {scale})"
            );
            if Precision::Bf16.runs_natively() {
                assert!(
                    diff > 0.0,
                    "stride {stride} {width}x{height}: bf16 ran as f32"
                );
            }
        }
    }
}

#[test]
fn plans_of_both_precisions_coexist_in_one_model() {
    let model = Model::from_bytes(&common::wide_model(), "wide").unwrap();
    let l = vec![40.0f32; 32 * 32];
    let first = model.run_plane(l.clone(), 32, 32, Precision::F32).unwrap();
    model.run_plane(l.clone(), 32, 32, Precision::Bf16).unwrap();
    let again = model.run_plane(l, 32, 32, Precision::F32).unwrap();
    assert_eq!(
        first.0, again.0,
        "an f32 run after a bf16 one must be the same f32 plan"
    );
}
