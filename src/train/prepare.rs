//! `colorize-train prepare`: the paper's resize script. Resizes every image of a folder
//! once (short side to `size`, centre crop to a square), mirroring the tree, so training
//! decodes small files. Skips outputs that exist; writes each through a temp file.

use std::path::Path;

use anyhow::{Context, Result};
use image::imageops::FilterType;
use rayon::prelude::*;

use super::data::{colourfulness, list_images};

pub struct PrepareReport {
    pub written: usize,
    pub skipped: usize,
    pub near_grey: usize,
}

pub fn prepare(src: &Path, dst: &Path, size: u32, min_colourfulness: f64) -> Result<PrepareReport> {
    let paths = list_images(src, None)?;
    std::fs::create_dir_all(dst).with_context(|| format!("cannot create {}", dst.display()))?;
    let results: Vec<Result<(bool, bool)>> = paths
        .par_iter()
        .map(|path| {
            let rel = path.strip_prefix(src).expect("listed under src");
            let out = dst.join(rel).with_extension("png");
            if out.exists() {
                return Ok((false, false));
            }
            let img = image::open(path)
                .with_context(|| format!("cannot decode {}", path.display()))?
                .to_rgb8();
            let (w, h) = img.dimensions();
            let scale = size as f64 / w.min(h) as f64;
            let (nw, nh) = (
                ((w as f64 * scale).round() as u32).max(size),
                ((h as f64 * scale).round() as u32).max(size),
            );
            let resized = image::imageops::resize(&img, nw, nh, FilterType::Lanczos3);
            let cropped =
                image::imageops::crop_imm(&resized, (nw - size) / 2, (nh - size) / 2, size, size)
                    .to_image();
            let grey = colourfulness(&cropped) < min_colourfulness;
            if let Some(parent) = out.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let png = colorize::io::encode(
                &image::DynamicImage::ImageRgb8(cropped),
                image::ImageFormat::Png,
            )?;
            colorize::io::write_atomic(&out, &png)
                .with_context(|| format!("cannot write {}", out.display()))?;
            Ok((true, grey))
        })
        .collect();
    let mut report = PrepareReport {
        written: 0,
        skipped: 0,
        near_grey: 0,
    };
    for r in results {
        let (written, grey) = r?;
        if written {
            report.written += 1;
        } else {
            report.skipped += 1;
        }
        if grey {
            report.near_grey += 1;
        }
    }
    Ok(report)
}
