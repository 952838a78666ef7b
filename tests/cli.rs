//! The `colorize` command end to end: files, stdin/stdout, folders, globs, resume with
//! --skip-existing, exit codes, and bad inputs (each a clear error, inputs untouched, no
//! output left behind).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_colorize");

use common::CliFixture as Fixture;
use common::{grey_png, text};

fn is_coloured(path: &Path) -> bool {
    let img = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    img.pixels().any(|p| p[0] != p[1] || p[1] != p[2])
}

/// Files in a folder tree, relative, sorted, including hidden ones.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.push(path.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

#[test]
fn one_file_keeps_size_and_lightness() {
    let f = Fixture::new();
    grey_png(&f.path("in.png"), 97, 61);
    let out = f.run(&["in.png", "-o", "out.png"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("1 colorized, 0 skipped (already there), 0 failed"),
        "{}",
        text(&out)
    );
    let input = image::open(f.path("in.png")).unwrap().to_rgb8();
    let output = image::open(f.path("out.png")).unwrap().to_rgb8();
    assert_eq!(output.dimensions(), (97, 61));
    assert!(is_coloured(&f.path("out.png")));
    let mean_dl: f32 = input
        .pixels()
        .zip(output.pixels())
        .map(|(a, b)| {
            (colorize::color::srgb8_to_lab(a.0)[0] - colorize::color::srgb8_to_lab(b.0)[0]).abs()
        })
        .sum::<f32>()
        / (97.0 * 61.0);
    assert!(mean_dl < 0.5, "mean |dL*| {mean_dl}");
}

#[test]
fn formats_bit_depth_alpha_and_resize() {
    let f = Fixture::new();
    let rgba16 = image::ImageBuffer::<image::Rgba<u16>, _>::from_fn(40, 30, |x, y| {
        let v = (x * 1500 + y * 700) as u16;
        image::Rgba([v, v, v, 30000])
    });
    rgba16.save(f.path("deep.png")).unwrap();
    let out = f.run(&["deep.png", "-o", "deep-out.png"]);
    assert!(out.status.success(), "{}", text(&out));
    match image::open(f.path("deep-out.png")).unwrap() {
        image::DynamicImage::ImageRgba16(img) => {
            assert!(img.pixels().all(|p| p[3] == 30000), "alpha kept")
        }
        other => panic!("expected 16-bit RGBA, got {:?}", other.color()),
    }
    for ext in ["jpg", "tif", "ppm"] {
        let out = f.run(&["deep.png", "-o", &format!("o.{ext}")]);
        assert!(out.status.success(), "{ext}: {}", text(&out));
        assert_eq!(
            image::open(f.path(&format!("o.{ext}"))).unwrap().width(),
            40
        );
    }
    let out = f.run(&[
        "deep.png",
        "-o",
        "small.png",
        "--resize",
        "20x10",
        "--saturation",
        "0.5",
        "--size",
        "16",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(image::open(f.path("small.png")).unwrap().width(), 20);
    let out = f.run(&[
        "deep.png",
        "-o",
        "native.png",
        "--mode",
        "native",
        "--tile-size",
        "16",
    ]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn stdin_to_stdout_with_format_detection() {
    let f = Fixture::new();
    // A PGM on stdin (as `convert photo.jpg pgm:-` writes), PNG on stdout.
    let mut pgm = b"P5\n8 4\n255\n".to_vec();
    pgm.extend((0..32u8).map(|i| i * 8));
    let mut child = Command::new(BIN)
        .args(["--model", f.model.to_str().unwrap(), "-", "-o", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), &pgm).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.starts_with(b"\x89PNG"), "PNG on stdout");
    let img = image::load_from_memory(&out.stdout).unwrap();
    assert_eq!((img.width(), img.height()), (8, 4));

    let out = Command::new(BIN)
        .args(["--model", f.model.to_str().unwrap(), "-", "-o", "-"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "empty stdin");
    assert!(String::from_utf8_lossy(&out.stderr).contains("stdin is empty"));
}

#[test]
fn folder_is_mirrored_and_resumed_with_skip_existing() {
    let f = Fixture::new();
    for name in ["a.png", "sub/b.png", "sub/deeper/c.jpg", "d.PNG"] {
        grey_png(&f.path(&format!("photos/{name}")), 30, 20);
    }
    std::fs::write(f.path("photos/notes.txt"), "not an image").unwrap();
    let before: Vec<Vec<u8>> = tree(&f.path("photos"))
        .iter()
        .map(|p| std::fs::read(f.path("photos").join(p)).unwrap())
        .collect();
    let out = f.run(&["photos", "-o", "coloured", "--jobs", "2", "--print"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        tree(&f.path("coloured")),
        vec!["a.png", "d.PNG", "sub/b.png", "sub/deeper/c.jpg"]
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().count(),
        4,
        "one result per line"
    );
    assert!(tree(&f.path("coloured"))
        .iter()
        .all(|p| is_coloured(&f.path("coloured").join(p))));
    let after: Vec<Vec<u8>> = tree(&f.path("photos"))
        .iter()
        .map(|p| std::fs::read(f.path("photos").join(p)).unwrap())
        .collect();
    assert_eq!(before, after, "inputs untouched");

    // An interrupted batch: two outputs missing, a stale temporary file left by a kill.
    std::fs::remove_file(f.path("coloured/a.png")).unwrap();
    std::fs::remove_file(f.path("coloured/sub/deeper/c.jpg")).unwrap();
    let kept = std::fs::metadata(f.path("coloured/sub/b.png"))
        .unwrap()
        .modified()
        .unwrap();
    let out = f.run(&["photos", "-o", "coloured", "--skip-existing"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("2 colorized, 2 skipped"),
        "{}",
        text(&out)
    );
    assert_eq!(
        std::fs::metadata(f.path("coloured/sub/b.png"))
            .unwrap()
            .modified()
            .unwrap(),
        kept
    );
    assert!(is_coloured(&f.path("coloured/a.png")));
    assert!(
        !tree(&f.path("coloured"))
            .iter()
            .any(|p| p.contains("colorize-tmp")),
        "no temp files"
    );
}

#[test]
fn several_inputs_and_globs_go_into_a_folder() {
    let f = Fixture::new();
    for name in ["x1.png", "x2.png", "y.png"] {
        grey_png(&f.path(name), 10, 10);
    }
    let out = f.run(&["x*.png", "y.png", "-o", "out"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(tree(&f.path("out")), vec!["x1.png", "x2.png", "y.png"]);
    let out = f.run(&["nomatch*.png", "y.png", "-o", "out2", "--format", "jpeg"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("nomatch*.png: no file matches"),
        "{}",
        text(&out)
    );
    assert_eq!(
        tree(&f.path("out2")),
        vec!["y.jpg"],
        "the good input is still done"
    );
}

#[test]
fn usage_errors_exit_2() {
    let f = Fixture::new();
    grey_png(&f.path("a.png"), 4, 4);
    for args in [
        vec!["a.png"],
        vec!["a.png", "-o", "b.png", "--saturation", "x"],
        vec!["a.png", "-o", "b.png", "--saturation", "-1"],
        vec!["a.png", "-o", "b.png", "--tile-size", "3"],
        vec!["a.png", "-o", "b.png", "--resize", "0x5"],
        vec!["a.png", "a.png", "-o", "-"],
        vec!["--no-such-flag"],
    ] {
        let out = f.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
    }
    assert!(!f.path("b.png").exists());
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success() && text(&out).contains("--skip-existing"));
}

#[test]
fn bad_inputs_are_clear_errors_with_nothing_left_behind() {
    let f = Fixture::new();
    grey_png(&f.path("good.png"), 16, 16);
    let good = std::fs::read(f.path("good.png")).unwrap();
    std::fs::write(f.path("empty.png"), b"").unwrap();
    std::fs::write(f.path("truncated.png"), &good[..good.len() / 2]).unwrap();
    let mut corrupt = good.clone();
    for b in &mut corrupt[40..] {
        *b ^= 0x5A;
    }
    std::fs::write(f.path("corrupt.png"), &corrupt).unwrap();
    std::fs::write(f.path("text.png"), b"hello, I am not an image").unwrap();
    std::fs::write(
        f.path("bomb.png"),
        common::png_header_only(100_000, 100_000),
    )
    .unwrap();
    let cases = [
        ("empty.png", "not an image"),
        ("truncated.png", "image"),
        ("corrupt.png", "image"),
        ("text.png", "not an image"),
        ("bomb.png", "100000x100000"),
        ("missing.png", "no such file"),
    ];
    for (input, phrase) in cases {
        let before = std::fs::read(f.path(input)).ok();
        let out = f.run(&[input, "-o", "result.png"]);
        assert_eq!(out.status.code(), Some(1), "{input}: {}", text(&out));
        assert!(
            text(&out).contains(phrase),
            "{input}: '{}' lacks '{phrase}'",
            text(&out)
        );
        assert!(!text(&out).contains("panicked"), "{input}");
        assert!(
            !f.path("result.png").exists(),
            "{input}: output left behind"
        );
        assert_eq!(std::fs::read(f.path(input)).ok(), before, "{input} changed");
    }
    let leftovers: Vec<String> = tree(f.dir.path())
        .into_iter()
        .filter(|p| p.contains("colorize-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Output equal to the input, directly or through another spelling.
    let out = f.run(&["good.png", "-o", "good.png"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("refusing to overwrite an input"),
        "{}",
        text(&out)
    );
    let out = f.run(&["good.png", "-o", "./sub/../good.png"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert_eq!(std::fs::read(f.path("good.png")).unwrap(), good);

    // Unwritable output: its folder is a file. Found before any work (status 2).
    let out = f.run(&["good.png", "-o", "good.png/out.png"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = f.run(&["good.png", "-o", "/proc/colorize-out.png"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("/proc/colorize-out.png"),
        "{}",
        text(&out)
    );
}

#[test]
fn bad_models_are_clear_errors() {
    let f = Fixture::new();
    grey_png(&f.path("a.png"), 8, 8);
    std::fs::write(
        f.path("corrupt.onnx"),
        b"\x08\x07garbage that is not protobuf",
    )
    .unwrap();
    let (_, broken, _) = common::broken_models().into_iter().next().unwrap();
    std::fs::write(f.path("broken.onnx"), broken).unwrap();
    for (model, phrase) in [
        ("corrupt.onnx", "ONNX"),
        ("broken.onnx", "channel"),
        ("no-such-model", "unknown model name 'no-such-model'"),
        ("missing.onnx", "missing.onnx"),
    ] {
        let out = Command::new(BIN)
            .args(["--model", model, "a.png", "-o", "b.png"])
            .current_dir(f.dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{model}: {}", text(&out));
        assert!(
            text(&out).contains(phrase),
            "{model}: '{}' lacks '{phrase}'",
            text(&out)
        );
        assert!(!f.path("b.png").exists());
    }
    if colorize::default_model_name().is_none() {
        let out = Command::new(BIN)
            .args(["a.png", "-o", "b.png"])
            .current_dir(f.dir.path())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(
            text(&out).contains("no embedded default model"),
            "{}",
            text(&out)
        );
        let out = Command::new(BIN).arg("--list-models").output().unwrap();
        assert!(
            out.status.success() && text(&out).contains("no embedded models"),
            "{}",
            text(&out)
        );
    }
}

#[test]
fn real_photos_from_shared_data() {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/data/mit-8scenes-64"
    ));
    if !dir.is_dir() {
        common::skip(&format!("{} is absent", dir.display()));
        return;
    }
    let f = Fixture::new();
    let photos: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .take(6)
        .collect();
    let mut args: Vec<&str> = photos.iter().map(|p| p.to_str().unwrap()).collect();
    args.extend(["-o", "out", "--jobs", "2"]);
    let out = f.run(&args);
    assert!(out.status.success(), "{}", text(&out));
    for photo in &photos {
        let result = f
            .path("out")
            .join(photo.with_extension("jpg").file_name().unwrap());
        let (a, b) = (image::open(photo).unwrap(), image::open(&result).unwrap());
        assert_eq!((a.width(), a.height()), (b.width(), b.height()));
    }
    // The committed sample photo too.
    let sample = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/cameraman.png"
    ));
    let out = f.run(&[sample.to_str().unwrap(), "-o", "camera.png"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(is_coloured(&f.path("camera.png")));
}
