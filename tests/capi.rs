//! The C ABI from real C (tests/c/capi_test.c, tests/c/settings_test.c), compiled with the system `cc` against
//! target/release/libcolorize.so and run: every export, bad arguments, outputs untouched on
//! failure, garbage in stride padding, 8 threads on one handle.

mod common;

use std::process::Command;

#[test]
fn c_program_exercises_the_whole_c_api() {
    run_capi_test(None);
}

/// Builds tests/c/capi_test.c against `header` (under tests/c; `None`: include/colorize.h),
/// runs it on a linear and a broken model, and wants every check passed.
fn run_capi_test(header: Option<&str>) {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("linear.onnx");
    std::fs::write(&model, common::linear_model(0.5, -0.25)).unwrap();
    let broken = dir.path().join("broken.onnx");
    let (_, bytes, _) = common::broken_models().into_iter().next().unwrap();
    std::fs::write(&broken, bytes).unwrap();
    let exe = compile_c_test("capi_test.c", dir.path(), header);
    let has_default = if colorize::default_model_name().is_some() {
        "1"
    } else {
        "0"
    };
    let out = Command::new(&exe)
        .arg(&model)
        .arg(&broken)
        .arg(has_default)
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    let text = output_text(&out);
    println!("{text}");
    assert!(out.status.success(), "capi_test failed:\n{text}");
    assert!(text.contains("all checks passed"));
}

#[test]
fn header_compiles_as_cpp_too() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("header.cpp");
    std::fs::write(&source, "#include \"colorize.h\"\nint main() { colorize_options o = colorize_options_default(); return o.tile_size == 0 && colorize_version() ? 0 : 1; }\n").unwrap();
    let exe = dir.path().join("header_cpp");
    common::compile_against_library("c++", &[&source], &exe, &["-Wall", "-Werror"]);
    assert!(Command::new(&exe).status().unwrap().success());
}

/// Compiles `source` (under tests/c) with the strict flags of the C tests; `include_first`
/// puts a folder's colorize.h ahead of include/ (a copy of the source is compiled from
/// there, so its `#include "colorize.h"` finds that header first).
fn compile_c_test(source: &str, dir: &std::path::Path, header: Option<&str>) -> std::path::PathBuf {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut source_path = root.join("tests/c").join(source);
    if let Some(header) = header {
        std::fs::copy(root.join("tests/c").join(header), dir.join("colorize.h")).unwrap();
        // The tests' assertions come along, so that they too see the header given here.
        std::fs::copy(root.join("tests/c/check.h"), dir.join("check.h")).unwrap();
        let copy = dir.join(source);
        std::fs::copy(&source_path, &copy).unwrap();
        source_path = copy;
    }
    let exe = dir.join(source.trim_end_matches(".c"));
    common::compile_against_library(
        "cc",
        &[&source_path],
        &exe,
        &[
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-pedantic",
            "-Werror",
            "-O1",
        ],
    );
    exe
}

fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// tests/c/settings_test.c: settings and their errors, precision (BF16 close to F32), vividness, progress and cancel on every
/// format, threads, status_str on any int, the model list and colorize_model_load. A
/// passing run prints nothing on stderr (no panic text, no library messages).
#[test]
fn c_program_exercises_settings_progress_cancel_and_model_list() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("linear.onnx");
    std::fs::write(&model, common::linear_model(0.5, -0.25)).unwrap();
    let installed = dir.path().join("installed");
    std::fs::create_dir(&installed).unwrap();
    std::fs::copy(&model, installed.join("test-installed.onnx")).unwrap();
    let wide = dir.path().join("wide.onnx");
    std::fs::write(&wide, common::wide_model()).unwrap();
    let classes = dir.path().join("two-classes.onnx");
    std::fs::write(
        &classes,
        colorize::onnx::test_models::two_classes(0.1, None).to_bytes(),
    )
    .unwrap();
    let exe = compile_c_test("settings_test.c", dir.path(), None);
    let has_default = if colorize::default_model_name().is_some() {
        "1"
    } else {
        "0"
    };
    let out = Command::new(&exe)
        .arg(&model)
        .arg(has_default)
        .arg("test-installed")
        .arg(&wide)
        .arg(&classes)
        .env(colorize::MODEL_PATH_VAR, &installed)
        // cargo's LD_LIBRARY_PATH would win over the rpath and may name target/release,
        // whose libcolorize.so is from the last `cargo build`, not this test build.
        .env_remove("LD_LIBRARY_PATH")
        .output()
        .unwrap();
    let text = output_text(&out);
    println!("{text}");
    assert!(out.status.success(), "settings_test failed:\n{text}");
    assert!(text.contains("all checks passed"));
    assert!(out.stderr.is_empty(), "stderr of a passing run: {text}");
}

/// ABI: a client compiled against the header of the previous release
/// (tests/c/colorize-previous.h, kept as it was) links and runs against this library:
/// tests/c/capi_test.c, which uses every call of that header, passes unchanged.
#[test]
fn client_built_against_the_previous_header_still_works() {
    run_capi_test(Some("colorize-previous.h"));
}

/// The Rust API's progress and cancel: fractions from 0 to 1, never decreasing; a stop
/// at any report fails with Cancelled and leaves the pixels as they were; threads give
/// the same pixels.
#[test]
fn rust_api_progress_cancel_and_threads() {
    let model = colorize::Model::from_bytes(&common::linear_model(0.5, -0.25), "linear").unwrap();
    let (w, h) = (900, 700);
    let original: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
    let mut expected = original.clone();
    colorize::colorize_rgb8(&model, &Default::default(), &mut expected, w, h, w * 3, 3).unwrap();

    let seen = std::sync::Mutex::new(Vec::new());
    let record = |f: f32| {
        seen.lock().unwrap().push(f);
        true
    };
    let options = colorize::Options {
        progress: Some(colorize::Progress(&record)),
        threads: 2,
        ..Default::default()
    };
    let mut pixels = original.clone();
    colorize::colorize_rgb8(&model, &options, &mut pixels, w, h, w * 3, 3).unwrap();
    assert_eq!(pixels, expected, "progress or threads changed the pixels");
    let fractions = seen.lock().unwrap().clone();
    assert!(fractions.len() >= 5, "{fractions:?}");
    assert!(fractions.windows(2).all(|p| p[0] <= p[1]), "{fractions:?}");
    assert_eq!(fractions.last(), Some(&1.0));

    for stop_at in 1..=fractions.len() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let stop = |_: f32| calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1 < stop_at;
        let options = colorize::Options {
            progress: Some(colorize::Progress(&stop)),
            ..Default::default()
        };
        let mut pixels = original.clone();
        let e = colorize::colorize_rgb8(&model, &options, &mut pixels, w, h, w * 3, 3).unwrap_err();
        assert_eq!(e.kind(), colorize::ErrorKind::Cancelled);
        assert!(
            pixels == original,
            "a stop at report {stop_at} changed the pixels"
        );
    }
}
