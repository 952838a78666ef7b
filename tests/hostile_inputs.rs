//! Hostile files against the `colorize` command, each generated small in a temporary
//! folder: a panic inside one input, images over the memory budget, truncated and forged
//! JPEGs and PNGs, an ICC-profile bomb, an endless stdin, link loops, FIFOs and unreadable
//! folders inside input folders, a FIFO as --model, file names with newlines, and outputs
//! that are links to special files. Each must end as one clear error (or note) with the
//! rest of the batch done, quickly and in bounded memory, never a hang or a panic.

mod common;

use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::CliFixture as Fixture;
use common::{grey_png, png_chunk, run_bounded, text};

/// A grey JPEG with texture (so its entropy-coded data is not trivially short).
fn grey_jpeg(w: u32, h: u32) -> Vec<u8> {
    let img = image::GrayImage::from_fn(w, h, |x, y| {
        image::Luma([((x * 37 + y * 91 + (x * y) % 23) % 256) as u8])
    });
    let mut bytes = Vec::new();
    image::DynamicImage::ImageLuma8(img)
        .write_to(
            &mut std::io::Cursor::new(&mut bytes),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    bytes
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

#[test]
fn a_panic_ends_only_its_own_input() {
    let f = Fixture::new();
    for name in ["a", "b", "c"] {
        grey_png(&f.path(&format!("photos/{name}.png")), 16, 12);
    }
    let mut c = f.command();
    c.args(["photos", "-o", "out", "-j2"])
        .env("COLORIZE_TEST_PANIC_ON", "photos/b.png");
    let out = c.output().unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("photos/b.png: internal error"), "{t}");
    assert!(t.contains("test panic for photos/b.png"), "{t}");
    assert!(
        !t.contains("panicked at"),
        "the default panic message leaked: {t}"
    );
    assert!(
        t.contains("2 colorized, 0 skipped (already there), 1 failed"),
        "{t}"
    );
    assert!(f.path("out/a.png").is_file() && f.path("out/c.png").is_file());
    assert!(!f.path("out/b.png").exists());
}

#[test]
fn images_over_the_memory_budget_are_refused_before_decoding() {
    let f = Fixture::new();
    grey_png(&f.path("photos/small.png"), 32, 24);
    grey_png(&f.path("photos/large.png"), 400, 300);
    // The largest working size: about 100 GB of activations, refused at once.
    let started = Instant::now();
    let out = f.run(&[
        "photos",
        "-o",
        "out",
        "--size",
        "8192",
        "--memory-budget",
        "8G",
    ]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert_eq!(
        t.matches("over the memory budget of 8.59 GB").count(),
        2,
        "{t}"
    );
    assert!(started.elapsed() < Duration::from_secs(20), "{t}");
    // A budget between the two images' needs: the small one is done.
    // (The test model runs at 32 pixels: about 2 MB of activations for each.)
    let out = f.run(&["photos", "-o", "out2", "--memory-budget", "3M"]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("large.png: a 400x300 image needs about"), "{t}");
    assert!(f.path("out2/small.png").is_file(), "{t}");
    for bad in ["0", "x", "12Q"] {
        let out = f.run(&["photos", "-o", "out3", "--memory-budget", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}: {}", text(&out));
    }
}

#[test]
fn truncated_and_forged_jpegs_are_refused() {
    let f = Fixture::new();
    let whole = grey_jpeg(96, 64);
    std::fs::write(f.path("whole.jpg"), &whole).unwrap();
    std::fs::write(f.path("half.jpg"), &whole[..whole.len() / 2]).unwrap();
    let out = f.run(&["whole.jpg", "-o", "whole.png"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = f.run(&["half.jpg", "-o", "half.png"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("truncated JPEG"), "{}", text(&out));
    assert!(!f.path("half.png").exists());
    let out = f.run(&["half.jpg", "-o", "half.png", "--accept-truncated"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(image::open(f.path("half.png")).unwrap().width(), 96);

    // A whole flat image compresses far, yet never below the size checks' bound.
    image::GrayImage::new(2000, 2000)
        .save(f.path("flat.png"))
        .unwrap();
    let out = f.run(&["flat.png", "-o", "flat-out.png"]);
    assert!(out.status.success(), "{}", text(&out));

    // A tiny JPEG whose frame header is patched to declare 14000 x 14000.
    let mut forged = grey_jpeg(16, 16);
    let sof = forged.windows(2).position(|w| w == [0xFF, 0xC0]).unwrap();
    forged[sof + 5..sof + 9].copy_from_slice(&[0x36, 0xB0, 0x36, 0xB0]);
    std::fs::write(f.path("forged.jpg"), &forged).unwrap();
    // A PNG declaring the same with no image data to speak of.
    std::fs::write(f.path("forged.png"), common::png_header_only(14000, 14000)).unwrap();
    for input in ["forged.jpg", "forged.png"] {
        let (out, peak) = run_bounded(
            {
                let mut c = f.command();
                c.args([input, "-o", "forged-out.png"]);
                c
            },
            Duration::from_secs(20),
        );
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{input}: {t}");
        assert!(t.contains("declares 14000x14000"), "{input}: {t}");
        assert!(peak < 400 << 20, "{input}: {} MB", peak >> 20);
    }
}

/// A zlib stream of `1 + 258 * matches` zero bytes: a literal zero, then matches of
/// length 258 at distance 1, fixed Huffman codes (13 bits per match).
fn zeros_zlib(matches: usize) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        n: u32,
    }
    impl Bits {
        fn put(&mut self, value: u64, count: u32) {
            self.acc |= value << self.n;
            self.n += count;
            while self.n >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.n -= 8;
            }
        }
        /// A Huffman code, most significant bit first.
        fn code(&mut self, code: u64, len: u32) {
            let reversed = (0..len).fold(0, |r, i| r | ((code >> i) & 1) << (len - 1 - i));
            self.put(reversed, len);
        }
    }
    let mut b = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        n: 0,
    };
    b.put(1, 1); // final block
    b.put(1, 2); // fixed Huffman
    b.code(0x30, 8); // literal 0
    for _ in 0..matches {
        b.code(0b1100_0101, 8); // length 258 (symbol 285)
        b.code(0, 5); // distance 1
    }
    b.code(0, 7); // end of block (symbol 256)
    if b.n > 0 {
        b.put(0, 8 - b.n);
    }
    let total = 1 + 258 * matches as u64;
    let adler = (total % 65521) << 16 | 1;
    b.out.extend_from_slice(&(adler as u32).to_be_bytes());
    b.out
}

#[test]
fn an_icc_profile_bomb_takes_bounded_memory() {
    let f = Fixture::new();
    grey_png(&f.path("plain.png"), 8, 8);
    let plain = std::fs::read(f.path("plain.png")).unwrap();
    // An iCCP chunk inflating to 1 GiB, placed right after IHDR (8 + 25 bytes).
    let mut iccp = b"bomb\0\0".to_vec();
    iccp.extend(zeros_zlib((1 << 30) / 258));
    let mut bomb = plain[..33].to_vec();
    bomb.extend(png_chunk(b"iCCP", &iccp));
    bomb.extend_from_slice(&plain[33..]);
    std::fs::write(f.path("bomb.png"), &bomb).unwrap();
    let (out, peak) = run_bounded(
        {
            let mut c = f.command();
            c.args(["bomb.png", "-o", "bomb-out.png"]);
            c
        },
        Duration::from_secs(30),
    );
    assert!(!text(&out).contains("panicked"), "{}", text(&out));
    assert!(peak < 400 << 20, "peak {} MB: {}", peak >> 20, text(&out));
}

#[test]
fn an_endless_stdin_is_refused_early() {
    let f = Fixture::new();
    let mut c = f.command();
    c.args(["-", "-o", "out.png"])
        .stdin(std::fs::File::open("/dev/zero").unwrap());
    let (out, peak) = run_bounded(c, Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("not an image"), "{}", text(&out));
    assert!(peak < 400 << 20, "peak {} MB", peak >> 20);
}

#[test]
fn folder_walks_skip_links_loops_and_special_files() {
    let f = Fixture::new();
    grey_png(&f.path("photos/a.png"), 8, 8);
    grey_png(&f.path("photos/sub/b.png"), 8, 8);
    grey_png(&f.path("elsewhere/c.png"), 8, 8);
    symlink("..", f.path("photos/sub/loop")).unwrap();
    symlink("../elsewhere", f.path("photos/linked")).unwrap();
    mkfifo(&f.path("photos/pipe.png"));
    // A name with a newline.
    grey_png(&f.path("photos/new\nline.png"), 8, 8);
    let (out, _) = run_bounded(
        {
            let mut c = f.command();
            c.args(["photos", "-o", "out", "-0"]);
            c
        },
        Duration::from_secs(30),
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("pipe.png: a FIFO, not an image file; skipped"),
        "{t}"
    );
    assert!(
        t.contains("linked: a symbolic link to a folder, not followed"),
        "{t}"
    );
    let mut printed: Vec<&[u8]> = out
        .stdout
        .split(|&b| b == 0)
        .filter(|p| !p.is_empty())
        .collect();
    printed.sort();
    assert_eq!(
        printed,
        vec![&b"out/a.png"[..], b"out/new\nline.png", b"out/sub/b.png"],
        "{t}"
    );
    // Followed on request, each folder once: the loop ends, nothing is found twice.
    let (out, _) = run_bounded(
        {
            let mut c = f.command();
            c.args(["photos", "-o", "out2", "--follow-links", "--print"]);
            c
        },
        Duration::from_secs(30),
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("a folder already searched"), "{t}");
    assert!(f.path("out2/linked/c.png").is_file(), "{t}");
    assert_eq!(t.matches("4 colorized").count(), 1, "{t}");
}

#[test]
fn an_unreadable_folder_is_one_error_and_the_rest_is_done() {
    let f = Fixture::new();
    grey_png(&f.path("photos/a.png"), 8, 8);
    grey_png(&f.path("photos/locked/b.png"), 8, 8);
    grey_png(&f.path("photos/z/c.png"), 8, 8);
    // Root reads any folder: the command runs as nobody then, in a folder open to all.
    let as_root = unsafe { libc::geteuid() } == 0;
    if as_root {
        for dir in [f.dir.path(), &f.path("photos"), &f.path("photos/z")] {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
    }
    std::fs::set_permissions(f.path("photos/locked"), std::fs::Permissions::from_mode(0)).unwrap();
    let mut c = f.command();
    c.args(["photos", "-o", "out"]);
    if as_root {
        unsafe {
            c.pre_exec(|| {
                if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let out = c.output().unwrap();
    std::fs::set_permissions(
        f.path("photos/locked"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("photos/locked: Permission denied"), "{t}");
    assert!(t.contains("2 colorized"), "{t}");
    assert!(f.path("out/a.png").is_file() && f.path("out/z/c.png").is_file());
}

#[test]
fn fifos_as_inputs_or_model_are_refused_without_blocking() {
    let f = Fixture::new();
    grey_png(&f.path("a.png"), 8, 8);
    mkfifo(&f.path("model.onnx"));
    mkfifo(&f.path("input.png"));
    let bin = env!("CARGO_BIN_EXE_colorize");
    for (args, phrase) in [
        (
            vec!["--model", "./model.onnx", "a.png", "-o", "x.png"],
            "./model.onnx: not a regular file",
        ),
        (
            vec![
                "--model",
                f.model.to_str().unwrap(),
                "input.png",
                "-o",
                "y.png",
            ],
            "input.png: not a file",
        ),
    ] {
        let (out, _) = run_bounded(
            {
                let mut c = Command::new(bin);
                c.args(&args).current_dir(f.dir.path());
                c
            },
            Duration::from_secs(20),
        );
        let t = text(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {t}");
        assert!(t.contains(phrase), "{args:?}: {t}");
    }
}

#[test]
fn outputs_are_never_written_through_links_to_special_files() {
    let f = Fixture::new();
    grey_png(&f.path("a.png"), 8, 8);
    grey_png(&f.path("photos/b.png"), 8, 8);
    grey_png(&f.path("photos/c.png"), 8, 8);
    mkfifo(&f.path("fifo"));
    symlink("fifo", f.path("to-fifo.png")).unwrap();
    symlink("/dev/null", f.path("to-null.png")).unwrap();
    for link in ["to-fifo.png", "to-null.png"] {
        let (out, _) = run_bounded(
            {
                let mut c = f.command();
                c.args(["a.png", "-o", link]);
                c
            },
            Duration::from_secs(20),
        );
        let t = text(&out);
        assert_eq!(out.status.code(), Some(2), "{link}: {t}");
        assert!(t.contains("is a symbolic link to a"), "{link}: {t}");
    }
    // In a folder batch, a planted link is that output's error; the others are written.
    std::fs::create_dir(f.path("out")).unwrap();
    symlink("../fifo", f.path("out/b.png")).unwrap();
    let (out, _) = run_bounded(
        {
            let mut c = f.command();
            c.args(["photos", "-o", "out"]);
            c
        },
        Duration::from_secs(20),
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("is a symbolic link to a FIFO"), "{t}");
    assert!(image::open(f.path("out/c.png")).is_ok());
    // A link to a regular file is replaced by the output; its target is left alone.
    std::fs::write(f.path("target.png"), b"keep").unwrap();
    symlink("target.png", f.path("link.png")).unwrap();
    let out = f.run(&["a.png", "-o", "link.png"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read(f.path("target.png")).unwrap(), b"keep");
    assert!(image::open(f.path("link.png")).is_ok());
}

#[test]
fn a_fifo_output_without_a_reader_is_given_up() {
    let f = Fixture::new();
    grey_png(&f.path("a.png"), 8, 8);
    mkfifo(&f.path("nobody-reads.png"));
    let (out, _) = run_bounded(
        {
            let mut c = f.command();
            c.args(["a.png", "-o", "nobody-reads.png"]);
            c
        },
        Duration::from_secs(40),
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("no program read"), "{t}");
}
