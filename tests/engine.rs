//! The safe Rust API and the engine (any size, both modes, strides, bit depths, limits,
//! threads) with small generated models whose output is a known function of L*.

mod common;

use colorize::contract::keys;
use colorize::{ErrorKind, Mode, Model, Options};

fn linear() -> Model {
    Model::from_bytes(&common::linear_model(0.5, -0.25), "linear").unwrap()
}

/// A smooth L* ramp with some structure, values within 0..100.
fn ramp(width: usize, height: usize) -> Vec<f32> {
    (0..height)
        .flat_map(|y| {
            (0..width).map(move |x| {
                let u = x as f32 / width.max(2) as f32;
                let v = y as f32 / height.max(2) as f32;
                (20.0 + 60.0 * u + 15.0 * (v * 6.0).sin()).clamp(0.0, 100.0)
            })
        })
        .collect()
}

fn run(model: &Model, options: &Options, l: &[f32], w: usize, h: usize) -> Vec<f32> {
    let mut ab = vec![f32::NAN; 2 * w * h];
    colorize::colorize_l(model, options, l, w, h, w, &mut ab, 2 * w).unwrap();
    ab
}

#[test]
fn any_size_gives_a_full_size_finite_result() {
    let model = linear();
    for (w, h) in [(1, 1), (3, 1000), (1000, 3), (257, 129), (2, 2), (1, 7)] {
        for mode in [Mode::Working, Mode::Native] {
            let options = Options {
                mode,
                tile_size: 64,
                ..Default::default()
            };
            let ab = run(&model, &options, &ramp(w, h), w, h);
            assert!(ab.iter().all(|v| v.is_finite()), "{w}x{h} {mode:?}");
        }
    }
}

#[test]
fn constant_image_gets_the_models_exact_colour() {
    let model = linear();
    let (w, h) = (123, 77);
    let l = vec![70.0f32; w * h];
    for mode in [Mode::Working, Mode::Native] {
        let ab = run(
            &model,
            &Options {
                mode,
                tile_size: 32,
                ..Default::default()
            },
            &l,
            w,
            h,
        );
        for pair in ab.chunks_exact(2) {
            assert!(
                (pair[0] - 10.0).abs() < 1e-3 && (pair[1] + 5.0).abs() < 1e-3,
                "{mode:?}: {pair:?}"
            );
        }
    }
}

#[test]
fn native_tiles_blend_to_the_per_pixel_function() {
    // A per-pixel model run natively must give a = g (L - 50) everywhere, including the
    // overlaps between tiles and the edges, up to the f16 the blended a*b* is kept in (half
    // an ulp is |v| / 2048; a wrong blend is off by a share of the value, not by that).
    let model = linear();
    let (w, h) = (300, 170);
    let l = ramp(w, h);
    let ab = run(
        &model,
        &Options {
            mode: Mode::Native,
            tile_size: 64,
            ..Default::default()
        },
        &l,
        w,
        h,
    );
    for (i, pair) in ab.chunks_exact(2).enumerate() {
        let expected = [0.5 * (l[i] - 50.0), -0.25 * (l[i] - 50.0)];
        let close = |got: f32, want: f32| (got - want).abs() <= 1e-3 + want.abs() / 1024.0;
        assert!(
            close(pair[0], expected[0]) && close(pair[1], expected[1]),
            "pixel {i}: {pair:?}, expected {expected:?}"
        );
    }
}

#[test]
fn strided_model_is_upsampled_smoothly() {
    let model = Model::from_bytes(&common::strided_model(4, 8, 1.0, 1.0), "strided").unwrap();
    assert_eq!(model.contract().stride, 4);
    let (w, h) = (200, 50);
    let l = ramp(w, h);
    for mode in [Mode::Working, Mode::Native] {
        // Tiles of 64 x 50: not square, so a width/height mix-up shows.
        let ab = run(
            &model,
            &Options {
                mode,
                working_size: 50,
                tile_size: 64,
                ..Default::default()
            },
            &l,
            w,
            h,
        );
        // Block means of a smooth ramp, bilinearly upsampled, stay close to the ramp.
        let mean_error: f32 = ab
            .chunks_exact(2)
            .zip(&l)
            .map(|(p, &l)| (p[0] - (l - 50.0)).abs())
            .sum::<f32>()
            / (w * h) as f32;
        assert!(mean_error < 2.0, "{mode:?}: mean |error| {mean_error}");
    }
}

