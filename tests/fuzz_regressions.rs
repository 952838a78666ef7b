//! Replays the fuzz seeds (`fuzz/seeds/<target>/`) and every input a fuzzer ever crashed
//! on (`tests/fuzz-cases/<target>/`) through the same checks the fuzz targets run
//! (`fuzz/src/lib.rs`, included here), so a fixed crash stays fixed without cargo-fuzz.
//!
//! A new crash input from `fuzz/artifacts/<target>/` goes into `tests/fuzz-cases/<target>/`
//! under a name saying what it was. The seeds are regenerated on purpose with
//! `COLORIZE_REGENERATE_FUZZ_SEEDS=1 cargo test --release --test fuzz_regressions`.

mod common;

#[allow(dead_code)]
#[path = "../fuzz/src/lib.rs"]
mod harness;
// The command's metadata module, compiled inside the harness, names these at the crate root.
use harness::{jpeg, profile};

use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// A fuzz target's check, shared with the fuzzer.
type Harness = fn(&[u8]);
const TARGETS: [(&str, Harness); 6] = [
    ("capi", harness::capi),
    ("model_load", harness::model_load),
    ("model_shape", harness::model_shape),
    ("decode", harness::decode),
    ("metadata", harness::cli::metadata),
    ("encoders", harness::cli::encoders),
];

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

fn replay(kind: &str, min_files: usize) {
    if kind == "seeds" && std::env::var_os("COLORIZE_REGENERATE_FUZZ_SEEDS").is_some() {
        write_seeds();
    }
    let base = match kind {
        "seeds" => Path::new(ROOT).join("fuzz/seeds"),
        _ => Path::new(ROOT).join("tests/fuzz-cases"),
    };
    for (target, check) in TARGETS {
        let files = files_in(&base.join(target));
        assert!(
            files.len() >= min_files,
            "{}/{target} holds {} files, expected at least {min_files}",
            base.display(),
            files.len()
        );
        for file in files {
            let bytes = std::fs::read(&file).unwrap();
            println!("{target}: {}", file.display());
            // A panic here names the file in the test output above.
            check(&bytes);
        }
    }
}

#[test]
fn fuzz_seeds_pass_the_fuzz_checks() {
    replay("seeds", 5);
}

#[test]
fn fuzz_crash_cases_stay_fixed() {
    replay("cases", 0);
}

/// capi input: entry, model, flags, then sizes, options and values (see harness::capi).
#[allow(clippy::too_many_arguments)]
fn capi_case(
    entry: u8,
    model: u8,
    flags: u8,
    width: u64,
    height: u64,
    channels: u8,
    stride_extra: u64,
    working_size: u32,
    mode: u8,
    tile_size: u32,
) -> Vec<u8> {
    let huge = flags & 2 != 0;
    let mut b = vec![entry, model, flags];
    let dim = |b: &mut Vec<u8>, v: u64| {
        if huge {
            b.extend_from_slice(&v.to_le_bytes())
        } else {
            b.push(v as u8)
        }
    };
    dim(&mut b, width);
    dim(&mut b, height);
    if entry != 0 {
        b.push(channels);
    }
    for _ in 0..2 {
        dim(&mut b, stride_extra);
    }
    b.extend_from_slice(&working_size.to_le_bytes());
    b.extend_from_slice(&[10, 64]); // saturation 1.0
    b.push(mode);
    b.extend_from_slice(&tile_size.to_le_bytes());
    b.extend((0..64u32).map(|i| (i * 41 % 251) as u8));
    b
}

