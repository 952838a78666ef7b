//! Runs a model on an L* plane of any size and returns its a*b* at full resolution.
//! It knows nothing of pixel formats: `colorize_l` and the RGB helpers in `pixels.rs` are
//! its clients.
//!
//! * Working mode (default): L* is resized so its short side is near the working size,
//!   reflect-padded to a multiple of the model's `pad_multiple` (rounded up to a bucket of
//!   32 pixels, so images of similar shapes share one optimized plan), run once, and the
//!   low-resolution a*b* is sampled bilinearly at every full-resolution pixel on demand.
//!   Colour is low-frequency and the network's receptive field is learned at its training
//!   scale, which is why this is the default; it is also what keeps 50 MP cheap.
//! * Native mode: the network runs at full resolution in tiles of one size (one plan),
//!   overlapping and blended with linear ramps; memory is bounded by the tile, plus the
//!   full-resolution a*b* result itself.
//!
//! The full-resolution a*b* is never stored in working mode: [`Chroma::row`] produces one
//! row at a time, so callers write straight into their own buffers.

use rayon::prelude::*;
use tract_onnx::prelude::f16;

use crate::error::{Error, Result};
use crate::job::Job;
use crate::model::Model;
use crate::options::{required_len, Mode, Options, Upsampling, DEFAULT_TILE_SIZE};

/// The share of a call's progress that [`predict`] reports through: its callers read
/// pixels before it and write them after it.
pub const PREDICT_START: f32 = 0.1;
pub const PREDICT_END: f32 = 0.6;
/// Progress marks within [`predict`]: values checked; full-resolution L* resized (working
/// mode) or every tile run (native mode); network run.
const CHECKED: f32 = 0.15;
const RESIZED: f32 = 0.3;
const TILES_DONE: f32 = 0.55;
const NETWORK_DONE: f32 = 0.55;
/// Working-mode shapes are padded up to multiples of this (and of the model's multiple).
const SHAPE_BUCKET: usize = 32;
/// L* values may stray this far outside 0..100 (float rounding) and are clamped.
const L_TOLERANCE: f32 = 0.5;
/// a*, b* are kept within +-this after upsampling (the guided filter may extrapolate).
const CHROMA_LIMIT: f32 = 128.0;
/// Guided upsampling: window radius in field pixels and regularisation in (L*)^2; an edge
/// whose L* varies much more than sqrt(eps) = 4 inside the window steers the colour, while
/// weaker texture and noise in L* do not modulate it.
const GUIDED_RADIUS: usize = 2;
const GUIDED_EPS: f32 = 16.0;
/// Working mode never makes the long side more than this many times the working size.
const MAX_ASPECT_STRETCH: usize = 4;

/// A read-only L* plane borrowed from the caller: `stride` floats between row starts.
#[derive(Clone, Copy)]
pub struct Plane<'a> {
    pub data: &'a [f32],
    pub width: usize,
    pub height: usize,
    pub stride: usize,
}

impl<'a> Plane<'a> {
    /// Checks sizes (overflow-checked); [`predict`] checks the values.
    pub fn new(data: &'a [f32], width: usize, height: usize, stride: usize) -> Result<Self> {
        let needed = required_len(width, height, stride, 1)?;
        if data.len() < needed {
            return Err(Error::invalid(format!(
                "the L* buffer holds {} floats, {width}x{height} with stride {stride} needs {needed}",
                data.len()
            )));
        }
        Ok(Plane {
            data,
            width,
            height,
            stride,
        })
    }

