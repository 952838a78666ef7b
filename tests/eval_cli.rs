//! `colorize eval` and `colorize compare`, run as a user would: values computed by hand
//! on tiny images, small test models from `colorize::onnx`, the baseline against an
//! independent Python computation (tests/metrics_crosscheck.py) and against the numbers
//! in ../shared/data/DATA.md.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{Rgb, RgbImage};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_colorize");
const SHARED_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data");
const FIRST_500: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/intel-test-first500.txt"
);
const CROSSCHECK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/metrics_crosscheck.py");

fn colorize(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .output()
        .expect("run the colorize binary")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn eval_json(args: &[&str]) -> Value {
    let mut all = vec!["eval", "--json", "--quiet"];
    all.extend_from_slice(args);
    let output = colorize(&all);
    assert!(
        output.status.success(),
        "colorize {all:?} failed: {}",
        stderr(&output)
    );
    serde_json::from_slice(&output.stdout).expect("eval --json prints JSON")
}

fn number(result: &Value, key: &str) -> f64 {
    result[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} missing or not a number in {result}"))
}

fn assert_close(got: f64, want: f64, tol: f64, what: &str) {
    assert!(
        (got - want).abs() <= tol,
        "{what}: got {got}, want {want} ± {tol}"
    );
}

/// A folder with a uniform red 8x8 photo and a uniform grey (100) 8x8 photo.
fn red_and_grey_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    RgbImage::from_pixel(8, 8, Rgb([255, 0, 0]))
        .save(dir.path().join("a-red.png"))
        .unwrap();
    RgbImage::from_pixel(8, 8, Rgb([100, 100, 100]))
        .save(dir.path().join("b-grey.png"))
        .unwrap();
    dir
}

/// A folder with a few colourful gradients (L* varies, so test models predict varied colour).
fn gradient_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..3u32 {
        let image = RgbImage::from_fn(24 + 8 * i, 16, |x, y| {
            Rgb([
                (x * 10 + i * 40) as u8,
                (y * 15) as u8,
                (255 - x * 9 - i * 30) as u8,
            ])
        });
        image.save(dir.path().join(format!("g{i}.png"))).unwrap();
    }
    dir
}

fn write_model(dir: &Path, name: &str, a_gain: f32, b_gain: f32) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, colorize::onnx::linear_test_model(a_gain, b_gain)).unwrap();
    path
}

#[test]
fn eval_baseline_by_hand_on_tiny_photos() {
    let dir = red_and_grey_folder();
    let report = eval_json(&[dir.path().to_str().unwrap()]);
    assert_eq!(report["images"], 2);
    let baseline = &report["results"][0];
    assert_eq!(baseline["baseline"], true);
    // Red's grey is 127: squared errors 128², 127², 127². Grey 100 is reproduced exactly.
    let red_psnr = 10.0 * (65025.0f64 / ((128.0 * 128.0 + 2.0 * 127.0 * 127.0) / 3.0)).log10();
    assert_close(
        number(baseline, "psnr_db_inexact"),
        red_psnr,
        1e-9,
        "PSNR of red",
    );
    assert_eq!(baseline["exact_images"], 1);
    assert_close(
        number(baseline, "psnr_db"),
        (red_psnr + 100.0) / 2.0,
        1e-9,
        "mean PSNR",
    );
    // Red's chroma 104.55 -> thresholds 105..150; grey: every threshold.
    assert_close(
        number(baseline, "ab_auc"),
        (45.5 / 150.0 + 1.0) / 2.0,
        1e-12,
        "AuC",
    );
    // Uniform red: 0.3·√(255² + 127.5²); grey: 0.
    assert_close(
        number(baseline, "colourfulness_truth"),
        0.3 * 285.0987 / 2.0,
        1e-3,
        "colourfulness",
    );
    assert_eq!(number(baseline, "colourfulness_output"), 0.0);
    assert_eq!(number(baseline, "colourfulness_ratio"), 0.0);
}