#[test]
fn fixed_input_size_models_run_on_any_size() {
    let model = Model::from_bytes(&common::fixed_size_model(32, 1.0, 0.0), "fixed").unwrap();
    assert_eq!(model.contract().input_size, Some(32));
    for (w, h) in [(1, 1), (100, 40), (33, 31)] {
        for mode in [Mode::Working, Mode::Native] {
            let ab = run(
                &model,
                &Options {
                    mode,
                    ..Default::default()
                },
                &vec![60.0; w * h],
                w,
                h,
            );
            assert!(
                ab.chunks_exact(2).all(|p| (p[0] - 10.0).abs() < 1e-3),
                "{w}x{h}"
            );
        }
    }
}

#[test]
fn strides_with_garbage_padding_give_the_same_result_and_keep_padding() {
    let model = Model::from_bytes(&common::spatial_model(), "spatial").unwrap();
    let (w, h, l_stride, ab_stride) = (37, 23, 41, 2 * 37 + 5);
    let compact = ramp(w, h);
    let expected = run(&model, &Options::default(), &compact, w, h);
    let mut l = vec![f32::NAN; (h - 1) * l_stride + w];
    for y in 0..h {
        l[y * l_stride..y * l_stride + w].copy_from_slice(&compact[y * w..(y + 1) * w]);
    }
    let mut ab = vec![-12345.0f32; (h - 1) * ab_stride + 2 * w];
    colorize::colorize_l(
        &model,
        &Options::default(),
        &l,
        w,
        h,
        l_stride,
        &mut ab,
        ab_stride,
    )
    .unwrap();
    for y in 0..h {
        assert_eq!(
            &ab[y * ab_stride..y * ab_stride + 2 * w],
            &expected[2 * w * y..2 * w * (y + 1)]
        );
        if y + 1 < h {
            assert!(ab[y * ab_stride + 2 * w..(y + 1) * ab_stride]
                .iter()
                .all(|&v| v == -12345.0));
        }
    }
}

#[test]
fn rgb8_keeps_lightness_and_alpha() {
    let model = Model::from_bytes(&common::spatial_model(), "spatial").unwrap();
    let (w, h) = (64, 48);
    let mut rgba: Vec<u8> = (0..w * h)
        .flat_map(|i| {
            let v = (i * 7 % 256) as u8;
            [v, v, v, (i % 251) as u8]
        })
        .collect();
    let before = rgba.clone();
    colorize::colorize_rgb8(&model, &Options::default(), &mut rgba, w, h, w * 4, 4).unwrap();
    let mut total = 0.0;
    let mut coloured = 0;
    for (new, old) in rgba.chunks_exact(4).zip(before.chunks_exact(4)) {
        assert_eq!(new[3], old[3], "alpha untouched");
        let l_new = colorize::color::srgb8_to_lab([new[0], new[1], new[2]])[0];
        let l_old = colorize::color::srgb8_to_lab([old[0], old[1], old[2]])[0];
        total += (l_new - l_old).abs();
        coloured += usize::from(new[0] != new[1] || new[1] != new[2]);
    }
    let mean = total / (w * h) as f32;
    assert!(mean < 0.5, "mean |dL*| = {mean}");
    assert!(
        coloured > w * h / 2,
        "the model's colour reached the pixels ({coloured})"
    );
}

