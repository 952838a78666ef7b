//! The fast colour paths equal the plain ones: grey images spread to RGB by the library,
//! the row-at-a-time upsampling and L*a*b* -> RGB of the pixel calls, and the 16-bit grey
//! table, against `colorize_l` plus the per-pixel conversions of `colorize::color`.

mod common;

use colorize::{color, Model, Options, Upsampling};

fn strided() -> Model {
    Model::from_bytes(&common::strided_model(4, 8, 1.3, -0.9), "strided").unwrap()
}

/// A grey pattern with edges and gradients (both upsamplings see structure).
fn grey(width: usize, height: usize) -> Vec<u8> {
    (0..height)
        .flat_map(|y| {
            (0..width).map(move |x| {
                let ramp = (x * 255 / width.max(1)) as u8;
                if (x / 9 + y / 7) % 3 == 0 {
                    ramp / 3
                } else {
                    ramp.saturating_add((y * 3) as u8 / 2)
                }
            })
        })
        .collect()
}

/// What the pixel calls must give: L* per pixel, `colorize_l`'s a*b* (computed with
/// `Chroma::row`), and the per-pixel `lab_to_srgb8`.
fn expected_rgb8(model: &Model, options: &Options, rgb: &[u8], w: usize, h: usize) -> Vec<u8> {
    let l: Vec<f32> = rgb
        .chunks_exact(3)
        .map(|p| color::srgb8_to_lightness([p[0], p[1], p[2]]))
        .collect();
    let mut ab = vec![0.0f32; 2 * w * h];
    colorize::colorize_l(model, options, &l, w, h, w, &mut ab, 2 * w).unwrap();
    l.iter()
        .zip(ab.chunks_exact(2))
        .flat_map(|(&l, ab)| color::lab_to_srgb8([l, ab[0], ab[1]]))
        .collect()
}

#[test]
fn grey_images_and_row_conversion_equal_the_per_pixel_path() {
    let model = strided();
    let (w, h) = (131, 77);
    let grey = grey(w, h);
    for upsampling in [Upsampling::Guided, Upsampling::Bilinear] {
        let options = Options {
            upsampling,
            saturation: 3.0,
            ..Default::default()
        };
        let rgb: Vec<u8> = grey.iter().flat_map(|&v| [v; 3]).collect();
        let expected = expected_rgb8(&model, &options, &rgb, w, h);
        assert!(
            expected.chunks_exact(3).any(|p| p[0] != p[2]),
            "the test needs colour"
        );
        let mut buffer = rgb.clone();
        colorize::colorize_rgb8(&model, &options, &mut buffer, w, h, 3 * w, 3).unwrap();
        assert!(buffer == expected, "{upsampling:?}: colorize_rgb8");
        // A Luma8 image goes through the library's own grey spreading.
        let image = image::DynamicImage::ImageLuma8(
            image::GrayImage::from_raw(w as u32, h as u32, grey.clone()).unwrap(),
        );
        let out = colorize::colorize_image(&model, &options, image).unwrap();
        assert!(
            out.as_rgb8().unwrap().as_raw() == &expected,
            "{upsampling:?}: Luma8 image"
        );
        // Grey with alpha: the same colours, alpha kept.
        let alpha: Vec<u8> = grey.iter().flat_map(|&v| [v, v ^ 0x5A]).collect();
        let image = image::DynamicImage::ImageLumaA8(
            image::GrayAlphaImage::from_raw(w as u32, h as u32, alpha.clone()).unwrap(),
        );
        let out = colorize::colorize_image(&model, &options, image).unwrap();
        let out = out.as_rgba8().unwrap().as_raw();
        for ((o, e), a) in out
            .chunks_exact(4)
            .zip(expected.chunks_exact(3))
            .zip(alpha.chunks_exact(2))
        {
            assert_eq!((&o[..3], o[3]), (e, a[1]));
        }
    }
}