    fn row(&self, y: usize) -> &'a [f32] {
        &self.data[y * self.stride..y * self.stride + self.width]
    }

    /// Every L* is finite and within 0..100 (give or take rounding).
    fn check_values(&self, job: &Job) -> Result<()> {
        let mut bad = None;
        job.rows(self.height, self.width, |rows| {
            if bad.is_none() {
                bad = rows.into_par_iter().find_map_first(|y| {
                    let row = self.row(y);
                    // A whole row first, without an early exit (so the loop vectorises;
                    // NaN fails both comparisons); the position only in a row that fails.
                    let (low, high) = (-L_TOLERANCE, 100.0 + L_TOLERANCE);
                    if row
                        .iter()
                        .fold(true, |ok, &v| ok & (v >= low) & (v <= high))
                    {
                        return None;
                    }
                    row.iter()
                        .position(|v| !(low..=high).contains(v))
                        .map(|x| (x, y))
                });
            }
        })?;
        match bad {
            None => Ok(()),
            Some((x, y)) => Err(Error::invalid(format!(
                "L* at ({x}, {y}) is {}, it must be a number from 0 to 100",
                self.row(y)[x]
            ))),
        }
    }

    #[inline]
    fn at(&self, x: usize, y: usize) -> f32 {
        self.data[y * self.stride + x].clamp(0.0, 100.0)
    }
}

/// a*b* for every pixel of an image, produced a row at a time.
pub struct Chroma {
    width: usize,
    saturation: f32,
    kind: ChromaKind,
}

enum ChromaKind {
    /// Low-resolution coefficients sampled bilinearly: at each pixel a* = Aa L* + Ba and
    /// b* = Ab L* + Bb (A = 0 for plain bilinear upsampling; the fast guided filter's linear
    /// model otherwise). `x_map` holds, per output column, the two field columns and the
    /// weight of the second.
    Field {
        /// Aa, Ba, Ab, Bb planes, each `field_w` x `field_h`.
        coefficients: [Vec<f32>; 4],
        field_w: usize,
        field_h: usize,
        x_map: Vec<(u32, u32, f32)>,
        y_scale: f64,
        y_offset: f64,
    },
    /// Full-resolution interleaved a*b* (native mode), in f16 to halve the largest plane.
    Full { ab: Vec<f16> },
}

impl Chroma {
    /// Writes row `y`'s a*,b* pairs (saturation applied) into `out[..2 * width]`;
    /// `l_row` is that row's full-resolution L* (the guide of guided upsampling).
    pub fn row(&self, y: usize, l_row: &[f32], out: &mut [f32]) {
        let out = &mut out[..2 * self.width];
        let s = self.saturation;
        match &self.kind {
            ChromaKind::Full { ab } => {
                for (o, v) in out
                    .iter_mut()
                    .zip(&ab[2 * self.width * y..2 * self.width * (y + 1)])
                {
                    *o = v.to_f32() * s;
                }
            }
            ChromaKind::Field {
                coefficients,
                field_w,
                field_h,
                x_map,
                y_scale,
                y_offset,
            } => {
                let fw = *field_w;
                let (y0, y1, fy) = sample_position(y, *y_scale, *y_offset, *field_h);
                let rows = coefficients
                    .each_ref()
                    .map(|c| (&c[y0 * fw..][..fw], &c[y1 * fw..][..fw]));
                for ((pair, &(x0, x1, fx)), &l) in out.chunks_exact_mut(2).zip(x_map).zip(l_row) {
                    let (x0, x1) = (x0 as usize, x1 as usize);
                    let lerp2 = |(r0, r1): (&[f32], &[f32])| {
                        let top = r0[x0] + (r0[x1] - r0[x0]) * fx;
                        let bottom = r1[x0] + (r1[x1] - r1[x0]) * fx;
                        top + (bottom - top) * fy
                    };
                    let l = l.clamp(0.0, 100.0);
                    let a = lerp2(rows[0]) * l + lerp2(rows[1]);
                    let b = lerp2(rows[2]) * l + lerp2(rows[3]);
                    pair[0] = a.clamp(-CHROMA_LIMIT, CHROMA_LIMIT) * s;
                    pair[1] = b.clamp(-CHROMA_LIMIT, CHROMA_LIMIT) * s;
                }
            }
        }
    }
}

/// Scratch of [`Chroma::row_cached`]: the field's four coefficient rows interpolated
/// across to full width, for the two field rows most recently used (`None`: not filled).
pub struct RowCache {
    rows: [(Option<usize>, Vec<f32>); 2],
}

