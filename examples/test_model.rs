//! Writes one of the small test models of `colorize::onnx::test_models`, for tests outside
//! Rust (the GIMP plug-in tests, tests/gimp/test_models.py), so that every test model is
//! made by the project's one builder and meets the one contract.
//!
//!     cargo run --release --example test_model -- chroma|zero|fails-at-run OUT.onnx
//!
//! `chroma`: a*, b* a 3x3 convolution of L* (a* ~ 0.6 (L* - 50), b* ~ 10 - 0.4 (L* - 50)),
//! uneven neighbour weights so a transposed or shifted buffer shows, strong enough to leave
//! the sRGB gamut; `zero`: a* = b* = 0 (grey stays grey); `fails-at-run`: passes the
//! load-time check at 32x32 but cannot run at any other size.

use colorize::onnx::test_models;

/// A 3x3 kernel whose weights sum to `total`, `centre` in the middle, the rest spread
/// unevenly over the neighbours (so that a transposed image gives a different result).
/// Rounded as numpy rounded it when these models were written in Python: the difference
/// in double precision, then float32 arithmetic.
fn kernel(centre: f64, total: f64) -> [f32; 9] {
    let mut k = [1.0f32, 2.0, 3.0, 4.0, 0.0, 5.0, 6.0, 7.0, 8.0];
    let scale = (total - centre) as f32 / k.iter().sum::<f32>();
    for v in &mut k {
        *v *= scale;
    }
    k[4] = centre as f32;
    k
}

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, out] = args.as_slice() else {
        eprintln!("usage: test_model chroma|zero|fails-at-run OUT.onnx");
        return std::process::ExitCode::from(2);
    };
    let graph = match kind.as_str() {
        "chroma" => {
            let weight = [kernel(0.45, 0.6), kernel(-0.25, -0.4)].concat();
            test_models::convolution("colorize-test-chroma", &weight, [-30.0, 30.0], 3)
        }
        "zero" => test_models::convolution("colorize-test-zero", &[0.0; 18], [0.0, 0.0], 3),
        "fails-at-run" => test_models::fails_at_run(),
        other => {
            eprintln!("test_model: unknown kind '{other}' (chroma, zero, fails-at-run)");
            return std::process::ExitCode::from(2);
        }
    };
    let bytes = graph.to_bytes();
    // Checked here as every model is, so that a broken test model fails at its source.
    if let Err(e) = colorize::Model::from_bytes(&bytes, kind) {
        eprintln!("test_model: {kind} does not load: {e}");
        return std::process::ExitCode::FAILURE;
    }
    if let Err(e) = colorize::io::write_atomic(std::path::Path::new(out), &bytes) {
        eprintln!("test_model: {out}: {e}");
        return std::process::ExitCode::FAILURE;
    }
    std::process::ExitCode::SUCCESS
}
