//! Synthetic inputs for the benchmark: an L* plane for the network, and grey JPEG
//! photographs of a given size for the end-to-end and memory runs.
//!
//! Why synthetic: the benchmark must run on a clean clone without data. The content is
//! smooth shading plus fine texture, so that JPEG decoding and encoding cost what they
//! cost on a real photograph (flat grey would decode and encode unrealistically fast).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// A small deterministic generator (xorshift64*), so every run sees the same pixels.
struct Noise(u64);

impl Noise {
    fn next_unit(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40) as f32) / (1u64 << 24) as f32
    }
}

/// Lightness 0..1 of a photograph-like scene at (x, y) of a w x h image: a sky gradient,
/// rolling hills, and texture.
fn scene(x: usize, y: usize, w: usize, h: usize, noise: &mut Noise) -> f32 {
    let (u, v) = (x as f32 / w as f32, y as f32 / h as f32);
    let horizon = 0.45 + 0.08 * (u * 9.0).sin() + 0.04 * (u * 23.0).cos();
    let base = if v < horizon {
        0.85 - 0.4 * v
    } else {
        0.35 + 0.15 * ((u * 40.0 + v * 30.0).sin() * (v * 55.0).cos())
    };
    (base + 0.06 * (noise.next_unit() - 0.5)).clamp(0.0, 1.0)
}

/// A w x h L* plane (0..100), row-major.
pub fn lightness_plane(w: usize, h: usize) -> Vec<f32> {
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut out = Vec::with_capacity(w * h);
    for y in 0..h {
        for x in 0..w {
            out.push(100.0 * scene(x, y, w, h, &mut noise));
        }
    }
    out
}

/// Path of a grey JPEG of w x h in `dir`, written (quality 90) if it is not there yet.
pub fn grey_jpeg(dir: &Path, w: u32, h: u32) -> Result<PathBuf> {
    let path = dir.join(format!("grey-{w}x{h}.jpg"));
    if path.is_file() {
        return Ok(path);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut noise = Noise(0x1234_5678_9abc_def1);
    let (wu, hu) = (w as usize, h as usize);
    let image = image::GrayImage::from_fn(w, h, |x, y| {
        image::Luma([(255.0 * scene(x as usize, y as usize, wu, hu, &mut noise)).round() as u8])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode_image(&image)
        .context("encoding the synthetic JPEG")?;
    colorize::io::write_atomic(&path, &jpeg)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
