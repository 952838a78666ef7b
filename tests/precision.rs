//! The network's arithmetic through the vendored tract's convolution paths:
//! - the precision choice: bf16 gives the f32 result up to bfloat16 rounding, on every path
//!   of the bf16 convolution (contiguous rows at stride 1, every other pixel at stride 2,
//!   panels cut short at the right edge and by odd widths), and actually differs from f32
//!   where the CPU runs it natively (so the test would notice bf16 silently running as f32);
//! - the border of a padded convolution read as zeros by the gathers themselves: the same
//!   bits as tract's padded copy of the input, in both precisions.

mod common;

use colorize::{Model, Precision};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::knobs::KnobScope;

/// Largest |bf16 - f32| over a*b* and the largest |f32| (for scale), on an L* ramp of
/// `width` x `height`.
fn compare(model: &Model, width: usize, height: usize) -> (f32, f32) {
    let l: Vec<f32> = (0..width * height)
        .map(|i| ((i % width) * 97 + (i / width) * 31) as f32 % 100.0)
        .collect();
    let (exact, ..) = model
        .run_plane(l.clone(), width, height, Precision::F32, 0.0)
        .unwrap();
    let (rounded, ..) = model
        .run_plane(l, width, height, Precision::Bf16, 0.0)
        .unwrap();
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
    let first = model
        .run_plane(l.clone(), 32, 32, Precision::F32, 0.0)
        .unwrap();
    model
        .run_plane(l.clone(), 32, 32, Precision::Bf16, 0.0)
        .unwrap();
    let again = model.run_plane(l, 32, 32, Precision::F32, 0.0).unwrap();
    assert_eq!(
        first.0, again.0,
        "an f32 run after a bf16 one must be the same f32 plan"
    );
}

/// The network's output for an L* ramp of `width` x `height`, optimised under `knobs`, and how
/// many Pad nodes its plan has.
fn run_tract(
    model: &[u8],
    width: usize,
    height: usize,
    knobs: &[(&str, &str)],
) -> (Vec<f32>, usize) {
    let scope = KnobScope::new(knobs.iter().copied()).unwrap();
    let plan = scope
        .enter(|| {
            tract_onnx::onnx()
                .model_for_read(&mut &model[..])?
                .with_input_fact(0, f32::fact([1, 1, height, width]).into())?
                .into_optimized()
        })
        .unwrap();
    let pads = plan
        .nodes()
        .iter()
        .filter(|node| node.op().name() == "Pad")
        .count();
    let l = tract_ndarray::Array4::from_shape_fn((1, 1, height, width), |(_, _, y, x)| {
        ((x * 97 + y * 31) % 100) as f32
    });
    let output = plan
        .into_runnable()
        .unwrap()
        .run(tvec!(Tensor::from(l).into()))
        .unwrap();
    let values = output[0]
        .to_plain_array_view::<f32>()
        .unwrap()
        .iter()
        .copied()
        .collect();
    (values, pads)
}

#[test]
fn implicit_padding_gives_the_bits_of_a_padded_copy() {
    for stride in [1, 2] {
        let model = common::wide_model_with_stride(stride);
        // Whole panels, panels wrapping row ends, odd sizes, a stride-2 input of odd size,
        // and inputs narrower than one panel.
        for (width, height) in [(64, 48), (50, 38), (33, 31), (17, 9), (7, 5)] {
            for amx in ["false", "true"] {
                let knobs = [("TRACT_AMX_BF16", amx)];
                let (implicit, implicit_pads) = run_tract(&model, width, height, &knobs);
                let explicit_knobs = [knobs[0], ("TRACT_LAZY_IM2COL_EXPLICIT_PAD", "true")];
                let (explicit, explicit_pads) = run_tract(&model, width, height, &explicit_knobs);
                let case = format!("stride {stride}, {width}x{height}, AMX bf16 {amx}");
                assert!(
                    explicit_pads > 0 && implicit_pads == 0,
                    "{case}: {implicit_pads} Pad nodes with implicit padding, {explicit_pads} without"
                );
                assert_eq!(implicit.len(), explicit.len(), "{case}");
                let differing = implicit
                    .iter()
                    .zip(&explicit)
                    .filter(|(a, b)| a.to_bits() != b.to_bits())
                    .count();
                assert_eq!(
                    differing,
                    0,
                    "{case}: {differing} of {} values differ",
                    implicit.len()
                );
            }
        }
    }
}