#[test]
fn rgb16_and_float_keep_lightness() {
    let model = linear();
    let (w, h) = (40, 30);
    let mut rgb16: Vec<u16> = (0..w * h * 3)
        .map(|i| ((i / 3) * 50 % 65536) as u16)
        .collect();
    let before16 = rgb16.clone();
    colorize::colorize_rgb16(&model, &Options::default(), &mut rgb16, w, h, w * 3, 3).unwrap();
    let mut floats: Vec<f32> = (0..w * h * 4)
        .map(|i| {
            if i % 4 == 3 {
                0.5
            } else {
                ((i / 4) % 97) as f32 / 96.0
            }
        })
        .collect();
    let before_f = floats.clone();
    for linear in [false, true] {
        let mut px = before_f.clone();
        colorize::colorize_rgb_float(&model, &Options::default(), &mut px, w, h, w * 4, 4, linear)
            .unwrap();
        let to_l = |p: &[f32]| {
            let rgb = [p[0], p[1], p[2]];
            if linear {
                colorize::color::linear_to_lab(rgb)[0]
            } else {
                colorize::color::srgb_to_lab(rgb)[0]
            }
        };
        let mean: f32 = px
            .chunks_exact(4)
            .zip(before_f.chunks_exact(4))
            .map(|(a, b)| (to_l(a) - to_l(b)).abs())
            .sum::<f32>()
            / (w * h) as f32;
        assert!(mean < 0.05, "float linear={linear}: mean |dL*| {mean}");
        assert!(px.chunks_exact(4).all(|p| p[3] == 0.5));
        floats = px;
    }
    assert!(floats.iter().all(|v| v.is_finite()));
    let mean16: f32 = rgb16
        .chunks_exact(3)
        .zip(before16.chunks_exact(3))
        .map(|(a, b)| {
            (colorize::color::srgb16_to_lab([a[0], a[1], a[2]])[0]
                - colorize::color::srgb16_to_lab([b[0], b[1], b[2]])[0])
                .abs()
        })
        .sum::<f32>()
        / (w * h) as f32;
    assert!(mean16 < 0.05, "16-bit mean |dL*| {mean16}");
}

#[test]
fn large_image_in_both_modes() {
    let model = Model::from_bytes(&common::strided_model(2, 2, 1.0, 0.5), "strided").unwrap();
    let (w, h) = (4000, 3000);
    let mut rgb = vec![0u8; w * h * 3];
    for (i, px) in rgb.chunks_exact_mut(3).enumerate() {
        let v = ((i % w) * 255 / w) as u8;
        px.fill(v);
    }
    let start = std::time::Instant::now();
    colorize::colorize_rgb8(&model, &Options::default(), &mut rgb, w, h, w * 3, 3).unwrap();
    eprintln!(
        "4000x3000 rgb8, working mode: {:.2} s",
        start.elapsed().as_secs_f64()
    );
    assert!(rgb.chunks_exact(3).any(|p| p[0] != p[2]));
    let l = vec![55.0f32; 1500 * 1100];
    let ab = run(
        &model,
        &Options {
            mode: Mode::Native,
            ..Default::default()
        },
        &l,
        1500,
        1100,
    );
    assert!(ab.chunks_exact(2).all(|p| (p[0] - 5.0).abs() < 1e-3));
}