impl Chroma {
    /// A scratch for [`Chroma::row_cached`]; one per thread.
    pub fn row_cache(&self) -> RowCache {
        let len = match &self.kind {
            ChromaKind::Field { .. } => 4 * self.width,
            ChromaKind::Full { .. } => 0,
        };
        RowCache {
            rows: [(None, vec![0.0; len]), (None, vec![0.0; len])],
        }
    }

    /// [`Chroma::row`], the same values, faster on consecutive rows: in working mode some
    /// 20 to 50 full-resolution rows share the same two field rows, so their across
    /// interpolation is done once per field row and kept in `cache`, and each pixel does
    /// only the down interpolation.
    pub fn row_cached(&self, y: usize, l_row: &[f32], out: &mut [f32], cache: &mut RowCache) {
        let ChromaKind::Field {
            coefficients,
            field_w,
            field_h,
            x_map,
            y_scale,
            y_offset,
        } = &self.kind
        else {
            return self.row(y, l_row, out);
        };
        let (w, fw) = (self.width, *field_w);
        let out = &mut out[..2 * w];
        let (y0, y1, fy) = sample_position(y, *y_scale, *y_offset, *field_h);
        let mut slot_of = |k: usize, keep: usize| -> usize {
            if let Some(slot) = cache.rows.iter().position(|(row, _)| *row == Some(k)) {
                return slot;
            }
            let slot = usize::from(cache.rows[0].0 == Some(keep));
            let (row, across) = &mut cache.rows[slot];
            for (c, plane) in coefficients.iter().enumerate() {
                let field_row = &plane[k * fw..][..fw];
                for (o, &(x0, x1, fx)) in across[c * w..][..w].iter_mut().zip(x_map) {
                    let (v0, v1) = (field_row[x0 as usize], field_row[x1 as usize]);
                    *o = v0 + (v1 - v0) * fx;
                }
            }
            *row = Some(k);
            slot
        };
        let top_slot = slot_of(y0, y1);
        let bottom_slot = slot_of(y1, y0);
        let (top, bottom) = (&cache.rows[top_slot].1, &cache.rows[bottom_slot].1);
        let top: [&[f32]; 4] = std::array::from_fn(|c| &top[c * w..][..w]);
        let bottom: [&[f32]; 4] = std::array::from_fn(|c| &bottom[c * w..][..w]);
        let down = |c: usize| top[c].iter().zip(bottom[c]);
        let s = self.saturation;
        for (((pair, &l), (aa, ba)), (ab, bb)) in out
            .chunks_exact_mut(2)
            .zip(l_row)
            .zip(down(0).zip(down(1)))
            .zip(down(2).zip(down(3)))
        {
            let lerp = |(top, bottom): (&f32, &f32)| top + (bottom - top) * fy;
            let l = l.clamp(0.0, 100.0);
            let a = lerp(aa) * l + lerp(ba);
            let b = lerp(ab) * l + lerp(bb);
            pair[0] = a.clamp(-CHROMA_LIMIT, CHROMA_LIMIT) * s;
            pair[1] = b.clamp(-CHROMA_LIMIT, CHROMA_LIMIT) * s;
        }
    }
}

/// For output index `i`, the field position `(i + 0.5) * scale + offset - 0.5` as two
/// clamped neighbours and the weight of the second.
fn sample_position(i: usize, scale: f64, offset: f64, len: usize) -> (usize, usize, f32) {
    let pos = ((i as f64 + 0.5) * scale + offset - 0.5).clamp(0.0, (len - 1) as f64);
    let i0 = pos.floor() as usize;
    let i1 = (i0 + 1).min(len - 1);
    (i0, i1, (pos - i0 as f64) as f32)
}

/// Index into 0..len of position `i` reflected at both ends (like numpy's "reflect";
/// periodic, so any amount of padding works, even past a 1-pixel image).
fn reflect(i: isize, len: usize) -> usize {
    if len == 1 {
        return 0;
    }
    let period = 2 * (len as isize - 1);
    let j = i.rem_euclid(period);
    (if j >= len as isize { period - j } else { j }) as usize
}

