//! The network's arithmetic through the vendored tract's convolution paths:
//! - the precision choice: bf16 gives the f32 result up to bfloat16 rounding, on every path
//!   of the bf16 convolution (contiguous rows at stride 1, every other pixel at stride 2,
//!   panels cut short at the right edge and by odd widths), and actually differs from f32
//!   where the CPU runs it natively (so the test would notice bf16 silently running as f32);
//! - the border of a padded convolution read as zeros by the gathers themselves: the same
//!   bits as tract's padded copy of the input, in both precisions.
//!
//! The bf16 checks need a CPU with AMX-BF16: elsewhere a bf16 plan computes in f32, so they
//! would compare f32 with itself and pass without testing anything. There they report
//! themselves skipped, with the reason (see `bf16_runs_natively`).

mod common;

use std::io::Write;

use colorize::{Model, Precision};
use tract_onnx::prelude::*;
use tract_onnx::tract_core::knobs::KnobScope;

/// Whether bf16 plans run on AMX-BF16 tiles here, so that `check` (a bf16 check) can run.
/// Where they do not, the check is reported skipped:
/// - on a CPU without AMX-BF16 nothing can run it, so it is not a failure even when every test
///   is required (`COLORIZE_REQUIRE_ALL=1`); the "skipped:" line goes straight to stderr, which
///   the test harness does not capture, so that a plain `cargo test` shows it too;
/// - on a CPU with AMX-BF16 whose tiles this process cannot use (the OS refused it the tile
///   state), the machine could run it and does not: `common::skip`, which fails when every
///   test is required.
fn bf16_runs_natively(check: &str) -> bool {
    if Precision::Bf16.runs_natively() {
        return true;
    }
    if cpu_has_amx_bf16() {
        common::skip(&format!(
            "{check}: the CPU has AMX-BF16 but bf16 plans run in f32 in this process \
             (the OS refused it the AMX tile state)"
        ));
    } else {
        let line = format!(
            "skipped: {check}: this CPU has no AMX-BF16, so a bf16 plan computes in f32 \
             and would be compared with f32 itself (not required: no test can run it here)\n"
        );
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }
    false
}

/// Whether the CPU reports AMX-BF16 and the AMX tiles (CPUID leaf 7, EDX bits 22 and 24),
/// whatever the OS and this build allow.
fn cpu_has_amx_bf16() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        #[allow(unused_unsafe)]
        let leaf7 = unsafe { std::arch::x86_64::__cpuid_count(7, 0) };
        leaf7.edx & (1 << 22) != 0 && leaf7.edx & (1 << 24) != 0
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

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
    if !bf16_runs_natively("bf16_matches_f32_up_to_rounding_on_every_gather_path") {
        return;
    }
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
            assert!(
                diff > 0.0,
                "stride {stride} {width}x{height}: bf16 ran as f32"
            );
        }
    }
}

#[test]
fn plans_of_both_precisions_coexist_in_one_model() {
    // Without AMX the bf16 plan is an f32 plan, so a bf16 plan leaking into f32 runs could not
    // show.
    if !bf16_runs_natively("plans_of_both_precisions_coexist_in_one_model") {
        return;
    }
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
    // The f32 gathers run everywhere; the bf16 ones only where AMX runs them (elsewhere
    // TRACT_AMX_BF16 changes nothing and its half would repeat the f32 one).
    let amx_settings: &[&str] =
        if bf16_runs_natively("implicit_padding_gives_the_bits_of_a_padded_copy, AMX bf16 half") {
            &["false", "true"]
        } else {
            &["false"]
        };
    for stride in [1, 2] {
        let model = common::wide_model_with_stride(stride);
        // Whole panels, panels wrapping row ends, odd sizes, a stride-2 input of odd size,
        // and inputs narrower than one panel.
        for (width, height) in [(64, 48), (50, 38), (33, 31), (17, 9), (7, 5)] {
            for &amx in amx_settings {
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
