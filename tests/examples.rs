//! Every example in examples/ is built and run here on the committed sample photo:
//! C (PGM in, PPM out), C++, Python ctypes, and the ImageMagick shell pipeline with its
//! parallel xargs batch (skipped with a note where ImageMagick is not installed;
//! tests/ci.d/10-examples.sh installs it and runs this test again).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn example(name: &str) -> PathBuf {
    Path::new(ROOT).join("examples").join(name)
}

struct Setup {
    dir: tempfile::TempDir,
    model: PathBuf,
    pgm: PathBuf,
}

/// A model file and the sample photo as an 8-bit PGM.
fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("spatial.onnx");
    std::fs::write(&model, common::spatial_model()).unwrap();
    let pgm = dir.path().join("cameraman.pgm");
    let grey = image::open(example("cameraman.png")).unwrap().to_luma8();
    let mut bytes = format!("P5\n{} {}\n255\n", grey.width(), grey.height()).into_bytes();
    bytes.extend_from_slice(grey.as_raw());
    std::fs::write(&pgm, bytes).unwrap();
    Setup { dir, model, pgm }
}

fn run(command: &mut Command) -> String {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{command:?} failed:\n{text}");
    text
}

/// The output is a colour image of the sample's size whose L* is the sample's.
fn check_colourised(path: &Path) {
    let sample = image::open(example("cameraman.png")).unwrap().to_luma8();
    let out = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    assert_eq!(out.dimensions(), sample.dimensions(), "{}", path.display());
    assert!(
        out.pixels()
            .filter(|p| p[0] != p[1] || p[1] != p[2])
            .count()
            > 1000,
        "{} has no colour",
        path.display()
    );
    let mean_dl: f32 = out
        .pixels()
        .zip(sample.pixels())
        .map(|(c, g)| {
            (colorize::color::srgb8_to_lab(c.0)[0] - colorize::color::srgb8_to_lab([g[0]; 3])[0])
                .abs()
        })
        .sum::<f32>()
        / (sample.width() * sample.height()) as f32;
    assert!(mean_dl < 0.5, "{}: mean |dL*| {mean_dl}", path.display());
}

#[test]
fn c_example_reads_pgm_writes_ppm() {
    let s = setup();
    let exe = s.dir.path().join("colorize_pgm");
    common::compile_against_library(
        "cc",
        &[&example("colorize_pgm.c")],
        &exe,
        &["-std=c11", "-Wall", "-Wextra", "-Werror"],
    );
    let out = s.dir.path().join("out.ppm");
    run(Command::new(&exe).arg(&s.pgm).arg(&out).arg(&s.model));
    check_colourised(&out);
    // A bad input is an error, not a crash.
    let bad = Command::new(&exe)
        .arg(&s.model)
        .arg(s.dir.path().join("x.ppm"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn cpp_example_runs() {
    let s = setup();
    let exe = s.dir.path().join("colorize_lab");
    common::compile_against_library(
        "c++",
        &[&example("colorize_lab.cpp")],
        &exe,
        &["-std=c++17", "-Wall", "-Werror"],
    );
    let text = run(Command::new(&exe).arg(&s.model));
    assert!(text.contains("320x200, mean chroma"), "{text}");
    let chroma: f64 = text.trim().rsplit(' ').next().unwrap().parse().unwrap();
    assert!(chroma > 0.1, "{text}");
}

#[test]
fn python_ctypes_example_runs() {
    let s = setup();
    let out = s.dir.path().join("py.ppm");
    let text = run(Command::new("python3")
        .arg(example("colorize_ctypes.py"))
        .arg(&s.pgm)
        .arg(&out)
        .arg(&s.model)
        .env("LIBCOLORIZE", common::library_dir().join("libcolorize.so")));
    assert!(text.contains("wrote"), "{text}");
    check_colourised(&out);
}

fn imagemagick() -> Option<&'static str> {
    ["magick", "convert"].into_iter().find(|tool| {
        Command::new(tool)
            .arg("-version")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("ImageMagick"))
    })
}

#[test]
fn shell_pipeline_and_parallel_batch() {
    if imagemagick().is_none() {
        common::skip("ImageMagick is not installed (scripts/setup-test-tools.sh installs it)");
        return;
    }
    let s = setup();
    let script = example("pipeline.sh");
    let colorize = env!("CARGO_BIN_EXE_colorize");
    let out = s.dir.path().join("piped.png");
    run(Command::new("sh")
        .arg(&script)
        .arg(example("cameraman.png"))
        .arg(&out)
        .arg(&s.model)
        .env("COLORIZE", colorize));
    check_colourised(&out);

    let photos = s.dir.path().join("photos");
    std::fs::create_dir(&photos).unwrap();
    for name in ["one.png", "two words.png", "three.png"] {
        std::fs::copy(example("cameraman.png"), photos.join(name)).unwrap();
    }
    let results = s.dir.path().join("results");
    run(Command::new("sh")
        .arg(&script)
        .arg("--batch")
        .arg(&photos)
        .arg(&results)
        .arg(&s.model)
        .env("COLORIZE", colorize));
    let mut names: Vec<String> = std::fs::read_dir(&results)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["one.jpg", "three.jpg", "two words.jpg"]);
    let img = image::open(results.join("two words.jpg"))
        .unwrap()
        .to_rgb8();
    assert_eq!(img.dimensions(), (512, 512));
}

/// The README's first command, once a default model is embedded.
#[test]
fn sample_photo_with_the_embedded_model() {
    if colorize::default_model_name().is_none() {
        common::skip("this build embeds no default model");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cameraman-colour.png");
    run(Command::new(env!("CARGO_BIN_EXE_colorize"))
        .arg(example("cameraman.png"))
        .arg("-o")
        .arg(&out));
    check_colourised(&out);
}
