//! What the `colorize` command writes and prints: output formats from the extension (or a
//! usage error before any work), --quality, problems with `-o` found before any work,
//! closed stdout pipes, file modes, --skip-existing on broken outputs, -q, and notes.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_colorize");

use common::CliFixture as Fixture;
use common::{grey_png, text};

fn grey_rgba_png(path: &Path, w: u32, h: u32) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let img = image::RgbaImage::from_fn(w, h, |x, y| {
        let v = ((x * 7 + y * 3) % 256) as u8;
        image::Rgba([v, v, v, 128])
    });
    img.save(path).unwrap();
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

fn format_of(path: &Path) -> image::ImageFormat {
    image::guess_format(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn every_written_format_is_the_one_named() {
    let f = Fixture::new();
    grey_png(&f.path("a.png"), 24, 16);
    use image::ImageFormat as F;
    for (name, format) in [
        ("o.png", F::Png),
        ("o.jpg", F::Jpeg),
        ("o.JPEG", F::Jpeg),
        ("o.tif", F::Tiff),
        ("o.ppm", F::Pnm),
        ("o.webp", F::WebP),
        ("o.bmp", F::Bmp),
        ("o.gif", F::Gif),
    ] {
        let out = f.run(&["a.png", "-o", name]);
        assert!(out.status.success(), "{name}: {}", text(&out));
        assert_eq!(format_of(&f.path(name)), format, "{name}");
        let img = image::open(f.path(name)).unwrap();
        assert_eq!((img.width(), img.height()), (24, 16), "{name}");
    }
    // --format wins over the name, and makes any name acceptable.
    let out = f.run(&["a.png", "-o", "plain", "--format", "jpeg"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(format_of(&f.path("plain")), F::Jpeg);
    let out = f.run(&["a.png", "-o", "x.png", "--format", "webp"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(format_of(&f.path("x.png")), F::WebP);
}

#[test]
fn unknown_output_extensions_are_usage_errors_before_any_work() {
    let f = Fixture::new();
    grey_png(&f.path("a.png"), 8, 8);
    for name in ["x.xyz", "noext", "x.tga", "x.qoi"] {
        let out = f.run(&["a.png", "-o", name]);
        assert_eq!(out.status.code(), Some(2), "{name}: {}", text(&out));
        let t = text(&out);
        assert!(t.contains(name) && t.contains("--format"), "{name}: {t}");
        assert!(!f.path(name).exists(), "{name}");
    }
    // Also when the model is not loadable: the check comes first.
    let out = Command::new(BIN)
        .args(["--model", "no-such-model.onnx", "a.png", "-o", "x.xyz"])
        .current_dir(f.dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(tree(f.dir.path()), vec!["a.png", "spatial.onnx"]);
}

#[test]
fn jpeg_quality() {
    let f = Fixture::new();
    let img = image::GrayImage::from_fn(96, 64, |x, y| {
        image::Luma([((x * 37 + y * 91 + (x * y) % 23) % 256) as u8])
    });
    img.save(f.path("a.png")).unwrap();
    let size = |q: &str| {
        let name = format!("q{q}.jpg");
        let out = f.run(&["a.png", "-o", &name, "--quality", q]);
        assert!(out.status.success(), "{q}: {}", text(&out));
        std::fs::metadata(f.path(&name)).unwrap().len()
    };
    let (low, high) = (size("20"), size("100"));
    assert!(low < high, "quality 20: {low} bytes, 100: {high} bytes");
    let out = f.run(&["a.png", "-o", "default.jpg"]);
    assert!(out.status.success());
    assert_eq!(
        std::fs::read(f.path("default.jpg")).unwrap(),
        {
            f.run(&["a.png", "-o", "q92.jpg", "--quality", "92"]);
            std::fs::read(f.path("q92.jpg")).unwrap()
        },
        "default quality is 92"
    );
    for bad in ["0", "101", "x"] {
        let out = f.run(&["a.png", "-o", "b.jpg", "--quality", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out));
    }
    assert!(!f.path("b.jpg").exists());
}

#[test]
fn output_problems_are_found_before_any_work() {
    let f = Fixture::new();
    for i in 0..3 {
        grey_png(&f.path(&format!("photos/{i}.png")), 8, 8);
    }
    // A folder input with a file-like output name: no folder `colour.png` is made.
    let out = f.run(&["photos", "-o", "colour.png"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("looks like a file name"),
        "{}",
        text(&out)
    );
    assert!(!f.path("colour.png").exists());
    // ... unless it ends with a separator.
    let out = f.run(&["photos", "-o", "colour.png/"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(f.path("colour.png/0.png").is_file());

    // -o naming an existing file where a folder is needed.
    std::fs::write(f.path("taken"), b"keep me").unwrap();
    for args in [
        vec!["photos", "-o", "taken"],
        vec!["photos/0.png", "photos/1.png", "-o", "taken"],
        vec!["photos", "-o", "taken/sub"],
    ] {
        let out = f.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let t = text(&out);
        assert!(
            t.contains("is an existing file") || t.contains("is a file"),
            "{args:?}: {t}"
        );
        assert!(!t.contains("os error 17"), "{t}");
    }
    assert_eq!(std::fs::read(f.path("taken")).unwrap(), b"keep me");

    // A folder that cannot be written: /proc refuses even root.
    let out = f.run(&["photos", "-o", "/proc/colorize-test-out"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("cannot write outputs in /proc"),
        "{}",
        text(&out)
    );
    assert_eq!(text(&out).lines().count(), 1, "one line: {}", text(&out));

    // A read-only folder (not for root, whom modes do not stop).
    if unsafe { libc::geteuid() } != 0 {
        std::fs::create_dir(f.path("locked")).unwrap();
        std::fs::set_permissions(f.path("locked"), std::fs::Permissions::from_mode(0o555)).unwrap();
        let out = f.run(&["photos", "-o", "locked/out"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        assert!(
            text(&out).contains("cannot write outputs in"),
            "{}",
            text(&out)
        );
        let out = f.run(&["photos/0.png", "-o", "locked/x.png"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        std::fs::set_permissions(f.path("locked"), std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    // A single file may still replace an existing file of that name.
    std::fs::write(f.path("old.png"), b"old").unwrap();
    let out = f.run(&["photos/0.png", "-o", "old.png"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(image::open(f.path("old.png")).is_ok());
}

#[test]
fn closed_stdout_pipe_does_not_panic_and_the_batch_finishes() {
    let f = Fixture::new();
    for i in 0..40 {
        grey_png(&f.path(&format!("photos/{i:02}.png")), 64, 64);
    }
    let mut child = f
        .command()
        .args(["photos", "-o", "out", "-j1", "--print"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // `| head -1`: one line read, then the pipe is closed.
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    assert!(!stderr.contains("panick"), "{stderr}");
    assert!(!stderr.contains("Broken pipe"), "{stderr}");
    assert!(stderr.contains("40 colorized"), "{stderr}");
    let written = tree(&f.path("out"));
    assert_eq!(written.len(), 40, "{written:?}");
    assert!(written
        .iter()
        .all(|p| image::open(f.path("out").join(p)).is_ok()));

    // The same through a shell pipe into `head -1`.
    let out = f.shell("photos -o out2 -j1 --print | head -1");
    assert!(!text(&out).contains("panick"), "{}", text(&out));
    assert_eq!(tree(&f.path("out2")).len(), 40);
}

#[test]
fn stdout_output_with_stdout_closed_fails() {
    let f = Fixture::new();
    grey_png(&f.path("a.png"), 8, 8);
    // fd 1 closed (`>&-`): refused before any work.
    let out = f.shell("a.png -o - >&-");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("stdout is closed"), "{}", text(&out));
    // A pipe whose reader is gone: the write fails, and says so.
    let mut child = f
        .command()
        .args(["a.png", "-o", "-"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!text(&out).contains("panick"), "{}", text(&out));
}

#[test]
fn outputs_follow_the_umask_and_replaced_outputs_keep_their_mode() {
    let f = Fixture::new();
    grey_png(&f.path("photos/a.png"), 8, 8);
    grey_png(&f.path("photos/b.png"), 8, 8);
    let run_with_umask = |mask: u32, args: &[&str]| {
        let mut c = f.command();
        c.args(args);
        // SAFETY: umask(2) is async-signal-safe.
        unsafe {
            c.pre_exec(move || {
                libc::umask(mask as libc::mode_t);
                Ok(())
            });
        }
        let out = c.output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
    };
    let mode = |p: &str| std::fs::metadata(f.path(p)).unwrap().permissions().mode() & 0o7777;
    run_with_umask(0o077, &["photos/a.png", "-o", "private.png"]);
    assert_eq!(mode("private.png"), 0o600);
    run_with_umask(0o022, &["photos/a.png", "-o", "public.png"]);
    assert_eq!(mode("public.png"), 0o644);
    run_with_umask(0o002, &["photos", "-o", "out"]);
    assert_eq!(mode("out/a.png"), 0o664);
    // Replaced: the old mode stays, whatever the umask.
    std::fs::set_permissions(
        f.path("private.png"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    run_with_umask(0o022, &["photos/b.png", "-o", "private.png"]);
    assert_eq!(mode("private.png"), 0o640);
    assert!(image::open(f.path("private.png")).is_ok());
}

#[test]
fn skip_existing_redoes_empty_and_broken_outputs() {
    let f = Fixture::new();
    for name in ["a", "b", "c", "d"] {
        grey_png(&f.path(&format!("photos/{name}.png")), 16, 16);
    }
    let out = f.run(&["photos", "-o", "out"]);
    assert!(out.status.success(), "{}", text(&out));
    let whole = std::fs::read(f.path("out/a.png")).unwrap();
    std::fs::write(f.path("out/b.png"), b"").unwrap();
    std::fs::write(f.path("out/c.png"), &whole[..whole.len() / 2]).unwrap();
    std::fs::write(f.path("out/d.png"), b"not an image at all").unwrap();
    let out = f.run(&["photos", "-o", "out", "--skip-existing", "--print"]);
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut redone: Vec<&str> = stdout.lines().collect();
    redone.sort();
    assert_eq!(
        redone,
        vec!["out/b.png", "out/c.png", "out/d.png"],
        "{}",
        text(&out)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 skipped"));
    for name in ["a", "b", "c", "d"] {
        assert!(
            image::open(f.path(&format!("out/{name}.png"))).is_ok(),
            "{name}"
        );
    }
}

#[test]
fn quiet_prints_nothing_on_stdout() {
    let f = Fixture::new();
    for i in 0..3 {
        grey_png(&f.path(&format!("photos/{i}.png")), 8, 8);
    }
    let out = f.run(&["photos", "-o", "out", "-q"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));
    assert!(out.stderr.is_empty(), "{}", text(&out));
    assert_eq!(tree(&f.path("out")).len(), 3);
    // Paths only when asked for, even with -q.
    let out = f.run(&["photos", "-o", "out2"]);
    assert!(out.stdout.is_empty(), "{}", text(&out));
    let out = f.run(&["photos", "-o", "out3", "--print", "-q"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
}

#[test]
fn alpha_dropped_by_jpeg_is_noted_once() {
    let f = Fixture::new();
    grey_rgba_png(&f.path("photos/a.png"), 8, 8);
    grey_rgba_png(&f.path("photos/b.png"), 8, 8);
    let out = f.run(&["photos", "-o", "out", "--format", "jpeg"]);
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("no alpha channel").count(),
        1,
        "one note: {stderr}"
    );
    // Not for formats that keep alpha.
    let out = f.run(&["photos/a.png", "-o", "a.webp"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!text(&out).contains("alpha"), "{}", text(&out));
    assert!(image::open(f.path("a.webp")).unwrap().color().has_alpha());
}

#[test]
fn tga_inputs_found_in_folders_are_decoded() {
    let f = Fixture::new();
    std::fs::create_dir_all(f.path("photos")).unwrap();
    let img = image::GrayImage::from_fn(12, 10, |x, y| image::Luma([(x * 20 + y) as u8]));
    img.save_with_format(f.path("photos/old.tga"), image::ImageFormat::Tga)
        .unwrap();
    let out = f.run(&["photos", "-o", "out"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(tree(&f.path("out")), vec!["old.png"]);
    assert_eq!(image::open(f.path("out/old.png")).unwrap().width(), 12);
}