#[test]
fn bad_buffers_and_values_are_clear_errors_and_write_nothing() {
    let model = linear();
    let opts = Options::default();
    let l = vec![50.0f32; 16];
    let mut ab = vec![7.0f32; 32];
    let check = |result: colorize::Result<()>, kind: ErrorKind, phrase: &str| {
        let e = result.unwrap_err();
        assert_eq!(e.kind(), kind, "{e}");
        assert!(e.to_string().contains(phrase), "'{e}' lacks '{phrase}'");
    };
    check(
        colorize::colorize_l(&model, &opts, &l, 0, 4, 4, &mut ab, 8),
        ErrorKind::InvalidArgument,
        "at least 1",
    );
    check(
        colorize::colorize_l(&model, &opts, &l, 4, 0, 4, &mut ab, 8),
        ErrorKind::InvalidArgument,
        "at least 1",
    );
    check(
        colorize::colorize_l(&model, &opts, &l, 4, 4, 3, &mut ab, 8),
        ErrorKind::InvalidArgument,
        "stride 3",
    );
    check(
        colorize::colorize_l(&model, &opts, &l, 4, 4, 4, &mut ab, 7),
        ErrorKind::InvalidArgument,
        "stride 7",
    );
    check(
        colorize::colorize_l(&model, &opts, &l, 4, 5, 4, &mut ab, 8),
        ErrorKind::InvalidArgument,
        "needs",
    );
    check(
        colorize::colorize_l(
            &model,
            &opts,
            &l,
            usize::MAX,
            2,
            usize::MAX,
            &mut ab,
            usize::MAX,
        ),
        ErrorKind::TooLarge,
        "overflow",
    );
    let mut nan = l.clone();
    nan[5] = f32::NAN;
    check(
        colorize::colorize_l(&model, &opts, &nan, 4, 4, 4, &mut ab, 8),
        ErrorKind::InvalidArgument,
        "(1, 1) is NaN",
    );
    let mut high = l.clone();
    high[3] = 150.0;
    check(
        colorize::colorize_l(&model, &opts, &high, 4, 4, 4, &mut ab, 8),
        ErrorKind::InvalidArgument,
        "0 to 100",
    );
    let bad_sat = Options {
        saturation: f32::NAN,
        ..opts
    };
    check(
        colorize::colorize_l(&model, &bad_sat, &l, 4, 4, 4, &mut ab, 8),
        ErrorKind::InvalidArgument,
        "saturation",
    );
    let bad_tile = Options {
        tile_size: 3,
        mode: Mode::Native,
        ..opts
    };
    check(
        colorize::colorize_l(&model, &bad_tile, &l, 4, 4, 4, &mut ab, 8),
        ErrorKind::InvalidArgument,
        "tile size",
    );
    assert!(ab.iter().all(|&v| v == 7.0), "outputs untouched on failure");
    let mut rgb = vec![9u8; 4 * 4 * 3];
    check(
        colorize::colorize_rgb8(&model, &opts, &mut rgb, 4, 4, 12, 2),
        ErrorKind::InvalidArgument,
        "channels",
    );
    check(
        colorize::colorize_rgb8(&model, &opts, &mut rgb, 4, 4, 11, 3),
        ErrorKind::InvalidArgument,
        "stride",
    );
    let mut float_px = vec![0.5f32; 4 * 4 * 3];
    float_px[7] = f32::NAN;
    check(
        colorize::colorize_rgb_float(&model, &opts, &mut float_px, 4, 4, 12, 3, false),
        ErrorKind::InvalidArgument,
        "NaN",
    );
    assert!(rgb.iter().all(|&v| v == 9));
    assert!(float_px
        .iter()
        .enumerate()
        .all(|(i, v)| i == 7 || *v == 0.5));
}

#[test]
fn saturation_scales_and_zero_keeps_grey() {
    let model = linear();
    let l = vec![80.0f32; 6];
    let ab2 = run(
        &model,
        &Options {
            saturation: 2.0,
            ..Default::default()
        },
        &l,
        3,
        2,
    );
    assert!((ab2[0] - 30.0).abs() < 1e-3);
    let mut rgb = vec![200u8; 18];
    colorize::colorize_rgb8(
        &model,
        &Options {
            saturation: 0.0,
            ..Default::default()
        },
        &mut rgb,
        3,
        2,
        9,
        3,
    )
    .unwrap();
    assert!(rgb.iter().all(|&v| v == 200));
}