/// 16-bit grey pixels take a table of L*; a Luma16 image is spread by the library; both
/// give what the RGB16 call gives on the same grey spread by hand, and the colours match
/// the 8-bit call's to within a 16-bit rounding of the same L*a*b*.
#[test]
fn sixteen_bit_grey_equals_the_rgb16_call() {
    let model = strided();
    let (w, h) = (67, 45);
    let grey16: Vec<u16> = grey(w, h).iter().map(|&v| u16::from(v) * 257 + 3).collect();
    let options = Options::default();
    let mut rgb16: Vec<u16> = grey16.iter().flat_map(|&v| [v; 3]).collect();
    colorize::colorize_rgb16(&model, &options, &mut rgb16, w, h, 3 * w, 3).unwrap();
    assert!(
        rgb16.chunks_exact(3).any(|p| p[0] != p[2]),
        "the test needs colour"
    );
    let image = image::DynamicImage::ImageLuma16(
        image::ImageBuffer::from_raw(w as u32, h as u32, grey16.clone()).unwrap(),
    );
    let out = colorize::colorize_image(&model, &options, image).unwrap();
    assert!(out.as_rgb16().unwrap().as_raw() == &rgb16);
    // And what L* per pixel, `colorize_l` and the per-pixel `lab_to_srgb16` give.
    let l: Vec<f32> = grey16
        .iter()
        .map(|&g| color::linear_to_lightness([color::srgb16_channel_to_linear(g); 3]))
        .collect();
    let mut ab = vec![0.0f32; 2 * w * h];
    colorize::colorize_l(&model, &options, &l, w, h, w, &mut ab, 2 * w).unwrap();
    let expected: Vec<u16> = l
        .iter()
        .zip(ab.chunks_exact(2))
        .flat_map(|(&l, ab)| color::lab_to_srgb16([l, ab[0], ab[1]]))
        .collect();
    assert!(rgb16 == expected, "rgb16 against the per-pixel path");
    // Every output keeps its input's L*.
    for (p, &g) in rgb16.chunks_exact(3).zip(&grey16) {
        let lab = color::srgb16_to_lab([p[0], p[1], p[2]]);
        let want = color::srgb16_to_lab([g; 3])[0];
        assert!(
            (lab[0] - want).abs() < 0.05,
            "{p:?}: L* {} vs {want}",
            lab[0]
        );
    }
}

/// Float buffers (sRGB-encoded and linear): the row forms of the transfer curves give what
/// the per-pixel conversions give, values outside 0..1 included.
#[test]
fn float_rows_equal_the_per_pixel_path() {
    let model = strided();
    let (w, h) = (53, 37);
    let rgb: Vec<f32> = (0..w * h * 3)
        .map(|i| ((i * 37 % 101) as f32 / 90.0) - 0.05)
        .collect();
    for linear in [false, true] {
        let decode = |v: f32| {
            let v = v.clamp(0.0, 1.0);
            if linear {
                v
            } else {
                color::srgb_channel_to_linear(v)
            }
        };
        let l: Vec<f32> = rgb
            .chunks_exact(3)
            .map(|p| color::linear_to_lightness([decode(p[0]), decode(p[1]), decode(p[2])]))
            .collect();
        let options = Options::default();
        let mut ab = vec![0.0f32; 2 * w * h];
        colorize::colorize_l(&model, &options, &l, w, h, w, &mut ab, 2 * w).unwrap();
        let expected: Vec<f32> = l
            .iter()
            .zip(ab.chunks_exact(2))
            .flat_map(|(&l, ab)| match linear {
                true => color::lab_to_linear([l, ab[0], ab[1]]),
                false => color::lab_to_srgb([l, ab[0], ab[1]]),
            })
            .collect();
        let mut buffer = rgb.clone();
        colorize::colorize_rgb_float(&model, &options, &mut buffer, w, h, 3 * w, 3, linear)
            .unwrap();
        assert!(
            buffer
                .iter()
                .zip(&expected)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "linear = {linear}"
        );
    }
}