fn round_up(n: usize, multiple: usize) -> usize {
    n.div_ceil(multiple) * multiple
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// Predicts a*b* for `plane` with `model`, reporting progress from [`PREDICT_START`] to
/// [`PREDICT_END`]. Nothing of the caller's is written.
pub fn predict(model: &Model, options: &Options, plane: Plane<'_>, job: &Job) -> Result<Chroma> {
    options.validate()?;
    model.temperature_for(options.vividness)?;
    job.stage(PREDICT_START, CHECKED)?;
    plane.check_values(job)?;
    let kind = match (options.mode, model.contract().input_size) {
        (Mode::Native, None) => native(model, options, plane, job)?,
        // A fixed-size model cannot run natively: it only sees S x S.
        (Mode::Native, Some(_)) | (Mode::Working, _) => working(model, options, plane, job)?,
    };
    job.stage(PREDICT_END, PREDICT_END)?;
    Ok(Chroma {
        width: plane.width,
        saturation: options.saturation,
        kind,
    })
}

/// Working-resolution target (width, height) for an image.
fn working_dims(model: &Model, options: &Options, width: usize, height: usize) -> (usize, usize) {
    let contract = model.contract();
    if let Some(side) = contract.input_size {
        return (side, side);
    }
    let size = if options.working_size == 0 {
        contract.train_size
    } else {
        options.working_size as usize
    };
    let short = width.min(height) as f64;
    let long = width.max(height) as f64;
    let mut scale = size as f64 / short;
    let max_long = (size * MAX_ASPECT_STRETCH).max(size) as f64;
    if long * scale > max_long {
        scale = max_long / long;
    }
    let dim = |n: usize| ((n as f64 * scale).round() as usize).max(1);
    (dim(width), dim(height))
}

fn working(model: &Model, options: &Options, plane: Plane<'_>, job: &Job) -> Result<ChromaKind> {
    let contract = model.contract();
    let (tw, th) = working_dims(model, options, plane.width, plane.height);
    job.stage(CHECKED, RESIZED)?;
    let resized = resize_plane(plane, tw, th, job)?;
    job.stage(RESIZED, NETWORK_DONE)?;
    let (pw, ph) = match contract.input_size {
        Some(side) => (side, side),
        None => {
            let m = contract.pad_multiple;
            let bucket = m / gcd(m, SHAPE_BUCKET) * SHAPE_BUCKET;
            (round_up(tw, bucket), round_up(th, bucket))
        }
    };
    let (off_x, off_y) = ((pw - tw) / 2, (ph - th) / 2);
    let padded = pad_reflect(&resized, tw, th, pw, ph, off_x, off_y);
    drop(resized);
    let stride = contract.stride;
    let guide = match options.upsampling {
        Upsampling::Guided => Some(box_downsample(&padded, pw, ph, stride)),
        Upsampling::Bilinear => None,
    };
    let (ab, field_w, field_h) = model.run_plane_in(padded, pw, ph, options, job, (0.0, 1.0))?;
    job.stage(NETWORK_DONE, PREDICT_END)?;
    let (a, b) = split_planes(ab, field_w * field_h);
    let coefficients = match guide {
        Some(guide) => {
            let (aa, ba) = guided_coefficients(&guide, &a, field_w, field_h);
            let (ab_, bb) = guided_coefficients(&guide, &b, field_w, field_h);
            [aa, ba, ab_, bb]
        }
        None => [vec![0.0; a.len()], a, vec![0.0; b.len()], b],
    };
    let s = contract.stride as f64;
    // Full-res pixel centre x+0.5 -> working x (x+0.5)*tw/w -> padded + off -> field / s.
    let x_scale = tw as f64 / plane.width as f64 / s;
    let x_offset = off_x as f64 / s;
    let x_map = (0..plane.width)
        .map(|x| {
            let (x0, x1, fx) = sample_position(x, x_scale, x_offset, field_w);
            (x0 as u32, x1 as u32, fx)
        })
        .collect();
    Ok(ChromaKind::Field {
        coefficients,
        field_w,
        field_h,
        x_map,
        y_scale: th as f64 / plane.height as f64 / s,
        y_offset: off_y as f64 / s,
    })
}

/// Mean of each `factor` x `factor` block (the guide at the network's output resolution).
fn box_downsample(src: &[f32], w: usize, h: usize, factor: usize) -> Vec<f32> {
    if factor == 1 {
        return src.to_vec();
    }
    let (ow, oh) = (w / factor, h / factor);
    let norm = 1.0 / (factor * factor) as f32;
    let mut out = vec![0.0f32; ow * oh];
    for oy in 0..oh {
        for y in oy * factor..(oy + 1) * factor {
            let row = &src[y * w..][..ow * factor];
            for (o, block) in out[oy * ow..][..ow]
                .iter_mut()
                .zip(row.chunks_exact(factor))
            {
                *o += block.iter().sum::<f32>();
            }
        }
    }
    out.iter_mut().for_each(|v| *v *= norm);
    out
}

/// Mean over a (2r+1)^2 window, clamped at the borders (separable running sums).
fn box_mean(src: &[f32], w: usize, h: usize, r: usize) -> Vec<f32> {
    let pass = |src: &[f32], len: usize, step: usize, lanes: usize, lane_step: usize| {
        let mut out = vec![0.0f32; src.len()];
        for lane in 0..lanes {
            let at = |i: usize| lane * lane_step + i * step;
            let mut sum: f32 = (0..=r.min(len - 1)).map(|i| src[at(i)]).sum();
            for i in 0..len {
                let (lo, hi) = (i.saturating_sub(r), (i + r).min(len - 1));
                out[at(i)] = sum / (hi - lo + 1) as f32;
                if i + r + 1 < len {
                    sum += src[at(i + r + 1)];
                }
                if i >= r {
                    sum -= src[at(i - r)];
                }
            }
        }
        out
    };
    let rows = pass(src, w, 1, h, w);
    pass(&rows, h, w, w, 1)
}

/// The fast guided filter's per-window linear model p ~ A g + B (He & Sun 2015), smoothed:
/// applied at full resolution with the full-resolution L* as g, colour follows L* edges
/// instead of bleeding across them.
fn guided_coefficients(guide: &[f32], p: &[f32], w: usize, h: usize) -> (Vec<f32>, Vec<f32>) {
    let r = GUIDED_RADIUS;
    let mean_g = box_mean(guide, w, h, r);
    let mean_p = box_mean(p, w, h, r);
    let gg: Vec<f32> = guide.iter().map(|g| g * g).collect();
    let gp: Vec<f32> = guide.iter().zip(p).map(|(g, p)| g * p).collect();
    let (corr_gg, corr_gp) = (box_mean(&gg, w, h, r), box_mean(&gp, w, h, r));
    let mut a = vec![0.0f32; w * h];
    let mut b = vec![0.0f32; w * h];
    for i in 0..w * h {
        let var = (corr_gg[i] - mean_g[i] * mean_g[i]).max(0.0);
        let cov = corr_gp[i] - mean_g[i] * mean_p[i];
        a[i] = cov / (var + GUIDED_EPS);
        b[i] = mean_p[i] - a[i] * mean_g[i];
    }
    (box_mean(&a, w, h, r), box_mean(&b, w, h, r))
}

fn split_planes(mut ab: Vec<f32>, plane_len: usize) -> (Vec<f32>, Vec<f32>) {
    let b = ab.split_off(plane_len);
    (ab, b)
}

/// L* resized to `tw` x `th` (triangle filter, antialiased when shrinking), contiguous.
///
/// The result is bit-identical to `image::imageops::resize` with `FilterType::Triangle` on
/// L* / 100 (whose float samples it clamps to 0..1) times 100, which this replaced: the same
/// weights and the same order of operations, but the first pass (over every full-resolution
/// pixel, seconds on 50 megapixels in one thread) runs on the call's threads in chunks of
/// rows that report progress, so it can be stopped.
fn resize_plane(plane: Plane<'_>, tw: usize, th: usize, job: &Job) -> Result<Vec<f32>> {
    let (w, h) = (plane.width, plane.height);
    if (tw, th) == (w, h) {
        let mut out = Vec::with_capacity(tw * th);
        for y in 0..th {
            out.extend(plane.row(y).iter().map(|v| v.clamp(0.0, 100.0)));
        }
        return Ok(out);
    }
    // Vertical pass: h rows to th rows, full width.
    let rows = triangle_weights(h, th);
    let mut columns = vec![0.0f32; w * th];
    let reads_per_row = w * rows.iter().map(|(_, ws)| ws.len()).max().unwrap_or(1);
    job.rows(th, reads_per_row, |range| {
        columns[w * range.start..w * range.end]
            .par_chunks_mut(w)
            .zip(&rows[range])
            .for_each(|(out, (top, weights))| {
                // Tap by tap over whole rows: each pixel's sum is the same, in the same
                // order from 0, but the rows are read front to back and the loop vectorises.
                out.fill(0.0);
                for (i, weight) in weights.iter().enumerate() {
                    for (o, v) in out.iter_mut().zip(plane.row(top + i)) {
                        *o += v.clamp(0.0, 100.0) / 100.0 * weight;
                    }
                }
            })
    })?;
    // Horizontal pass: w columns to tw, th rows (small: the working size).
    let cols = triangle_weights(w, tw);
    let mut out = vec![0.0f32; tw * th];
    job.install(|| {
        out.par_chunks_mut(tw)
            .zip(columns.par_chunks(w))
            .for_each(|(out_row, row)| {
                for (o, (left, weights)) in out_row.iter_mut().zip(&cols) {
                    let mut t = 0.0f32;
                    for (i, weight) in weights.iter().enumerate() {
                        t += row[left + i] * weight;
                    }
                    *o = t.clamp(0.0, 1.0) * 100.0;
                }
            })
    });
    Ok(out)
}

/// For each of `new_len` output positions, the first input index and the normalised
/// weights of image's triangle filter (its `horizontal_sample` and `vertical_sample`, in
/// the same f32 arithmetic).
fn triangle_weights(len: usize, new_len: usize) -> Vec<(usize, Vec<f32>)> {
    let ratio = len as f32 / new_len as f32;
    let sratio = if ratio < 1.0 { 1.0 } else { ratio };
    let support = sratio;
    let triangle = |x: f32| if x.abs() < 1.0 { 1.0 - x.abs() } else { 0.0 };
    (0..new_len)
        .map(|out| {
            let input = (out as f32 + 0.5) * ratio;
            let left = ((input - support).floor() as i64).clamp(0, len as i64 - 1);
            let right = ((input + support).ceil() as i64).clamp(left + 1, len as i64);
            let input = input - 0.5;
            let mut weights: Vec<f32> = (left..right)
                .map(|i| triangle((i as f32 - input) / sratio))
                .collect();
            let mut sum = 0.0f32;
            for w in &weights {
                sum += w;
            }
            for w in &mut weights {
                *w /= sum;
            }
            (left as usize, weights)
        })
        .collect()
}

/// Places a `w` x `h` plane at (`off_x`, `off_y`) in a `pw` x `ph` one, reflecting at edges.
fn pad_reflect(
    src: &[f32],
    w: usize,
    h: usize,
    pw: usize,
    ph: usize,
    off_x: usize,
    off_y: usize,
) -> Vec<f32> {
    if (w, h) == (pw, ph) {
        return src.to_vec();
    }
    let columns: Vec<usize> = (0..pw)
        .map(|x| reflect(x as isize - off_x as isize, w))
        .collect();
    let mut out = Vec::with_capacity(pw * ph);
    for y in 0..ph {
        let row = &src[reflect(y as isize - off_y as isize, h) * w..][..w];
        out.extend(columns.iter().map(|&x| row[x]));
    }
    out
}

/// Tile origins along one axis: tiles of `tile` cover 0..len with at least `overlap` shared.
fn tile_origins(len: usize, tile: usize, overlap: usize) -> Vec<usize> {
    if len <= tile {
        return vec![0];
    }
    let step = tile - overlap;
    let mut origins: Vec<usize> = (0..)
        .map(|i| i * step)
        .take_while(|&o| o + tile < len)
        .collect();
    origins.push(len - tile);
    origins
}

/// Blend weight of position `i` in a tile of `len` along one axis: a linear ramp over
/// `overlap` pixels at edges shared with another tile, 1 elsewhere.
fn ramp(i: usize, len: usize, overlap: usize, ramp_start: bool, ramp_end: bool) -> f32 {
    let mut w = 1.0f32;
    let o = overlap.max(1) as f32;
    if ramp_start {
        w = w.min((i as f32 + 0.5) / o);
    }
    if ramp_end {
        w = w.min((len as f32 - i as f32 - 0.5) / o);
    }
    w.max(1e-3)
}

fn native(model: &Model, options: &Options, plane: Plane<'_>, job: &Job) -> Result<ChromaKind> {
    let m = model.contract().pad_multiple;
    let s = model.contract().stride;
    let requested = if options.tile_size == 0 {
        DEFAULT_TILE_SIZE
    } else {
        options.tile_size as usize
    };
    let tile = round_up(requested, m);
    let overlap = (tile / 8).max(1);
    let (w, h) = (plane.width, plane.height);
    let xs = tile_origins(w, tile, overlap);
    let ys = tile_origins(h, tile, overlap);
    let (tile_w, tile_h) = (tile.min(w), tile.min(h));
    // Separable weights: the sum over tiles of wx*wy is (sum of wx) * (sum of wy).
    let axis_weights =
        |origins: &[usize], len: usize, tile_len: usize| -> (Vec<Vec<f32>>, Vec<f32>) {
            let per_tile: Vec<Vec<f32>> = origins
                .iter()
                .enumerate()
                .map(|(k, _)| {
                    (0..tile_len)
                        .map(|i| ramp(i, tile_len, overlap, k > 0, k + 1 < origins.len()))
                        .collect()
                })
                .collect();
            let mut total = vec![0.0f32; len];
            for (o, weights) in origins.iter().zip(&per_tile) {
                for (i, wgt) in weights.iter().enumerate() {
                    total[o + i] += wgt;
                }
            }
            (per_tile, total)
        };
    let (wx, total_x) = axis_weights(&xs, w, tile_w);
    let (wy, total_y) = axis_weights(&ys, h, tile_h);
    let ab_len = w
        .checked_mul(h)
        .and_then(|n| n.checked_mul(2))
        .ok_or_else(|| Error::too_large(format!("{w}x{h} overflows")))?;
    // The blended a*b* is kept in f16 (2 bytes a value instead of 4: 200 MB less at 50 MP;
    // its 11-bit significand is within 0.06 of any a* or b* up to 128, far under one output
    // level). Tiles are summed in f32 in a band of one tile's height; a row is rounded to
    // f16, once, when no later tile row reaches it.
    let mut ab = vec![f16::ZERO; ab_len];
    let row_len = 2 * w;
    let mut band = vec![0.0f32; tile_h * row_len];
    let mut band_start = 0;
    let flush = |band: &[f32], band_start: usize, rows: std::ops::Range<usize>, ab: &mut [f16]| {
        job.install(|| {
            ab[row_len * rows.start..row_len * rows.end]
                .par_chunks_mut(row_len)
                .zip(rows)
                .for_each(|(out, y)| {
                    let sums = &band[row_len * (y - band_start)..][..row_len];
                    for (x, (pair, sum)) in out
                        .chunks_exact_mut(2)
                        .zip(sums.chunks_exact(2))
                        .enumerate()
                    {
                        let norm = 1.0 / (total_x[x] * total_y[y]);
                        pair[0] = f16::from_f32(sum[0] * norm);
                        pair[1] = f16::from_f32(sum[1] * norm);
                    }
                })
        })
    };
    let (pw, ph) = (round_up(tile_w, m), round_up(tile_h, m));
    job.stage(CHECKED, TILES_DONE)?;
    let tiles = xs.len() * ys.len();
    for (ky, &oy) in ys.iter().enumerate() {
        if oy > band_start {
            // Rows above this tile row are done: no later tile reaches them.
            flush(&band, band_start, band_start..oy, &mut ab);
            let done = row_len * (oy - band_start);
            band.copy_within(done.., 0);
            let kept = band.len() - done;
            band[kept..].fill(0.0);
            band_start = oy;
        }
        for (kx, &ox) in xs.iter().enumerate() {
            job.report((ky * xs.len() + kx) as f32 / tiles as f32)?;
            let mut tile_l = Vec::with_capacity(tile_w * tile_h);
            for y in 0..tile_h {
                tile_l.extend((0..tile_w).map(|x| plane.at(ox + x, oy + y)));
            }
            let padded = pad_reflect(&tile_l, tile_w, tile_h, pw, ph, 0, 0);
            drop(tile_l);
            let tile = (ky * xs.len() + kx) as f32;
            let span = (tile / tiles as f32, (tile + 1.0) / tiles as f32);
            let (field, field_w, field_h) =
                model.run_plane_in(padded, pw, ph, options, job, span)?;
            let (fa, fb) = field.split_at(field_w * field_h);
            let inv = 1.0 / s as f64;
            for y in 0..tile_h {
                let (y0, y1, fy) = sample_position(y, inv, 0.0, field_h);
                let row = &mut band[row_len * (oy + y - band_start)..][..row_len];
                for x in 0..tile_w {
                    let (x0, x1, fx) = sample_position(x, inv, 0.0, field_w);
                    let sample = |f: &[f32]| {
                        let top = f[y0 * field_w + x0]
                            + (f[y0 * field_w + x1] - f[y0 * field_w + x0]) * fx;
                        let bottom = f[y1 * field_w + x0]
                            + (f[y1 * field_w + x1] - f[y1 * field_w + x0]) * fx;
                        top + (bottom - top) * fy
                    };
                    let weight = wx[kx][x] * wy[ky][y];
                    row[2 * (ox + x)] += sample(fa) * weight;
                    row[2 * (ox + x) + 1] += sample(fb) * weight;
                }
            }
        }
    }
    job.stage(TILES_DONE, PREDICT_END)?;
    flush(&band, band_start, band_start..h, &mut ab);
    Ok(ChromaKind::Full { ab })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reflect_is_periodic_and_in_range() {
        assert_eq!(
            (-3..8).map(|i| reflect(i, 3)).collect::<Vec<_>>(),
            vec![1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1]
        );
        assert!((-100..100).all(|i| reflect(i, 1) == 0));
    }

    /// The chunked resize equals image's Triangle resize bit for bit, shrinking and
    /// enlarging, on values that go past 0..100 (clamped) and a stride with padding.
    #[test]
    fn resize_equals_image_triangle_resize() {
        let job = Job::new(&Options::default()).unwrap();
        for (w, h, tw, th) in [
            (37, 23, 10, 7),
            (10, 9, 31, 20),
            (64, 5, 64, 2),
            (5, 40, 13, 40),
        ] {
            let stride = w + 3;
            let data: Vec<f32> = (0..stride * h)
                .map(|i| ((i * 37 % 113) as f32) - 5.0)
                .collect();
            let plane = Plane::new(&data, w, h, stride).unwrap();
            let ours = resize_plane(plane, tw, th, &job).unwrap();
            let mut unit = Vec::new();
            for y in 0..h {
                unit.extend(
                    data[y * stride..][..w]
                        .iter()
                        .map(|v| v.clamp(0.0, 100.0) / 100.0),
                );
            }
            let buffer = image::ImageBuffer::<image::Luma<f32>, Vec<f32>>::from_raw(
                w as u32, h as u32, unit,
            )
            .unwrap();
            let theirs: Vec<f32> = image::imageops::resize(
                &buffer,
                tw as u32,
                th as u32,
                image::imageops::FilterType::Triangle,
            )
            .into_raw()
            .into_iter()
            .map(|v| v * 100.0)
            .collect();
            assert!(
                ours.iter()
                    .zip(&theirs)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{w}x{h} -> {tw}x{th}"
            );
        }
    }

    #[test]
    fn tiles_cover_the_axis_with_overlap() {
        assert_eq!(tile_origins(100, 512, 64), vec![0]);
        let origins = tile_origins(1000, 512, 64);
        assert_eq!(origins, vec![0, 448, 488]);
        assert_eq!(tile_origins(512, 512, 64), vec![0]);
    }
}