#[test]
fn broken_and_corrupt_models_are_refused_with_clear_messages() {
    for (what, bytes, phrase) in common::broken_models() {
        let e = Model::from_bytes(&bytes, what).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ModelContract, "{what}: {e}");
        assert!(
            e.to_string().contains(phrase),
            "{what}: '{e}' lacks '{phrase}'"
        );
    }
    let good = common::linear_model(1.0, 1.0);
    let truncated = Model::from_bytes(&good[..good.len() / 2], "truncated").unwrap_err();
    assert!(
        matches!(
            truncated.kind(),
            ErrorKind::ModelLoad | ErrorKind::ModelContract
        ),
        "{truncated}"
    );
    assert_eq!(
        Model::from_bytes(b"", "empty").unwrap_err().kind(),
        ErrorKind::ModelLoad
    );
    assert_eq!(
        Model::from_bytes(b"\x89PNG\r\n\x1a\n garbage", "png")
            .unwrap_err()
            .kind(),
        ErrorKind::ModelLoad
    );
    assert_eq!(
        Model::from_file("/nonexistent/model.onnx")
            .unwrap_err()
            .kind(),
        ErrorKind::ModelLoad
    );
}

#[test]
fn names_and_default_model() {
    let e = Model::from_name("no-such-model").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NoModel);
    assert!(
        e.to_string().contains("unknown model name 'no-such-model'"),
        "{e}"
    );
    match colorize::default_model_name() {
        None => {
            let e = Model::default_model().unwrap_err();
            assert_eq!(e.kind(), ErrorKind::NoModel);
            assert!(e.to_string().contains("no embedded default model"), "{e}");
        }
        Some(name) => {
            assert!(colorize::available_models().contains(&name));
            let model = Model::default_model().unwrap();
            assert_eq!(model.metadata(keys::FORMAT), Some("1"));
        }
    }
    for name in colorize::available_models() {
        Model::from_name(name).unwrap_or_else(|e| panic!("embedded model {name}: {e}"));
    }
}

#[test]
fn metadata_is_readable() {
    let model = linear();
    assert_eq!(model.metadata(keys::LOSS), Some("none"));
    assert_eq!(model.metadata("no.such.key"), None);
    assert!(model
        .metadata_entries()
        .any(|(k, v)| k == keys::TRAIN_SIZE && v == "64"));
    assert_eq!(model.contract().train_size, 64);
}

/// A model handle is shared by threads (the C API promises it): 8 threads x 200 calls on
/// one handle equal the serial results.
#[test]
fn eight_threads_times_200_calls_equal_serial() {
    let model = Model::from_bytes(&common::spatial_model(), "spatial").unwrap();
    let sizes = [(31usize, 17usize), (64, 48), (20, 45), (9, 9)];
    let inputs: Vec<Vec<f32>> = sizes.iter().map(|&(w, h)| ramp(w, h)).collect();
    let options = [
        Options::default(),
        Options {
            mode: Mode::Native,
            tile_size: 16,
            ..Default::default()
        },
    ];
    let serial: Vec<Vec<Vec<f32>>> = options
        .iter()
        .map(|o| {
            sizes
                .iter()
                .zip(&inputs)
                .map(|(&(w, h), l)| run(&model, o, l, w, h))
                .collect()
        })
        .collect();
    std::thread::scope(|scope| {
        for t in 0..8 {
            let (model, inputs, serial, options) = (model.clone(), &inputs, &serial, &options);
            scope.spawn(move || {
                for call in 0..200 {
                    let k = (t + call) % sizes.len();
                    let o = (t + call / 3) % options.len();
                    let (w, h) = sizes[k];
                    let ab = run(&model, &options[o], &inputs[k], w, h);
                    assert!(
                        ab == serial[o][k],
                        "thread {t} call {call} differs from serial"
                    );
                }
            });
        }
    });
}

