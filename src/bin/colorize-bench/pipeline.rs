//! (b) End to end on a grey JPEG: the `colorize` CLI's wall time (a fresh process each
//! time: model load and plan optimisation included), and the same work in-process split
//! into stages, each timed warm (median of a few runs):
//!
//! decode | colour in (RGB -> L*) | network | resize + upsampling | colour out (L*a*b* ->
//! sRGB) | encode.
//!
//! The split calls the same public functions the CLI reaches (`io::decode_file`,
//! `colour::*`, `colorize_l`, `Model::run_plane`, `io::encode`). "network" is
//! `run_plane` at the padded working shape; "resize + upsampling" is `colorize_l` (which
//! resizes L*, pads, runs the network and writes full-resolution a*b*) minus it.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use rayon::prelude::*;
use serde::Serialize;

use colorize::{color, io, Model, Options};

#[derive(Serialize, Clone, Debug, Default)]
pub struct Stages {
    pub width: usize,
    pub height: usize,
    pub working_shape: (usize, usize),
    pub decode_s: f64,
    pub colour_in_s: f64,
    /// The same L* through a 256-entry table when R = G = B (a grey photo), for the
    /// LUT lever of PERF_NOTES.md; the values are checked equal to the per-pixel ones.
    pub colour_in_grey_lut_s: f64,
    pub network_s: f64,
    pub resize_upsample_s: f64,
    pub colour_out_s: f64,
    pub encode_s: f64,
    /// Sum of the stages above (warm, in-process).
    pub total_s: f64,
    /// Loading the model file and optimising the plan for the working shape (once per process).
    pub model_load_s: f64,
    /// Median wall time of `colorize IN -o OUT.jpg` processes.
    pub cli_wall_s: f64,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, f64)> {
    let start = Instant::now();
    let value = f()?;
    Ok((value, start.elapsed().as_secs_f64()))
}

/// The padded shape the engine's working mode runs the network at (engine.rs `working`:
/// short side to the train size, long side capped at 4x, padded to buckets of 32 and the
/// model's multiple). Replicated here only to time the network alone at that shape.
fn working_shape(model: &Model, w: usize, h: usize) -> (usize, usize) {
    let c = model.contract();
    if let Some(s) = c.input_size {
        return (s, s);
    }
    let size = c.train_size as f64;
    let (short, long) = (w.min(h) as f64, w.max(h) as f64);
    let mut scale = size / short;
    if long * scale > size * 4.0 {
        scale = size * 4.0 / long;
    }
    let dim = |n: usize| ((n as f64 * scale).round() as usize).max(1);
    let gcd = |mut a: usize, mut b: usize| {
        while b != 0 {
            (a, b) = (b, a % b);
        }
        a
    };
    let bucket = c.pad_multiple / gcd(c.pad_multiple, 32) * 32;
    let up = |n: usize| n.div_ceil(bucket) * bucket;
    (up(dim(w)), up(dim(h)))
}

