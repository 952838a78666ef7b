//! Training data: listing and decoding a folder of colour photos once, filtering near-grey
//! ones, and assembling shuffled batches (random crop + flip, sRGB -> L*, a*b*) in
//! background threads while the network trains.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

use anyhow::{bail, Context, Result};
use image::RgbImage;
use palette::{IntoColor, Lab, Srgb};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use tch::Tensor;

use super::net::AB_SCALE;

/// Every image file under `root` (recursively, sorted), restricted to the subfolder
/// `category` when given.
pub fn list_images(root: &Path, category: Option<&str>) -> Result<Vec<PathBuf>> {
    if !root.is_dir() {
        bail!("data folder not found: {}", root.display());
    }
    let base = match category {
        Some(c) => {
            let dir = root.join(c);
            if !dir.is_dir() {
                let known: Vec<String> = std::fs::read_dir(root)?
                    .filter_map(|e| e.ok())
                    .filter(|e| e.path().is_dir())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect();
                bail!(
                    "category '{c}' not found under {} (categories: {})",
                    root.display(),
                    known.join(", ")
                );
            }
            dir
        }
        None => root.to_path_buf(),
    };
    // The library's walker and extension list; data sets are often assembled from links
    // to folders, which are followed (each folder once).
    let options = colorize::io::WalkOptions {
        follow_links: true,
        ..Default::default()
    };
    let walk = colorize::io::walk_images(&base, &options);
    if let Some((path, e)) = walk.errors.first() {
        bail!("cannot read {}: {e}", path.display());
    }
    let mut out = walk.files;
    out.sort();
    if out.is_empty() {
        bail!(
            "no images ({}) found in {}",
            colorize::io::IMAGE_EXTENSIONS.join(", "),
            root.display()
        );
    }
    Ok(out)
}

/// Hasler & Süsstrunk's M3 colourfulness (the same measure `colorize eval` reports).
pub fn colourfulness(image: &RgbImage) -> f64 {
    colorize::metrics::colourfulness_rgb8(image.as_raw()).unwrap_or(0.0)
}

/// Decoded training images, all at least `min_side` on each side.
pub struct Dataset {
    pub images: Vec<RgbImage>,
    pub paths: Vec<PathBuf>,
}

/// What loading found, reported to the user.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub listed: usize,
    pub grey: usize,
    pub too_small: usize,
}

/// Decodes every file (in parallel). A file that does not decode is an error naming it:
/// silently training on less data than asked for would be worse.
pub fn load(
    paths: &[PathBuf],
    min_side: u32,
    min_colourfulness: f64,
    limit: Option<usize>,
) -> Result<(Dataset, LoadReport)> {
    let paths = match limit {
        Some(n) => &paths[..n.min(paths.len())],
        None => paths,
    };
    let decoded: Vec<Result<RgbImage>> = paths
        .par_iter()
        .map(|p| {
            let img = image::ImageReader::open(p)
                .with_context(|| format!("cannot open {}", p.display()))?
                .with_guessed_format()?
                .decode()
                .with_context(|| {
                    format!("cannot decode {} (not an image or corrupt)", p.display())
                })?;
            Ok(img.to_rgb8())
        })
        .collect();
    let mut report = LoadReport {
        listed: paths.len(),
        ..Default::default()
    };
    let mut dataset = Dataset {
        images: Vec::new(),
        paths: Vec::new(),
    };
    for (path, img) in paths.iter().zip(decoded) {
        let img = img?;
        if img.width() < min_side || img.height() < min_side {
            report.too_small += 1;
        } else if colourfulness(&img) < min_colourfulness {
            report.grey += 1;
        } else {
            dataset.images.push(img);
            dataset.paths.push(path.clone());
        }
    }
    if dataset.images.is_empty() {
        bail!(
            "no usable colour images: {} listed, {} near-grey (colourfulness < {min_colourfulness}), {} smaller than {min_side} px",
            report.listed, report.grey, report.too_small
        );
    }
    Ok((dataset, report))
}