/// Limits are API, so a host can bound memory on untrusted files: a PNG header claiming
/// 100000 x 100000 pixels is refused before any pixel memory is allocated; the pixel limit
/// and model size cap are settable.
#[test]
fn decode_limits_refuse_bombs_before_allocating() {
    let bomb = common::png_header_only(100_000, 100_000);
    let start = std::time::Instant::now();
    let e = colorize::io::decode_bytes(&bomb, &colorize::io::Limits::default()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge, "{e}");
    assert!(start.elapsed().as_secs_f64() < 1.0);

    let mut png = Vec::new();
    image::DynamicImage::new_luma8(100, 100)
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let small = colorize::io::Limits {
        max_pixels: 5000,
        ..Default::default()
    };
    let e = colorize::io::decode_bytes(&png, &small).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge);
    assert!(e.to_string().contains("100x100"), "{e}");
    assert!(colorize::io::decode_bytes(&png, &colorize::io::Limits::default()).is_ok());

    let (_dir, path) = common::temp_file("m.onnx", &common::linear_model(1.0, 1.0));
    let e = Model::from_file_with_limit(&path, 10).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge, "{e}");
    assert!(Model::from_file(&path).is_ok());
    let e = colorize::io::read_stream(
        &[0u8; 100][..],
        &colorize::io::Limits {
            max_input_bytes: 50,
            ..Default::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TooLarge);
}

#[test]
fn exif_orientation_is_applied() {
    // A 2x1 JPEG with EXIF orientation 6 (rotate 90 cw) decodes as 1x2.
    let mut jpeg = Vec::new();
    image::DynamicImage::new_luma8(16, 8)
        .write_to(
            &mut std::io::Cursor::new(&mut jpeg),
            image::ImageFormat::Jpeg,
        )
        .unwrap();
    let exif: Vec<u8> = [
        b"Exif\0\0".as_slice(),
        b"MM\0\x2a\0\0\0\x08", // big-endian TIFF header, IFD at 8
        b"\0\x01",             // one entry
        b"\x01\x12\0\x03\0\0\0\x01\0\x06\0\0", // Orientation, SHORT, 1, value 6
        b"\0\0\0\0",           // no next IFD
    ]
    .concat();
    let mut with_exif = jpeg[..2].to_vec();
    with_exif.extend_from_slice(&[0xFF, 0xE1]);
    with_exif.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    with_exif.extend_from_slice(&exif);
    with_exif.extend_from_slice(&jpeg[2..]);
    let image = colorize::io::decode_bytes(&with_exif, &colorize::io::Limits::default()).unwrap();
    assert_eq!((image.width(), image.height()), (8, 16));
}

#[test]
fn guided_upsampling_keeps_colour_edges_sharp() {
    // A vertical edge not on a block boundary; the model predicts a* = L* - 50 from 4x4
    // block means, i.e. blurred at the edge. Guided by the full-resolution L*, upsampling
    // puts the edge back where L* has it; bilinear leaves it smeared over blocks.
    let model = Model::from_bytes(&common::strided_model(4, 4, 1.0, 0.0), "strided").unwrap();
    let (w, h) = (200, 64);
    let l: Vec<f32> = (0..w * h)
        .map(|i| if i % w < 101 { 30.0 } else { 70.0 })
        .collect();
    let error_near_edge = |upsampling| {
        let options = Options {
            working_size: h as u32,
            upsampling,
            ..Default::default()
        };
        let ab = run(&model, &options, &l, w, h);
        let mut total = 0.0;
        for y in 0..h {
            for x in 90..112 {
                total += (ab[2 * (y * w + x)] - (l[y * w + x] - 50.0)).abs();
            }
        }
        total / (h * 22) as f32
    };
    let (guided, bilinear) = (
        error_near_edge(colorize::Upsampling::Guided),
        error_near_edge(colorize::Upsampling::Bilinear),
    );
    eprintln!("mean |a* error| near the edge: guided {guided:.2}, bilinear {bilinear:.2}");
    assert!(
        bilinear > 2.0,
        "the test needs a blurred prediction ({bilinear})"
    );
    assert!(
        guided < bilinear / 2.0,
        "guided {guided} vs bilinear {bilinear}"
    );
}