pub fn run(
    model_path: &Path,
    input: &Path,
    out_dir: &Path,
    cli: &Path,
    repeats: usize,
) -> Result<Stages> {
    let (model, model_load_s) = timed(|| Ok(Model::from_file(model_path)?))?;
    let options = Options::default();
    let limits = io::Limits::default();
    let mut runs: Vec<Stages> = Vec::new();
    let mut first_predict = None;
    for _ in 0..repeats {
        let mut s = Stages::default();
        let (image, t) = timed(|| Ok(io::decode_file(input, &limits)?))?;
        s.decode_s = t;
        let (w, h) = (image.width() as usize, image.height() as usize);
        (s.width, s.height) = (w, h);
        let ((mut rgb, l), t) = timed(|| {
            let rgb = image.into_rgb8();
            let mut l = vec![0.0f32; w * h];
            l.par_chunks_mut(w)
                .zip(rgb.par_chunks(3 * w))
                .for_each(|(l_row, px)| {
                    for (o, p) in l_row.iter_mut().zip(px.chunks_exact(3)) {
                        *o = color::linear_to_lightness(color::srgb8_to_linear([p[0], p[1], p[2]]));
                    }
                });
            Ok((rgb, l))
        })?;
        s.colour_in_s = t;
        let (l_lut, t) = timed(|| {
            let table: Vec<f32> = (0..=255u8)
                .map(|v| color::linear_to_lightness(color::srgb8_to_linear([v, v, v])))
                .collect();
            let mut out = vec![0.0f32; w * h];
            out.par_chunks_mut(w)
                .zip(rgb.par_chunks(3 * w))
                .for_each(|(l_row, px)| {
                    for (o, p) in l_row.iter_mut().zip(px.chunks_exact(3)) {
                        *o = if p[0] == p[1] && p[1] == p[2] {
                            table[usize::from(p[0])]
                        } else {
                            color::linear_to_lightness(color::srgb8_to_linear([p[0], p[1], p[2]]))
                        };
                    }
                });
            Ok(out)
        })?;
        if l_lut != l {
            bail!("the grey L* table disagrees with the per-pixel conversion");
        }
        s.colour_in_grey_lut_s = t;
        let mut ab = vec![0.0f32; 2 * w * h];
        let ((), predict_s) = timed(|| {
            Ok(colorize::colorize_l(
                &model,
                &options,
                &l,
                w,
                h,
                w,
                &mut ab,
                2 * w,
            )?)
        })?;
        if first_predict.is_none() {
            first_predict = Some(predict_s);
            // The first call also optimised the plan: count that as model loading.
        }
        s.working_shape = working_shape(&model, w, h);
        let (pw, ph) = s.working_shape;
        let plane = vec![50.0f32; pw * ph];
        let (_, t) = timed(|| {
            Ok(model.run_plane(plane, pw, ph, colorize::Options::default().precision, 0.0)?)
        })?;
        s.network_s = t;
        // Re-time the whole prediction warm, so the plan build is not in the split.
        let ((), predict_s) = timed(|| {
            Ok(colorize::colorize_l(
                &model,
                &options,
                &l,
                w,
                h,
                w,
                &mut ab,
                2 * w,
            )?)
        })?;
        s.resize_upsample_s = (predict_s - s.network_s).max(0.0);
        let ((), t) = timed(|| {
            rgb.par_chunks_mut(3 * w)
                .zip(l.par_chunks(w))
                .zip(ab.par_chunks(2 * w))
                .for_each(|((px, l_row), ab_row)| {
                    for ((p, &lightness), pair) in px
                        .chunks_exact_mut(3)
                        .zip(l_row)
                        .zip(ab_row.chunks_exact(2))
                    {
                        p.copy_from_slice(&color::lab_to_srgb8([lightness, pair[0], pair[1]]));
                    }
                });
            Ok(())
        })?;
        s.colour_out_s = t;
        let out = image::DynamicImage::ImageRgb8(rgb);
        let (bytes, t) = timed(|| Ok(io::encode(&out, image::ImageFormat::Jpeg)?))?;
        s.encode_s = t;
        if bytes.is_empty() {
            bail!("the JPEG encoder produced no bytes");
        }
        runs.push(s);
    }
    let pick = |f: fn(&Stages) -> f64| median(runs.iter().map(f).collect());
    let mut result = runs[0].clone();
    result.decode_s = pick(|s| s.decode_s);
    result.colour_in_s = pick(|s| s.colour_in_s);
    result.colour_in_grey_lut_s = pick(|s| s.colour_in_grey_lut_s);
    result.network_s = pick(|s| s.network_s);
    result.resize_upsample_s = pick(|s| s.resize_upsample_s);
    result.colour_out_s = pick(|s| s.colour_out_s);
    result.encode_s = pick(|s| s.encode_s);
    result.total_s = result.decode_s
        + result.colour_in_s
        + result.network_s
        + result.resize_upsample_s
        + result.colour_out_s
        + result.encode_s;
    // Model load as a fresh process sees it: parse + contract check + the first prediction's
    // extra cost over a warm one (the plan optimisation for the working shape).
    let warm_predict = result.network_s + result.resize_upsample_s;
    result.model_load_s = model_load_s + (first_predict.unwrap_or(0.0) - warm_predict).max(0.0);

    let mut walls = Vec::new();
    for i in 0..repeats {
        let output = out_dir.join(format!("e2e-out-{i}.jpg"));
        let start = Instant::now();
        let status = Command::new(cli)
            .arg(input)
            .arg("-o")
            .arg(&output)
            .arg("-m")
            .arg(model_path)
            .arg("-q")
            .stdout(std::process::Stdio::null())
            .status()
            .with_context(|| format!("running {}", cli.display()))?;
        walls.push(start.elapsed().as_secs_f64());
        if !status.success() {
            bail!("{} failed: {status}", cli.display());
        }
        let _ = std::fs::remove_file(&output);
    }
    result.cli_wall_s = median(walls);
    Ok(result)
}
