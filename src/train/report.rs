//! What a training run leaves for its user to look at: `history.csv`, `loss.png` (train
//! and validation loss per epoch) and sample grids `samples-epoch-NNN.png` (grey input,
//! output, truth per row). All written to a temp file and renamed.

use std::path::Path;

use anyhow::{Context, Result};
use image::{imageops, Rgb, RgbImage};
use palette::{IntoColor, Lab, Srgb};
use plotters::prelude::*;
use tch::{Kind, Tensor};

use super::checkpoint::EpochRecord;
use super::net::AB_SCALE;

fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    colorize::io::write_atomic(path, bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

fn save_png(path: &Path, img: &RgbImage) -> Result<()> {
    let mut bytes = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut bytes),
        image::ImageFormat::Png,
    )?;
    atomic_write(path, &bytes)
}

pub fn write_csv(path: &Path, history: &[EpochRecord]) -> Result<()> {
    let mut text = String::from("epoch,train_loss,val_loss,val_l2,images,seconds,lr,batch_size\n");
    for r in history {
        text += &format!(
            "{},{:.6},{:.6},{:.6},{},{:.1},{},{}\n",
            r.epoch, r.train_loss, r.val_loss, r.val_l2, r.images, r.seconds, r.lr, r.batch_size
        );
    }
    atomic_write(path, text.as_bytes())
}

/// Registers DejaVu Sans for plot labels if the system has it; plots work without text otherwise.
fn font_available() -> bool {
    static FONT: once_cell::sync::OnceCell<bool> = once_cell::sync::OnceCell::new();
    *FONT.get_or_init(|| {
        let candidates = [
            "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
            "/usr/share/fonts/TTF/DejaVuSans.ttf",
        ];
        for c in candidates {
            if let Ok(bytes) = std::fs::read(c) {
                let leaked: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, leaked).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

pub fn plot_losses(path: &Path, history: &[EpochRecord]) -> Result<()> {
    let (w, h) = (800u32, 500u32);
    let mut buffer = vec![255u8; (w * h * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e}"))?;
        let max_epoch = history.iter().map(|r| r.epoch).max().unwrap_or(1).max(1) as f64;
        let max_loss = history
            .iter()
            .flat_map(|r| [r.train_loss, r.val_loss])
            .fold(1e-9, f64::max)
            * 1.1;
        let labels = font_available();
        let mut builder = ChartBuilder::on(&root);
        builder.margin(20);
        if labels {
            builder
                .caption("training and validation loss", ("sans-serif", 22))
                .x_label_area_size(40)
                .y_label_area_size(70);
        }
        let mut chart = builder
            .build_cartesian_2d(0.0..max_epoch, 0.0..max_loss)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if labels {
            chart
                .configure_mesh()
                .x_desc("epoch")
                .y_desc("loss")
                .draw()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let train: Vec<(f64, f64)> = history
            .iter()
            .map(|r| (r.epoch as f64, r.train_loss))
            .collect();
        let val: Vec<(f64, f64)> = history
            .iter()
            .map(|r| (r.epoch as f64, r.val_loss))
            .collect();
        let series = chart
            .draw_series(LineSeries::new(train, BLUE.stroke_width(2)))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if labels {
            series
                .label("train")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE));
        }
        let series = chart
            .draw_series(LineSeries::new(val, RED.stroke_width(2)))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        if labels {
            series
                .label("validation")
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED));
            chart
                .configure_series_labels()
                .background_style(WHITE)
                .border_style(BLACK)
                .draw()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        root.present().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    let img = RgbImage::from_raw(w, h, buffer).context("plot buffer")?;
    save_png(path, &img)
}

/// L* (1,H,W) and a*b*/AB_SCALE (2,H,W) planes -> sRGB image.
pub fn lab_to_image(l: &Tensor, ab: &Tensor) -> RgbImage {
    let (h, w) = (l.size()[1] as u32, l.size()[2] as u32);
    let lv = Vec::<f32>::try_from(&l.to_kind(Kind::Float).contiguous().flatten(0, -1))
        .unwrap_or_default();
    let abv = Vec::<f32>::try_from(&ab.to_kind(Kind::Float).contiguous().flatten(0, -1))
        .unwrap_or_default();
    let n = (w * h) as usize;
    RgbImage::from_fn(w, h, |x, y| {
        let i = (y * w + x) as usize;
        let lab = Lab::new(
            lv[i],
            abv[i] * AB_SCALE as f32,
            abv[n + i] * AB_SCALE as f32,
        );
        let rgb: Srgb = lab.into_color();
        let rgb: Srgb<u8> = rgb.into_format();
        Rgb([rgb.red, rgb.green, rgb.blue])
    })
}

/// Grid of (grey input | output | truth) rows. `predicted` may be at a lower resolution
/// than `l`; it is upsampled bilinearly as the engine would.
pub fn save_grid(path: &Path, l: &Tensor, predicted: &Tensor, truth: &Tensor) -> Result<()> {
    let (n, h, w) = (l.size()[0], l.size()[2], l.size()[3]);
    let up = predicted.upsample_bilinear2d([h, w], false, None, None);
    let zeros = truth.zeros_like();
    let mut grid = RgbImage::new((w * 3) as u32, (h * n) as u32);
    for i in 0..n {
        let tiles = [
            lab_to_image(&l.get(i), &zeros.get(i)),
            lab_to_image(&l.get(i), &up.get(i)),
            lab_to_image(&l.get(i), &truth.get(i)),
        ];
        for (col, tile) in tiles.iter().enumerate() {
            imageops::replace(&mut grid, tile, col as i64 * w, i * h);
        }
    }
    save_png(path, &grid)
}