fn write_seeds() {
    let seeds = Path::new(ROOT).join("fuzz/seeds");
    let write = |target: &str, name: &str, bytes: &[u8]| {
        let dir = seeds.join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    // C ABI: each entry point with each test model, working and native, plus bad calls.
    for entry in 0..5u8 {
        for model in 1..5u8 {
            write(
                "capi",
                &format!("e{entry}-m{model}-working"),
                &capi_case(entry, model, 0, 21, 13, 3, 2, 0, 0, 0),
            );
            write(
                "capi",
                &format!("e{entry}-m{model}-native"),
                &capi_case(entry, model, 0, 40, 9, 4, 0, 0, 200, 16),
            );
        }
        write(
            "capi",
            &format!("e{entry}-default-model"),
            &capi_case(entry, 0, 1, 5, 5, 3, 0, 0, 0, 0),
        );
        write(
            "capi",
            &format!("e{entry}-overflow"),
            &capi_case(entry, 1, 2, u64::MAX / 3, 3, 3, u64::MAX / 2, 0, 0, 0),
        );
        write(
            "capi",
            &format!("e{entry}-short-stride"),
            &capi_case(entry, 1, 4, 7, 7, 3, 0, 0, 0, 0),
        );
        write(
            "capi",
            &format!("e{entry}-bad-options"),
            &capi_case(entry, 2, 8, 7, 7, 5, 0, 9000, 255, 9),
        );
    }
    write(
        "capi",
        "overlapping-buffers",
        &capi_case(0, 1, 32, 6, 6, 1, 0, 0, 0, 0),
    );
    write(
        "capi",
        "raw-float-values",
        &capi_case(3, 1, 16, 6, 6, 3, 0, 0, 0, 0),
    );

    // Models: the test models (conforming and contract-breaking) and non-ONNX bytes.
    write(
        "model_load",
        "linear.onnx",
        &colorize::onnx::linear_test_model(0.5, -0.25),
    );
    write("model_load", "spatial.onnx", &common::spatial_model());
    write(
        "model_load",
        "strided-4.onnx",
        &common::strided_model(4, 8, 0.3, -0.2),
    );
    write(
        "model_load",
        "fixed-16.onnx",
        &common::fixed_size_model(16, 0.3, 0.1),
    );
    for (i, (_, bytes, _)) in common::broken_models().into_iter().enumerate() {
        write("model_load", &format!("broken-{i}.onnx"), &bytes);
    }
    write(
        "model_load",
        "not-onnx.txt",
        b"hello, this is not a model\n",
    );
    // Hostile models: a huge train size and a 4 GiB ConstantOfShape (refused at load).
    write(
        "model_load",
        "train-size-65536.onnx",
        &common::metadata_model(&[(colorize::contract::keys::TRAIN_SIZE, "65536")]),
    );
    write(
        "model_load",
        "constant-of-shape-4gib.onnx",
        &common::constant_of_shape_model(&[1, 1, 32768, 32768]),
    );

    // Model shapes: metadata values and folded constants (harness::shape_case).
    use harness::{FoldedConstant as C, MetadataValue as M};
    let contract = |train: u32| {
        [
            M::Number(1),
            M::Number(1),
            M::Number(1),
            M::Number(train),
            M::Absent,
        ]
    };
    for (name, metadata, constants) in [
        ("plain", contract(64), vec![]),
        ("train-size-65536", contract(65536), vec![]),
        (
            "input-size-text",
            [
                M::Number(1),
                M::Number(1),
                M::Number(1),
                M::Absent,
                M::Text(b"1e9".to_vec()),
            ],
            vec![],
        ),
        (
            "constant-of-shape-4gib",
            contract(64),
            vec![C::ConstantOfShape(vec![1, 1, 32768, 32768])],
        ),
        (
            "constant-of-shape-small",
            contract(64),
            vec![C::ConstantOfShape(vec![1, 2, 3])],
        ),
        (
            "input-shape-times-4096",
            contract(64),
            vec![C::ScaledInputShape(4096)],
        ),
        (
            "zeros-like-input",
            contract(64),
            vec![C::ScaledInputShape(1)],
        ),
        (
            "expand",
            contract(64),
            vec![C::Expand(vec![1, 65536, 65536])],
        ),
        (
            "tile",
            contract(64),
            vec![C::Tile(vec![1, 1, 65536, 65536])],
        ),
        (
            "range",
            contract(64),
            vec![C::Range {
                limit: u32::MAX,
                delta: 4,
            }],
        ),
        (
            "range-delta-0",
            contract(64),
            vec![C::Range { limit: 8, delta: 0 }],
        ),
        (
            "resize",
            contract(64),
            vec![C::Resize(vec![16, 16, 65535, 65535])],
        ),
        (
            "pad",
            contract(64),
            vec![C::Pad(vec![0, 0, 0, 0, 0, 0, 1 << 20, 1 << 20])],
        ),
        (
            "broadcast",
            contract(64),
            vec![C::Broadcast {
                rows: 4096,
                cols: 4096,
            }],
        ),
        (
            "lying-tensor",
            contract(64),
            vec![C::Lying {
                dims: vec![65536, 65536],
                bytes: 4,
            }],
        ),
        (
            "gather",
            contract(64),
            vec![C::Gather {
                data: 8,
                indices: 4096,
            }],
        ),
    ] {
        write(
            "model_shape",
            name,
            &harness::shape_case(&metadata, &constants),
        );
    }

    // Images: a small gradient in every format the decoder knows, and a bomb header.
    use image::{DynamicImage, ImageFormat};
    let rgb = image::RgbImage::from_fn(8, 6, |x, y| {
        image::Rgb([(x * 30) as u8, (y * 40) as u8, ((x + y) * 15) as u8])
    });
    let img = DynamicImage::ImageRgb8(rgb);
    let encoded = |image: &DynamicImage, format: ImageFormat| {
        let mut out = std::io::Cursor::new(Vec::new());
        image.write_to(&mut out, format).unwrap();
        let mut bytes = vec![0u8]; // limit choice: 1 MP
        bytes.extend(out.into_inner());
        bytes
    };
    let grey = DynamicImage::ImageLuma8(img.to_luma8());
    let rgba16 = DynamicImage::ImageRgba16(img.to_rgba16());
    let float = DynamicImage::ImageRgb32F(img.to_rgb32f());
    for (name, image, format) in [
        ("rgb.png", &img, ImageFormat::Png),
        ("grey.png", &grey, ImageFormat::Png),
        ("rgba16.png", &rgba16, ImageFormat::Png),
        ("rgb.jpg", &img, ImageFormat::Jpeg),
        ("grey.jpg", &grey, ImageFormat::Jpeg),
        ("rgb.tif", &img, ImageFormat::Tiff),
        ("rgba16.tif", &rgba16, ImageFormat::Tiff),
        ("grey.pgm", &grey, ImageFormat::Pnm),
        ("rgb.ppm", &img, ImageFormat::Pnm),
        ("rgb.bmp", &img, ImageFormat::Bmp),
        ("rgb.gif", &img, ImageFormat::Gif),
        ("rgb.webp", &img, ImageFormat::WebP),
        ("rgb.qoi", &img, ImageFormat::Qoi),
        ("rgb.tga", &img, ImageFormat::Tga),
        ("rgb.ico", &img, ImageFormat::Ico),
        ("rgba16.ff", &rgba16, ImageFormat::Farbfeld),
        ("float.hdr", &float, ImageFormat::Hdr),
        ("float.exr", &float, ImageFormat::OpenExr),
    ] {
        write("decode", name, &encoded(image, format));
    }
    let mut bomb = vec![0u8];
    bomb.extend(common::png_header_only(100_000, 100_000));
    write("decode", "bomb-100000x100000.png", &bomb);

    // The command's metadata path and output encoders: files carrying every block, in
    // each container, to several outputs; each encoder with each pixel layout.
    for (target, name, bytes) in harness::cli::seeds() {
        write(target, &name, &bytes);
    }
}

/// The C ABI's answer to each kind of bad call, printed as the rows of the C column of the
/// bad-input table in docs/reliability.md:
/// `scripts/cargo-suite.sh test --test fuzz_regressions c_abi -- --nocapture`.
#[test]
fn c_abi_bad_calls_get_these_statuses() {
    use harness::c;
    use std::ptr::{null, null_mut};
    let model_bytes = colorize::onnx::linear_test_model(0.5, -0.25);
    let mut model: *mut c::Model = null_mut();
    let status = unsafe {
        c::colorize_model_load_memory(model_bytes.as_ptr(), model_bytes.len(), &mut model)
    };
    assert_eq!(status, 0);
    let model = model as *const c::Model;
    let opts = |working_size: u32, saturation: f32, mode: u32, tile_size: u32| c::Options {
        working_size,
        saturation,
        mode,
        tile_size,
    };
    // colorize_l_channel_with_model on an 8x8 plane (or the given sizes) with a big enough ab.
    let l_call = |l: &[f32], w: usize, h: usize, stride: usize, options: Option<c::Options>| {
        let mut ab = vec![0f32; 256];
        let o = options.as_ref().map_or(null(), |o| o as *const c::Options);
        unsafe {
            c::colorize_l_channel_with_model(
                model,
                o,
                l.as_ptr(),
                w,
                h,
                stride,
                ab.as_mut_ptr(),
                2 * w,
            )
        }
    };
    let load = |bytes: *const u8, len: usize| {
        let mut out = null_mut();
        let status = unsafe { c::colorize_model_load_memory(bytes, len, &mut out) };
        assert!(out.is_null() || status == 0);
        status
    };
    let grey = vec![50f32; 64];
    let mut nan = grey.clone();
    nan[5] = f32::NAN;
    let mut bright = grey.clone();
    bright[9] = 150.0;
    let garbage: Vec<u8> = (0..1000u32).map(|i| (i * 7919 % 256) as u8).collect();
    let broken = common::broken_models().remove(0).1;
    let huge = vec![0u8; 300 << 20]; // calloc'd, never touched: refused before reading
    let default_expected = if colorize::default_model_name().is_some() {
        0
    } else {
        3
    };
    type Row<'a> = (&'static str, Box<dyn Fn() -> u32 + 'a>, u32);
    let rows: Vec<Row> = vec![
        (
            "model_load_memory(NULL, 10)",
            Box::new(|| load(null(), 10)),
            1,
        ),
        (
            "model of 0 bytes",
            Box::new(|| load(garbage.as_ptr(), 0)),
            4,
        ),
        (
            "1000 bytes of garbage as a model",
            Box::new(|| load(garbage.as_ptr(), garbage.len())),
            4,
        ),
        (
            "ONNX with 3 output channels",
            Box::new(|| load(broken.as_ptr(), broken.len())),
            5,
        ),
        (
            "model of 300 MiB (limit 256 MiB)",
            Box::new(|| load(huge.as_ptr(), huge.len())),
            8,
        ),
        (
            "model_load_named(\"no-such-model\")",
            Box::new(|| unsafe {
                c::colorize_model_load_named(c"no-such-model".as_ptr(), &mut null_mut())
            }),
            3,
        ),
        (
            "NULL model (default) in a build without one",
            Box::new(|| {
                let mut ab = [0f32; 32];
                unsafe {
                    c::colorize_l_channel_with_model(
                        null(),
                        null(),
                        grey.as_ptr(),
                        4,
                        4,
                        4,
                        ab.as_mut_ptr(),
                        8,
                    )
                }
            }),
            default_expected,
        ),
        ("width 0", Box::new(|| l_call(&grey, 0, 4, 4, None)), 2),
        (
            "stride shorter than a row",
            Box::new(|| l_call(&grey, 8, 4, 7, None)),
            2,
        ),
        (
            "width x stride overflows",
            Box::new(|| l_call(&grey, usize::MAX / 2, 3, usize::MAX / 2, None)),
            8,
        ),
        ("NaN in L*", Box::new(|| l_call(&nan, 8, 8, 8, None)), 2),
        ("L* = 150", Box::new(|| l_call(&bright, 8, 8, 8, None)), 2),
        (
            "options.mode = 7 (uninitialised)",
            Box::new(|| l_call(&grey, 8, 8, 8, Some(opts(0, 1.0, 7, 0)))),
            2,
        ),
        (
            "saturation NaN",
            Box::new(|| l_call(&grey, 8, 8, 8, Some(opts(0, f32::NAN, 0, 0)))),
            2,
        ),
        (
            "working size 9000",
            Box::new(|| l_call(&grey, 8, 8, 8, Some(opts(9000, 1.0, 0, 0)))),
            2,
        ),
        (
            "tile size 5",
            Box::new(|| l_call(&grey, 8, 8, 8, Some(opts(0, 1.0, 1, 5)))),
            2,
        ),
        (
            "l and ab buffers overlap",
            Box::new(|| {
                let mut both = vec![50f32; 64];
                let base = both.as_mut_ptr();
                unsafe {
                    c::colorize_l_channel_with_model(model, null(), base, 4, 4, 4, base.add(8), 8)
                }
            }),
            2,
        ),
        (
            "rgb8 with channels = 5",
            Box::new(|| {
                let mut rgb = vec![128u8; 400];
                unsafe { c::colorize_rgb8(model, null(), rgb.as_mut_ptr(), 8, 8, 40, 5) }
            }),
            2,
        ),
        (
            "rgb8 with pixels NULL",
            Box::new(|| unsafe { c::colorize_rgb8(model, null(), null_mut(), 8, 8, 24, 3) }),
            1,
        ),
        (
            "rgb_float with a NaN sample",
            Box::new(|| {
                let mut px = vec![0.5f32; 8 * 8 * 3];
                px[7] = f32::NAN;
                unsafe { c::colorize_rgb_float(model, null(), px.as_mut_ptr(), 8, 8, 24, 3, false) }
            }),
            2,
        ),
    ];
    println!("| C call | status | colorize_last_error() |");
    println!("|---|---|---|");
    let mut wrong = Vec::new();
    for (what, call, expected) in rows {
        let status = call();
        let name = unsafe { std::ffi::CStr::from_ptr(c::colorize_status_str(status)) };
        let message = unsafe { std::ffi::CStr::from_ptr(c::colorize_last_error()) };
        println!(
            "| {what} | {status} {} | {} |",
            name.to_string_lossy(),
            message.to_string_lossy()
        );
        if status != expected {
            wrong.push(format!("{what}: status {status}, expected {expected}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
    unsafe { c::colorize_model_free(model as *mut c::Model) };
    unsafe { c::colorize_model_free(null_mut()) };
}
