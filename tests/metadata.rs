//! What the `colorize` command carries from an input file to its output: EXIF (orientation
//! reset), XMP, IPTC, ICC profile and resolution in JPEG, PNG, TIFF and WebP, `--strip`;
//! ICC inputs colour-managed before L* (checked against ImageMagick's lcms conversion),
//! `--keep-profile`; JPEG quality and subsampling from the input; compressed TIFF; inputs
//! with several pages or frames refused. The inputs are small files made here by
//! ImageMagick and exiftool, which the suite's set-up installs; without them each test is
//! skipped (`common::skip`: a failure when every test is required, as in the suite).

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use common::text;
use common::CliFixture as Fixture;

/// Debian's convert (not a stand-in earlier on PATH).
const CONVERT: &str = "/usr/bin/convert";

fn tools_present() -> bool {
    let ok = |program: &str, arg: &str| {
        Command::new(program)
            .arg(arg)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    ok(CONVERT, "-version") && ok("exiftool", "-ver")
}

/// ImageMagick and exiftool (the suite's set-up installs them: scripts/setup-test-tools.sh).
fn tools() -> bool {
    static PRESENT: OnceLock<bool> = OnceLock::new();
    *PRESENT.get_or_init(tools_present)
}

macro_rules! require_tools {
    () => {
        if !tools() {
            common::skip(&format!(
                "ImageMagick ({CONVERT}) and exiftool are needed (scripts/setup-test-tools.sh installs them)"
            ));
            return;
        }
    };
}

fn run_ok(program: &str, args: &[&str], dir: &Path) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// exiftool's tags of each file, by file name (`-n`: numbers as numbers).
fn exif_tags(dir: &Path, files: &[&str]) -> Vec<serde_json::Value> {
    let out = Command::new("exiftool")
        .args(["-j", "-n"])
        .args(files)
        .current_dir(dir)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

fn tag<'a>(tags: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    tags.get(name)
}

/// A 64x48 JPEG, quality 60, 4:2:0, 600 dpi, with EXIF (camera, date, orientation 6 = turn
/// 90 degrees clockwise), XMP title, IPTC keyword and an Adobe RGB ICC profile.
fn camera_jpeg(f: &Fixture) {
    let adobe = moxcms::ColorProfile::new_adobe_rgb().encode().unwrap();
    std::fs::write(f.path("adobe.icc"), adobe).unwrap();
    let dir = f.dir.path();
    run_ok(
        CONVERT,
        &[
            "-size",
            "64x48",
            "gradient:#a05030-#3060c0",
            "-density",
            "600",
            "-units",
            "PixelsPerInch",
            "-quality",
            "60",
            "-sampling-factor",
            "2x2",
            "camera.jpg",
        ],
        dir,
    );
    run_ok(
        "exiftool",
        &[
            "-q",
            "-overwrite_original",
            "-DateTimeOriginal=2001:02:03 04:05:06",
            "-Make=TestCam",
            "-Orientation#=6",
            "-XMP-dc:Title=A title",
            "-IPTC:Keywords=harbour",
            "-ICC_Profile<=adobe.icc",
            "camera.jpg",
        ],
        dir,
    );
}

#[test]
fn metadata_reaches_jpeg_png_tiff_and_webp_outputs() {
    require_tools!();
    let f = Fixture::new();
    camera_jpeg(&f);
    for ext in ["jpg", "png", "tif", "webp"] {
        let out = f.run(&["camera.jpg", "-o", &format!("out.{ext}")]);
        assert!(out.status.success(), "{ext}: {}", text(&out));
    }
    let all = exif_tags(f.dir.path(), &["out.jpg", "out.png", "out.tif", "out.webp"]);
    for (tags, ext) in all.iter().zip(["jpg", "png", "tif", "webp"]) {
        let has = |name: &str| tag(tags, name).is_some();
        // Turned upright by the decoder: 48x64, and the tag says so.
        assert_eq!(tag(tags, "ImageWidth"), Some(&48.into()), "{ext}: {tags}");
        assert_eq!(tag(tags, "ImageHeight"), Some(&64.into()), "{ext}");
        assert_eq!(tag(tags, "Title"), Some(&"A title".into()), "{ext}: XMP");
        assert_eq!(
            tag(tags, "ProfileDescription").and_then(|v| v.as_str()),
            Some("sRGB IEC61966-2.1"),
            "{ext}: tagged sRGB"
        );
        let dpi = tag(tags, "XResolution").and_then(|v| v.as_f64());
        assert!(
            dpi.is_some_and(|d| (d - 600.0).abs() < 1.0),
            "{ext}: {dpi:?} dpi"
        );
        if ext != "tif" {
            assert_eq!(tag(tags, "Make"), Some(&"TestCam".into()), "{ext}: EXIF");
            assert_eq!(
                tag(tags, "Orientation"),
                Some(&1.into()),
                "{ext}: orientation reset"
            );
            assert!(has("DateTimeOriginal"), "{ext}: EXIF date");
        }
        if ext != "webp" {
            assert_eq!(
                tag(tags, "Keywords"),
                Some(&"harbour".into()),
                "{ext}: IPTC"
            );
        }
    }
    let tiff = &all[2];
    assert_eq!(
        tag(tiff, "Compression"),
        Some(&8.into()),
        "TIFF written with Deflate"
    );
}

#[test]
fn imagemagick_png_and_tiff_inputs_carry_their_metadata() {
    require_tools!();
    let f = Fixture::new();
    camera_jpeg(&f);
    let dir = f.dir.path();
    // ImageMagick keeps EXIF, XMP and IPTC of a PNG in its "Raw profile" text chunks, where
    // the decoder does not look for the orientation; IPTC of a TIFF in the Photoshop tag.
    run_ok(CONVERT, &["camera.jpg", "camera.png"], dir);
    run_ok(
        CONVERT,
        &["camera.jpg", "-compress", "LZW", "camera.tif"],
        dir,
    );
    for input in ["camera.png", "camera.tif"] {
        let output = format!("from-{input}.jpg");
        let out = f.run(&[input, "-o", &output]);
        assert!(out.status.success(), "{input}: {}", text(&out));
    }
    let tags = exif_tags(dir, &["from-camera.png.jpg", "from-camera.tif.jpg"]);
    for (tags, input) in tags.iter().zip(["png", "tif"]) {
        assert_eq!(
            tag(tags, "ImageWidth"),
            Some(&48.into()),
            "{input}: turned upright"
        );
        assert_eq!(
            tag(tags, "Title"),
            Some(&"A title".into()),
            "{input}: {tags}"
        );
        assert_eq!(
            tag(tags, "Keywords"),
            Some(&"harbour".into()),
            "{input}: {tags}"
        );
        assert_eq!(
            tag(tags, "ProfileDescription").and_then(|v| v.as_str()),
            Some("sRGB IEC61966-2.1"),
            "{input}"
        );
    }
    assert_eq!(
        tag(&tags[0], "Make"),
        Some(&"TestCam".into()),
        "{}",
        tags[0]
    );
    assert_eq!(tag(&tags[0], "Orientation"), Some(&1.into()));
}

#[test]
fn strip_drops_the_metadata() {
    require_tools!();
    let f = Fixture::new();
    camera_jpeg(&f);
    let out = f.run(&["camera.jpg", "-o", "out.jpg", "--strip"]);
    assert!(out.status.success(), "{}", text(&out));
    let tags = &exif_tags(f.dir.path(), &["out.jpg"])[0];
    for name in [
        "Make",
        "DateTimeOriginal",
        "Title",
        "Keywords",
        "ProfileDescription",
    ] {
        assert!(tag(tags, name).is_none(), "--strip left {name}: {tags}");
    }
}

#[test]
fn jpeg_quality_and_subsampling_follow_the_input_unless_given() {
    require_tools!();
    let f = Fixture::new();
    camera_jpeg(&f);
    let identify = |file: &str| {
        let out = Command::new("/usr/bin/identify")
            .args(["-format", "%Q %[jpeg:sampling-factor]", file])
            .current_dir(f.dir.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(f.run(&["camera.jpg", "-o", "same.jpg"]).status.success());
    let same = identify("same.jpg");
    assert!(same.starts_with("60 2x2"), "{same}");
    let out = f.run(&[
        "camera.jpg",
        "-o",
        "set.jpg",
        "--quality",
        "90",
        "--subsampling",
        "444",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let set = identify("set.jpg");
    assert!(set.starts_with("90 1x1"), "{set}");
    let out = f.run(&["camera.jpg", "-o", "bad.jpg", "--subsampling", "411"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// CIE L* of 8-bit sRGB values.
fn l_star(rgb: [u8; 3]) -> f64 {
    let linear = |v: u8| {
        let c = f64::from(v) / 255.0;
        if c <= 0.04045 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    let y = 0.2126 * linear(rgb[0]) + 0.7152 * linear(rgb[1]) + 0.0722 * linear(rgb[2]);
    if y > 216.0 / 24389.0 {
        116.0 * y.cbrt() - 16.0
    } else {
        y * 24389.0 / 27.0
    }
}

/// Mean and largest |L* difference| between two 8-bit RGB images of one size.
fn l_star_error(a: &image::RgbImage, b: &image::RgbImage) -> (f64, f64) {
    assert_eq!(a.dimensions(), b.dimensions());
    let mut sum = 0.0;
    let mut max: f64 = 0.0;
    for (p, q) in a.pixels().zip(b.pixels()) {
        let d = (l_star(p.0) - l_star(q.0)).abs();
        sum += d;
        max = max.max(d);
    }
    (sum / f64::from(a.width() * a.height()), max)
}

#[test]
fn adobe_rgb_input_is_converted_to_srgb_before_l_star() {
    require_tools!();
    let f = Fixture::new();
    let dir = f.dir.path();
    std::fs::write(
        f.path("adobe.icc"),
        moxcms::ColorProfile::new_adobe_rgb().encode().unwrap(),
    )
    .unwrap();
    std::fs::write(
        f.path("srgb.icc"),
        moxcms::ColorProfile::new_srgb().encode().unwrap(),
    )
    .unwrap();
    // Every colour of a level-4 Hald image (64x64), tagged Adobe RGB; the reference is
    // ImageMagick's (lcms) conversion of it to sRGB; "untagged" is the same pixels read as
    // sRGB, as a program without colour management reads them.
    run_ok(
        CONVERT,
        &["hald:4", "-profile", "adobe.icc", "adobe.png"],
        dir,
    );
    run_ok(
        CONVERT,
        &["adobe.png", "-profile", "srgb.icc", "reference.png"],
        dir,
    );
    run_ok(
        CONVERT,
        &["adobe.png", "+profile", "*", "untagged.png"],
        dir,
    );
    // Saturation 0: the output is the grey of the L* the engine took from the input.
    for (input, output) in [
        ("adobe.png", "managed.png"),
        ("untagged.png", "unmanaged.png"),
    ] {
        let out = f.run(&[input, "-o", output, "--saturation", "0"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let load = |name: &str| image::open(f.path(name)).unwrap().to_rgb8();
    let reference = load("reference.png");
    let (after_mean, after_max) = l_star_error(&load("managed.png"), &reference);
    let (before_mean, before_max) = l_star_error(&load("unmanaged.png"), &reference);
    eprintln!(
        "L* error against ImageMagick -profile: read as sRGB mean {before_mean:.2} max \
         {before_max:.2}; colour-managed mean {after_mean:.2} max {after_max:.2}"
    );
    assert!(
        before_mean > 0.8,
        "the test image shows the error: {before_mean}"
    );
    assert!(
        after_mean < 0.3 && after_max < 1.5,
        "{after_mean} {after_max}"
    );

    // --keep-profile: tagged Adobe RGB, its pixels Adobe RGB (back to sRGB they match the
    // reference's L*).
    let out = f.run(&[
        "adobe.png",
        "-o",
        "kept.png",
        "--saturation",
        "0",
        "--keep-profile",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let tags = exif_tags(dir, &["managed.png", "kept.png"]);
    assert_eq!(
        tag(&tags[0], "ProfileDescription"),
        Some(&"sRGB IEC61966-2.1".into())
    );
    let kept_profile = tag(&tags[1], "ProfileDescription").and_then(|v| v.as_str());
    assert!(
        kept_profile.is_some_and(|d| d.contains("Adobe")),
        "{kept_profile:?}"
    );
    run_ok(
        CONVERT,
        &["kept.png", "-profile", "srgb.icc", "kept-srgb.png"],
        dir,
    );
    let (kept_mean, _) = l_star_error(&load("kept-srgb.png"), &reference);
    assert!(kept_mean < 0.5, "{kept_mean}");
}

#[test]
fn tiff_is_written_compressed_as_the_input_was_with_its_tags() {
    require_tools!();
    let f = Fixture::new();
    let dir = f.dir.path();
    run_ok(
        CONVERT,
        &[
            "-size",
            "40x30",
            "gradient:gray20-gray80",
            "-depth",
            "16",
            "-density",
            "300",
            "-units",
            "PixelsPerInch",
            "-compress",
            "LZW",
            "scan.tif",
        ],
        dir,
    );
    run_ok(
        "exiftool",
        &[
            "-q",
            "-overwrite_original",
            "-XMP-dc:Title=Scan",
            "-IPTC:Keywords=archive",
            "scan.tif",
        ],
        dir,
    );
    let out = f.run(&["scan.tif", "-o", "out.tif"]);
    assert!(out.status.success(), "{}", text(&out));
    // A PNG input's TIFF is Deflate.
    run_ok(CONVERT, &["scan.tif", "plain.png"], dir);
    assert!(f.run(&["plain.png", "-o", "from-png.tif"]).status.success());
    let tags = exif_tags(dir, &["out.tif", "from-png.tif", "scan.tif"]);
    assert_eq!(
        tag(&tags[0], "Compression"),
        Some(&5.into()),
        "LZW kept: {}",
        tags[0]
    );
    assert_eq!(tag(&tags[0], "BitsPerSample"), Some(&"16 16 16".into()));
    assert_eq!(tag(&tags[0], "Title"), Some(&"Scan".into()));
    assert_eq!(tag(&tags[0], "Keywords"), Some(&"archive".into()));
    assert_eq!(tag(&tags[0], "XResolution"), Some(&300.into()));
    assert_eq!(
        tag(&tags[1], "Compression"),
        Some(&8.into()),
        "Deflate: {}",
        tags[1]
    );
    let size = |name: &str| std::fs::metadata(f.path(name)).unwrap().len();
    let raw = 40 * 30 * 3 * 2;
    assert!(
        size("out.tif") < raw,
        "{} bytes: not compressed",
        size("out.tif")
    );
}

#[test]
fn inputs_with_several_pages_or_frames_are_refused_with_the_count() {
    require_tools!();
    let f = Fixture::new();
    let dir = f.dir.path();
    run_ok(
        CONVERT,
        &[
            "-size",
            "16x16",
            "xc:gray30",
            "xc:gray50",
            "xc:gray70",
            "pages.tif",
        ],
        dir,
    );
    run_ok(
        CONVERT,
        &[
            "-delay",
            "10",
            "-size",
            "16x16",
            "xc:gray30",
            "xc:gray60",
            "frames.gif",
        ],
        dir,
    );
    for (input, expected) in [("pages.tif", "has 3 pages"), ("frames.gif", "has 2 frames")] {
        let out = f.run(&[input, "-o", "out.png"]);
        assert_eq!(out.status.code(), Some(1), "{input}: {}", text(&out));
        assert!(text(&out).contains(expected), "{input}: {}", text(&out));
        assert!(!f.path("out.png").exists());
    }
    // One page is one image.
    run_ok(CONVERT, &["-size", "16x16", "xc:gray30", "one.gif"], dir);
    assert!(f.run(&["one.gif", "-o", "one.png"]).status.success());
}