#[test]
fn eval_table_and_limit() {
    let dir = red_and_grey_folder();
    let output = colorize(&[
        "eval",
        "--quiet",
        dir.path().to_str().unwrap(),
        "--limit",
        "1",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(table.starts_with("1 images from "), "{table}");
    let row = table
        .lines()
        .find(|l| l.starts_with("grayscale (a*=b*=0)"))
        .expect("baseline row");
    // Only the red photo, by hand as above: 10·log10(65025 / 16214) = 6.03 dB, AuC 30.3 %,
    // colourfulness 0 against 85.5.
    let fields: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        &fields[2..7],
        ["6.03", "30.3", "0.0", "85.5", "0.00"],
        "{row}"
    );
}

#[test]
fn eval_markdown_table() {
    let dir = red_and_grey_folder();
    let output = colorize(&[
        "eval",
        "--quiet",
        "--markdown",
        dir.path().to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    assert!(
        lines[0].starts_with("| set | model | loss | PSNR (dB) |"),
        "{table}"
    );
    // Mean of 6.03 dB and the exact grey photo's 100 dB; AuC (30.3 + 100) / 2.
    assert!(
        lines[2].ends_with("| grayscale (a*=b*=0) | - | 53.02 | 65.2 | 0.0 | 42.8 | 0.00 |"),
        "{table}"
    );
    let both = colorize(&["eval", "--markdown", "--json", dir.path().to_str().unwrap()]);
    assert_eq!(both.status.code(), Some(2));
}

#[test]
fn eval_zero_model_scores_like_the_baseline_and_a_colouring_model_does_not() {
    let photos = gradient_folder();
    let models = tempfile::tempdir().unwrap();
    let zero = write_model(models.path(), "zero.onnx", 0.0, 0.0);
    let tint = write_model(models.path(), "tint.onnx", 1.5, -1.0);
    let spec = format!("{},{}", zero.display(), tint.display());
    let report = eval_json(&["--model", &spec, photos.path().to_str().unwrap()]);
    let results = report["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(results[1]["model"], zero.display().to_string());
    assert_eq!(results[1]["loss"], "none");
    for key in [
        "psnr_db",
        "ab_auc",
        "colourfulness_output",
        "colourfulness_truth",
    ] {
        // The zero model predicts a* = b* = 0, so its output is the baseline's, pixel for pixel.
        assert_close(
            number(&results[1], key),
            number(&results[0], key),
            1e-9,
            key,
        );
    }
    assert!(
        number(&results[2], "colourfulness_output") > 1.0,
        "{}",
        results[2]
    );
    assert!(number(&results[2], "colourfulness_ratio") > 0.0);
    assert!((number(&results[2], "psnr_db") - number(&results[0], "psnr_db")).abs() > 0.01);
    assert!(number(&results[2], "colorize_seconds") >= 0.0);
}

#[test]
fn eval_size_scales_the_short_side() {
    let dir = tempfile::tempdir().unwrap();
    // A 40x20 photo of two colours side by side; at short side 10 it is 20x10.
    let image = RgbImage::from_fn(40, 20, |x, _| {
        if x < 20 {
            Rgb([200, 30, 30])
        } else {
            Rgb([30, 30, 200])
        }
    });
    image.save(dir.path().join("two.png")).unwrap();
    let full = eval_json(&[dir.path().to_str().unwrap()]);
    let small = eval_json(&[dir.path().to_str().unwrap(), "--size", "10"]);
    assert_eq!(small["short_side"], 10);
    // Same two colours, half as many pixels each: colourfulness almost unchanged (the
    // seam's blended column is the difference).
    let (a, b) = (
        number(&full["results"][0], "colourfulness_truth"),
        number(&small["results"][0], "colourfulness_truth"),
    );
    assert!((a - b).abs() / a < 0.1, "{a} vs {b}");
    assert_eq!(
        colorize(&["eval", dir.path().to_str().unwrap(), "--size", "0"])
            .status
            .code(),
        Some(1)
    );
}

#[test]
fn eval_bad_input_gives_clear_errors() {
    let missing = colorize(&["eval", "/nonexistent/photos"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("not a folder"),
        "{}",
        stderr(&missing)
    );

    let empty = tempfile::tempdir().unwrap();
    let none = colorize(&["eval", empty.path().to_str().unwrap()]);
    assert_eq!(none.status.code(), Some(1));
    assert!(stderr(&none).contains("no images"), "{}", stderr(&none));

    let dir = red_and_grey_folder();
    std::fs::write(dir.path().join("c-broken.jpg"), b"not a jpeg at all").unwrap();
    let broken = colorize(&["eval", dir.path().to_str().unwrap()]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        stderr(&broken).contains("c-broken.jpg"),
        "{}",
        stderr(&broken)
    );

    let bad_model = colorize(&[
        "eval",
        "--model",
        "/nonexistent/model.onnx",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(bad_model.status.code(), Some(1));
    assert!(
        stderr(&bad_model).contains("model /nonexistent/model.onnx"),
        "{}",
        stderr(&bad_model)
    );

    assert_eq!(
        colorize(&["eval", "--no-such-flag", "x"]).status.code(),
        Some(2)
    );
    assert_eq!(colorize(&["eval", "--help"]).status.code(), Some(0));
}

/// The size of a compare grid: 6 px gaps, `columns` cells of `cell` px, a 20 px label
/// line above the header and above each row when a font is found.
fn grid_size(columns: u32, rows: u32, cell: u32, labels: bool) -> (u32, u32) {
    let label = if labels { 20 } else { 0 };
    (
        6 + columns * (cell + 6),
        6 + label + rows * (label + cell + 6),
    )
}

#[test]
fn compare_grid_has_a_column_per_model_and_the_truth() {
    let photos = tempfile::tempdir().unwrap();
    RgbImage::from_pixel(32, 16, Rgb([255, 0, 0]))
        .save(photos.path().join("red.png"))
        .unwrap();
    RgbImage::from_pixel(16, 16, Rgb([90, 90, 90]))
        .save(photos.path().join("grey.png"))
        .unwrap();
    let models = tempfile::tempdir().unwrap();
    let zero = write_model(models.path(), "zero.onnx", 0.0, 0.0);
    let tint = write_model(models.path(), "tint.onnx", 0.0, -3.0);
    let out_dir = tempfile::tempdir().unwrap();
    let grid_path = out_dir.path().join("grid.png");
    let output = colorize(&[
        "compare",
        "--models",
        &format!("{},{}", zero.display(), tint.display()),
        photos.path().join("red.png").to_str().unwrap(),
        photos.path().join("grey.png").to_str().unwrap(),
        "--cell",
        "32",
        "-o",
        grid_path.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let labels = !stderr(&output).contains("no labels");
    let grid = image::open(&grid_path).unwrap().into_rgb8();
    // Columns: grey input, zero, tint, original.
    assert_eq!(grid.dimensions(), grid_size(4, 2, 32, labels));
    let label = if labels { 20 } else { 0 };
    let cell_centre = |column: u32, row: u32| {
        let x = 6 + column * 38 + 16;
        let y = 6 + label + row * (label + 38) + label + 16;
        *grid.get_pixel(x, y)
    };
    // Red photo: its grey (127), the zero model's grey, a bluish tint, red itself.
    assert_eq!(cell_centre(0, 0), Rgb([127, 127, 127]));
    assert_eq!(cell_centre(1, 0), Rgb([127, 127, 127]));
    let tinted = cell_centre(2, 0);
    assert!(
        tinted[2] > tinted[0] + 5,
        "b* = -3·(53 - 50) < 0 means bluer: {tinted:?}"
    );
    assert_eq!(cell_centre(3, 0), Rgb([255, 0, 0]));
    // Grey photo: no original shown, the cell keeps the background.
    assert_eq!(cell_centre(0, 1), Rgb([90, 90, 90]));
    assert_eq!(cell_centre(3, 1), Rgb([40, 40, 40]));
    // Labels, when drawn, are light text on the dark header line.
    if labels {
        let header = (0..grid.width()).flat_map(|x| (6..26).map(move |y| (x, y)));
        assert!(
            header.clone().any(|(x, y)| grid.get_pixel(x, y)[0] > 150),
            "header text drawn"
        );
    }
    // Nothing else was left in the output folder (atomic write, no temp files).
    assert_eq!(std::fs::read_dir(out_dir.path()).unwrap().count(), 1);
}

#[test]
fn compare_of_grey_photos_has_no_truth_column_and_writes_stdout() {
    let photos = tempfile::tempdir().unwrap();
    RgbImage::from_fn(20, 20, |x, _| Rgb([(x * 12) as u8; 3]))
        .save(photos.path().join("ramp.png"))
        .unwrap();
    let models = tempfile::tempdir().unwrap();
    let zero = write_model(models.path(), "zero.onnx", 0.0, 0.0);
    let output = colorize(&[
        "compare",
        "-m",
        zero.to_str().unwrap(),
        photos.path().to_str().unwrap(),
        "--cell",
        "20",
        "-o",
        "-",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let labels = !stderr(&output).contains("no labels");
    let grid =
        image::load_from_memory_with_format(&output.stdout, image::ImageFormat::Png).unwrap();
    assert_eq!((grid.width(), grid.height()), grid_size(2, 1, 20, labels));
}

#[test]
fn compare_bad_input_gives_clear_errors_and_writes_nothing() {
    let photos = red_and_grey_folder();
    let models = tempfile::tempdir().unwrap();
    let zero = write_model(models.path(), "zero.onnx", 0.0, 0.0);
    let out_dir = tempfile::tempdir().unwrap();
    let photo = photos.path().join("a-red.png");
    let run = |model: &str, input: &str, out: &Path| {
        colorize(&[
            "compare",
            "--models",
            model,
            input,
            "-o",
            out.to_str().unwrap(),
        ])
    };
    let wrong_ext = run(
        zero.to_str().unwrap(),
        photo.to_str().unwrap(),
        &out_dir.path().join("grid.xyz"),
    );
    assert_eq!(wrong_ext.status.code(), Some(1));
    assert!(
        stderr(&wrong_ext).contains("unknown image extension"),
        "{}",
        stderr(&wrong_ext)
    );
    let missing = run(
        zero.to_str().unwrap(),
        "/nonexistent.png",
        &out_dir.path().join("grid.png"),
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("/nonexistent.png"),
        "{}",
        stderr(&missing)
    );
    let no_model = run(
        "/nonexistent/m.onnx",
        photo.to_str().unwrap(),
        &out_dir.path().join("grid.png"),
    );
    assert_eq!(no_model.status.code(), Some(1));
    assert_eq!(
        std::fs::read_dir(out_dir.path()).unwrap().count(),
        0,
        "no file written on failure"
    );
    // Missing --models or -o: usage errors.
    assert_eq!(
        colorize(&["compare", photo.to_str().unwrap(), "-o", "x.png"])
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        colorize(&["compare", "-m", "x", photo.to_str().unwrap()])
            .status
            .code(),
        Some(2)
    );
}

// ---- the baseline on the shared data ------------------------------------------------------

fn shared_data() -> Option<PathBuf> {
    let path = PathBuf::from(SHARED_DATA);
    if path.is_dir() {
        Some(path)
    } else {
        common::skip(&format!("{SHARED_DATA} is absent: the shared-data check"));
        None
    }
}

/// A Python with numpy, Pillow and scikit-image: $COLORIZE_CROSSCHECK_PYTHON or python3.
/// None (the test skipped, see `common::skip`) when there is none; when every test is
/// required, or $COLORIZE_REQUIRE_CROSSCHECK is set (tests/ci.d/40-eval.sh), a missing one
/// fails the test.
fn crosscheck_python() -> Option<String> {
    let python = std::env::var("COLORIZE_CROSSCHECK_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&python)
        .args(["-c", "import numpy, PIL, skimage"])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    assert!(
        std::env::var_os("COLORIZE_REQUIRE_CROSSCHECK").is_none(),
        "{python} lacks numpy, Pillow or scikit-image (tests/ci.d/40-eval.sh installs them)"
    );
    common::skip(&format!(
        "{python} lacks numpy/Pillow/scikit-image: the independent cross-check"
    ));
    None
}

/// Set means of the Python cross-check's per-image scores: (PSNR of inexact images,
/// number of exact images, AuC, truth colourfulness).
fn python_means(python: &str, images: &[PathBuf], size: Option<u32>) -> (f64, usize, f64, f64) {
    let mut command = Command::new(python);
    command.arg(CROSSCHECK);
    if let Some(size) = size {
        command.args(["--size", &size.to_string()]);
    }
    let output = command
        .args(images)
        .output()
        .expect("run the cross-check script");
    assert!(
        output.status.success(),
        "cross-check failed: {}",
        stderr(&output)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let rows = report["images"].as_array().unwrap();
    let finite: Vec<f64> = rows.iter().filter_map(|r| r["psnr_db"].as_f64()).collect();
    let mean = |key: &str| rows.iter().map(|r| number(r, key)).sum::<f64>() / rows.len() as f64;
    (
        finite.iter().sum::<f64>() / finite.len() as f64,
        rows.len() - finite.len(),
        mean("ab_auc"),
        mean("colourfulness_truth"),
    )
}

/// Runs `colorize eval` on `images` (relative to `root`) through a list file.
fn eval_listed(root: &Path, images: &[&str], size: Option<u32>) -> Value {
    let list = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(list.path(), images.join("\n")).unwrap();
    let mut args = vec![
        root.to_str().unwrap().to_string(),
        "--files-from".into(),
        list.path().to_str().unwrap().into(),
    ];
    if let Some(size) = size {
        args.extend(["--size".to_string(), size.to_string()]);
    }
    eval_json(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn baseline_agrees_with_an_independent_python_computation() {
    let (Some(data), Some(python)) = (shared_data(), crosscheck_python()) else {
        return;
    };
    // (images, resize, tolerances for PSNR dB, AuC, colourfulness). PNGs decode to the same
    // pixels everywhere, so only rounding differs; JPEG decoders (zune-jpeg here,
    // libjpeg-turbo in Pillow) and resamplers (image-rs Catmull-Rom, Pillow bicubic) differ
    // by a level here and there.
    let cases: [(&[&str], Option<u32>, [f64; 3]); 3] = [
        (
            &[
                "eval/kodak24/kodim01.png",
                "eval/kodak24/kodim02.png",
                "eval/kodak24/kodim03.png",
                "eval/kodak24/kodim23.png",
            ],
            None,
            [0.005, 1e-4, 1e-9],
        ),
        (
            &[
                "intel-scenes/test/mountain/20941.jpg",
                "intel-scenes/test/glacier/20087.jpg",
                "intel-scenes/test/sea/20072.jpg",
                "intel-scenes/test/street/20066.jpg",
                "intel-scenes/test/forest/20056.jpg",
            ],
            None,
            [0.1, 2e-3, 0.3],
        ),
        (
            &[
                "eval/sun-hays-80/abbey_sun_asztnlqhlrvirneh.jpg",
                "eval/sun-hays-80/badlands_sun_bvwwfrhtvupdxldb.jpg",
            ],
            Some(256),
            [0.15, 3e-3, 0.5],
        ),
    ];
    for (images, size, [psnr_tol, auc_tol, colourfulness_tol]) in cases {
        let paths: Vec<PathBuf> = images.iter().map(|i| data.join(i)).collect();
        let (psnr, exact, auc, colourfulness) = python_means(&python, &paths, size);
        let ours = &eval_listed(&data, images, size)["results"][0];
        let what = format!("{images:?}");
        assert_close(
            number(ours, "psnr_db_inexact"),
            psnr,
            psnr_tol,
            &format!("PSNR {what}"),
        );
        assert_eq!(
            ours["exact_images"].as_u64().unwrap() as usize,
            exact,
            "{what}"
        );
        assert_close(number(ours, "ab_auc"), auc, auc_tol, &format!("AuC {what}"));
        assert_close(
            number(ours, "colourfulness_truth"),
            colourfulness,
            colourfulness_tol,
            &format!("colourfulness {what}"),
        );
    }
}

#[test]
fn baseline_reproduces_data_md() {
    let Some(data) = shared_data() else { return };
    // eval/sun-hays-80 at short side 256: 21.83 dB, 88.5 %, 43.5 (../shared/data/DATA.md).
    // Our JPEG decoder and resampler differ slightly from the Pillow ones those figures came
    // from (21.85 here).
    let sun = eval_json(&[
        data.join("eval/sun-hays-80").to_str().unwrap(),
        "--size",
        "256",
    ]);
    assert_eq!(sun["images"], 80);
    let sun = &sun["results"][0];
    assert_close(number(sun, "psnr_db"), 21.83, 0.03, "sun-hays PSNR");
    assert_close(100.0 * number(sun, "ab_auc"), 88.5, 0.06, "sun-hays AuC");
    assert_close(
        number(sun, "colourfulness_truth"),
        43.5,
        0.1,
        "sun-hays colourfulness",
    );

    // intel-scenes/test, "first 500": the order the reference author's directory listing gave
    // (all 324 of mountain/, then 176 of glacier/), kept in tests/data/intel-test-first500.txt.
    // Sorted paths (buildings, forest) give 34.6 colourfulness instead of 37.0.
    let intel = eval_json(&[
        data.join("intel-scenes/test").to_str().unwrap(),
        "--files-from",
        FIRST_500,
    ]);
    assert_eq!(intel["images"], 500);
    let intel = &intel["results"][0];
    assert_close(100.0 * number(intel, "ab_auc"), 91.1, 0.06, "intel AuC");
    assert_close(
        number(intel, "colourfulness_truth"),
        37.0,
        0.05,
        "intel colourfulness",
    );
    // PSNR: 4 of the 500 photos are exactly grey, so the baseline reproduces them and their
    // PSNR is infinite. The reference 24.75 dB counts them at ≈148 dB, the float round-off of an
    // unrounded output; we round to 8 bits and count them at 100 dB (24.37 dB); the other
    // 496 average 23.76 dB either way.
    assert_eq!(intel["exact_images"], 4);
    let inexact = number(intel, "psnr_db_inexact");
    assert_close(inexact, 23.76, 0.02, "intel PSNR of the 496 inexact photos");
    let implied = (24.75 * 500.0 - inexact * 496.0) / 4.0;
    assert!(
        (120.0..200.0).contains(&implied),
        "DATA.md implies {implied} dB for the exact photos"
    );
    assert_close(
        number(intel, "psnr_db"),
        (inexact * 496.0 + 400.0) / 500.0,
        1e-9,
        "intel PSNR",
    );
}
