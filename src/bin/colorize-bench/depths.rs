//! (d) Bit depths: `colorize_rgb8`, `colorize_rgb16` and `colorize_rgb_float` on the same
//! photo-like RGB buffer, interleaved round by round, median of each. The 8-bit call is
//! the peer: the network and the upsampling are the same work at every depth, so the
//! ratios measure what each depth's colour conversion adds.

use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use colorize::{Model, Options};

#[derive(Serialize, Clone, Debug, Default)]
pub struct Depths {
    pub width: usize,
    pub height: usize,
    pub rgb8_s: f64,
    pub rgb16_s: f64,
    pub rgb_float_s: f64,
    pub rgb_float_linear_s: f64,
}

/// A smooth colour gradient with texture, so that the colour conversions see varied
/// values (a flat buffer would stay in the caches of every table).
fn pattern(width: usize, height: usize) -> Vec<f32> {
    let mut rgb = Vec::with_capacity(width * height * 3);
    for y in 0..height {
        for x in 0..width {
            let (u, v) = (x as f32 / width as f32, y as f32 / height as f32);
            let texture = 0.1 * ((x * 7 + y * 13) % 17) as f32 / 17.0;
            rgb.extend([
                u * 0.9 + texture,
                v * 0.9 + texture,
                (1.0 - u) * 0.8 + texture,
            ]);
        }
    }
    rgb
}

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

pub fn run(model: &Model, width: usize, height: usize, rounds: usize) -> Result<Depths> {
    let source = pattern(width, height);
    let rgb8: Vec<u8> = source.iter().map(|&v| (v * 255.0).round() as u8).collect();
    let rgb16: Vec<u16> = source
        .iter()
        .map(|&v| (v * 65535.0).round() as u16)
        .collect();
    let options = Options::default();
    let stride = width * 3;
    let mut times = [vec![], vec![], vec![], vec![]];
    // Round 0 warms every path (plans, tables) and is not counted.
    for round in 0..=rounds {
        let mut buffer8 = rgb8.clone();
        let start = Instant::now();
        colorize::colorize_rgb8(model, &options, &mut buffer8, width, height, stride, 3)?;
        let t8 = start.elapsed().as_secs_f64();
        let mut buffer16 = rgb16.clone();
        let start = Instant::now();
        colorize::colorize_rgb16(model, &options, &mut buffer16, width, height, stride, 3)?;
        let t16 = start.elapsed().as_secs_f64();
        let mut float_times = [0.0; 2];
        for (linear, time) in [false, true].into_iter().zip(&mut float_times) {
            let mut buffer = source.clone();
            let start = Instant::now();
            colorize::colorize_rgb_float(
                model,
                &options,
                &mut buffer,
                width,
                height,
                stride,
                3,
                linear,
            )?;
            *time = start.elapsed().as_secs_f64();
        }
        if round > 0 {
            for (list, t) in times
                .iter_mut()
                .zip([t8, t16, float_times[0], float_times[1]])
            {
                list.push(t);
            }
        }
    }
    let [t8, t16, tf, tl] = times.map(median);
    Ok(Depths {
        width,
        height,
        rgb8_s: t8,
        rgb16_s: t16,
        rgb_float_s: tf,
        rgb_float_linear_s: tl,
    })
}
