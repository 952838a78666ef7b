//! The C ABI from real C (tests/c/capi_test.c), compiled with the system `cc` against
//! target/release/libcolorize.so and run: every export, bad arguments, outputs untouched on
//! failure, garbage in stride padding, 8 threads on one handle.

mod common;

use std::process::Command;

#[test]
fn c_program_exercises_the_whole_c_api() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("linear.onnx");
    std::fs::write(&model, common::linear_model(0.5, -0.25)).unwrap();
    let broken = dir.path().join("broken.onnx");
    let (_, bytes, _) = common::broken_models().into_iter().next().unwrap();
    std::fs::write(&broken, bytes).unwrap();
    let exe = dir.path().join("capi_test");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/c/capi_test.c");
    common::compile_against_library(
        "cc",
        &[&source],
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
    let has_default = if colorize::default_model_name().is_some() {
        "1"
    } else {
        "0"
    };
    let out = Command::new(&exe)
        .arg(&model)
        .arg(&broken)
        .arg(has_default)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
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