/// One training batch: L* (N,1,S,S) in 0..100 and a*b*/AB_SCALE (N,2,S,S).
pub struct Batch {
    pub l: Tensor,
    pub ab: Tensor,
}

/// Converts a crop of an sRGB image to planar L* and a*b*/AB_SCALE.
fn crop_to_lab(
    img: &RgbImage,
    x0: u32,
    y0: u32,
    size: u32,
    flip: bool,
    l: &mut Vec<f32>,
    ab: &mut Vec<f32>,
) {
    let n = (size * size) as usize;
    let (mut a_plane, mut b_plane) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for y in 0..size {
        for x in 0..size {
            let sx = if flip { x0 + size - 1 - x } else { x0 + x };
            let [r, g, b] = img.get_pixel(sx, y0 + y).0;
            let lab: Lab = Srgb::new(r, g, b).into_format::<f32>().into_color();
            l.push(lab.l);
            a_plane.push(lab.a / AB_SCALE as f32);
            b_plane.push(lab.b / AB_SCALE as f32);
        }
    }
    ab.extend(a_plane);
    ab.extend(b_plane);
}

/// Builds a batch from image indices. `random` crops and flips; otherwise centre crops.
pub fn make_batch(
    dataset: &Dataset,
    indices: &[usize],
    size: u32,
    rng: Option<&mut rand::rngs::StdRng>,
) -> Batch {
    let n = indices.len() as i64;
    let (mut l, mut ab) = (Vec::new(), Vec::new());
    let mut rng = rng;
    for &i in indices {
        let img = &dataset.images[i];
        let (max_x, max_y) = (img.width() - size, img.height() - size);
        let (x0, y0, flip) = match rng.as_deref_mut() {
            Some(r) => (
                r.random_range(0..=max_x),
                r.random_range(0..=max_y),
                r.random_bool(0.5),
            ),
            None => (max_x / 2, max_y / 2, false),
        };
        crop_to_lab(img, x0, y0, size, flip, &mut l, &mut ab);
    }
    let s = size as i64;
    Batch {
        l: Tensor::from_slice(&l).view([n, 1, s, s]),
        ab: Tensor::from_slice(&ab).view([n, 2, s, s]),
    }
}

/// The batches of one epoch, in a seeded order, assembled by a background thread.
/// `skip` batches are skipped (resuming mid-epoch reproduces the same order).
pub struct EpochLoader {
    pub receiver: Receiver<Batch>,
    pub batches: usize,
    _worker: JoinHandle<()>,
}

impl EpochLoader {
    pub fn start(
        dataset: std::sync::Arc<Dataset>,
        batch_size: usize,
        crop: u32,
        seed: u64,
        epoch: usize,
        skip: usize,
        max_batches: Option<usize>,
    ) -> Self {
        let mut order: Vec<usize> = (0..dataset.images.len()).collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(
            seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        order.shuffle(&mut rng);
        let mut chunks: Vec<Vec<usize>> = order
            .chunks(batch_size)
            .filter(|c| c.len() == batch_size)
            .map(|c| c.to_vec())
            .collect();
        if let Some(m) = max_batches {
            chunks.truncate(m);
        }
        let batches = chunks.len();
        let (sender, receiver) = sync_channel(4);
        let worker = std::thread::spawn(move || {
            for (i, chunk) in chunks.iter().enumerate() {
                // Augmentation randomness per batch from (seed, epoch, batch): resumable.
                let mut batch_rng = rand::rngs::StdRng::seed_from_u64(
                    seed.wrapping_add((epoch * 1_000_003 + i) as u64),
                );
                if i < skip {
                    continue;
                }
                let batch = make_batch(&dataset, chunk, crop, Some(&mut batch_rng));
                if sender.send(batch).is_err() {
                    return;
                }
            }
        });
        EpochLoader {
            receiver,
            batches,
            _worker: worker,
        }
    }
}
