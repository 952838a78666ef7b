//! `colorize eval`: how well models colorize a folder of colour photos, beside the
//! grayscale baseline (a* = b* = 0), with the yardstick of `colorize::metrics`.
//!
//! Each photo is decoded, optionally scaled to a short side (bicubic, Catmull-Rom, as
//! PIL's `BICUBIC` with which the shared sets' baseline numbers were made), reduced to its
//! grey (each pixel's L* with a* = b* = 0, which is also the baseline's output), colorized
//! by each model, and scored against the original. Nothing is written to disk.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use colorize::metrics::{self, ScoreSummary};
use image::RgbImage;

/// Scores models on colour photos (PSNR, AuC of the a*b* error, colourfulness) beside
/// the grayscale baseline.
#[derive(Args, Debug)]
#[command(
    after_help = "Examples:\n  colorize eval --model landscape-l2,landscape-pmse ../shared/data/eval/sun-hays-80 --size 256\n  \
                  colorize eval ../shared/data/intel-scenes/test --files-from tests/data/intel-test-first500.txt --json\n\
                  Without --model only the grayscale baseline is scored."
)]
pub struct EvalArgs {
    /// Folder of colour photos (searched recursively, taken in sorted path order).
    folder: PathBuf,

    /// Models: embedded names or ONNX file paths, comma-separated or repeated.
    #[arg(short, long, value_delimiter = ',')]
    model: Vec<String>,

    /// Scale every photo so its short side is this many pixels first (bicubic).
    #[arg(long, value_name = "SHORT")]
    size: Option<u32>,

    /// Score only the first N photos.
    #[arg(long, value_name = "N")]
    limit: Option<usize>,

    /// Take the photos listed in this file (one path per line, relative to FOLDER), in
    /// its order, instead of every image in FOLDER.
    #[arg(long, value_name = "LIST")]
    files_from: Option<PathBuf>,

    /// Short side the network runs at (default: each model's training size).
    #[arg(long, value_name = "PIXELS")]
    working_size: Option<u32>,

    /// Multiply every model's a*, b* by this (1.0 = as predicted).
    #[arg(long, value_name = "FACTOR", default_value_t = 1.0)]
    saturation: f32,

    /// Vividness of classification models, comma-separated for one row each (e.g.
    /// `1,1.5,2.5`); 0 = each model's default. Regression models get one row, at their own
    /// colour.
    #[arg(long, value_delimiter = ',', default_values_t = vec![0.0f32])]
    vividness: Vec<f32>,

    /// Arithmetic of the network (see `colorize --help`).
    #[arg(long, value_enum, default_value_t = crate::CliPrecision::from(colorize::Precision::default()))]
    precision: crate::CliPrecision,

    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,

    /// Print a Markdown table (for docs/quality.md) instead of a plain one.
    #[arg(long, conflicts_with = "json")]
    markdown: bool,

    /// No progress bar.
    #[arg(short, long)]
    quiet: bool,
}

pub fn run(args: &EvalArgs) -> ExitCode {
    match evaluate(args) {
        Ok(report) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report.to_json()).expect("JSON of plain values")
                );
            } else if args.markdown {
                print!("{}", report.to_markdown());
            } else {
                print!("{}", report.to_table());
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("colorize eval: {message}");
            ExitCode::from(1)
        }
    }
}

/// One row of the report: the baseline or one model.
struct Row {
    name: String,
    /// The model's `colorize.loss` metadata, when it has one.
    loss: Option<String>,
    summary: ScoreSummary,
    /// Time spent colorizing (not decoding or scoring).
    colorize_time: Duration,
}

struct Report {
    folder: PathBuf,
    short_side: Option<u32>,
    rows: Vec<Row>,
}

/// The photos to score, in order: the list file's order, or sorted paths.
pub(crate) fn photo_paths(
    folder: &Path,
    files_from: Option<&Path>,
    limit: Option<usize>,
) -> Result<Vec<PathBuf>, String> {
    if !folder.is_dir() {
        return Err(format!("{}: not a folder", folder.display()));
    }
    let mut paths = match files_from {
        Some(list) => {
            let text =
                std::fs::read_to_string(list).map_err(|e| format!("{}: {e}", list.display()))?;
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| folder.join(l))
                .collect()
        }
        None => {
            let mut found = Vec::new();
            collect_images(folder, &mut found)?;
            found.sort();
            found
        }
    };
    if let Some(limit) = limit {
        paths.truncate(limit);
    }
    if paths.is_empty() {
        return Err(format!("{}: no images found", folder.display()));
    }
    Ok(paths)
}

/// Every image file under `dir` (the library's walker: links to folders are not followed,
/// special files are passed over); an unreadable entry is an error.
fn collect_images(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), String> {
    let walk = colorize::io::walk_images(dir, &colorize::io::WalkOptions::default());
    if let Some((path, e)) = walk.errors.first() {
        return Err(format!("{}: {e}", path.display()));
    }
    found.extend(walk.files);
    Ok(())
}

/// Decodes a photo as 8-bit sRGB, scaled to `short_side` when given.
pub(crate) fn load_photo(path: &Path, short_side: Option<u32>) -> Result<RgbImage, String> {
    let image = colorize::io::decode_file(path, &colorize::io::Limits::default())
        .map_err(|e| format!("{}: {e}", path.display()))?
        .into_rgb8();
    Ok(match short_side {
        Some(short) => scale_to_short_side(&image, short),
        None => image,
    })
}

/// Scales so the short side is `short` (aspect kept, sizes rounded), bicubic.
pub(crate) fn scale_to_short_side(image: &RgbImage, short: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    let scale = f64::from(short) / f64::from(w.min(h));
    let size = |side: u32| ((f64::from(side) * scale).round() as u32).max(1);
    let (nw, nh) = (size(w), size(h));
    if (nw, nh) == (w, h) {
        return image.clone();
    }
    image::imageops::resize(image, nw, nh, image::imageops::FilterType::CatmullRom)
}

fn evaluate(args: &EvalArgs) -> Result<Report, String> {
    if args.size == Some(0) {
        return Err("--size must be at least 1".into());
    }
    let paths = photo_paths(&args.folder, args.files_from.as_deref(), args.limit)?;
    let options = colorize::Options {
        working_size: args.working_size.unwrap_or(0),
        saturation: args.saturation,
        precision: args.precision.into(),
        ..Default::default()
    };
    // One scored row per model, and per vividness for a classification model.
    let mut models = Vec::new();
    for spec in &args.model {
        let model = crate::load_model(spec).map_err(|e| format!("model {spec}: {e}"))?;
        match model.default_vividness() {
            Some(default) => {
                for &vividness in &args.vividness {
                    let shown = if vividness == 0.0 { default } else { vividness };
                    let row_options = colorize::Options {
                        vividness,
                        ..options
                    };
                    row_options
                        .validate()
                        .map_err(|e| format!("--vividness: {e}"))?;
                    models.push((format!("{spec} @{shown}"), model.clone(), row_options));
                }
            }
            None => models.push((spec.clone(), model, options)),
        }
    }

    let mut rows = vec![Row {
        name: "grayscale (a*=b*=0)".into(),
        loss: None,
        summary: ScoreSummary::new(),
        colorize_time: Duration::ZERO,
    }];
    rows.extend(models.iter().map(|(spec, model, _)| {
        Row {
            name: spec.clone(),
            loss: model
                .metadata(colorize::contract::keys::LOSS)
                .map(str::to_owned),
            summary: ScoreSummary::new(),
            colorize_time: Duration::ZERO,
        }
    }));

    let progress = if args.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(paths.len() as u64)
    };
    for path in &paths {
        let truth = load_photo(path, args.size)?;
        let (w, h) = (truth.width() as usize, truth.height() as usize);
        let score = |output: &[u8]| {
            metrics::score_rgb8(&truth, output).map_err(|e| format!("{}: {e}", path.display()))
        };
        let grey = metrics::grayscale_baseline_rgb8(&truth)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        rows[0].summary.add(&score(&grey)?);
        for ((spec, model, options), row) in models.iter().zip(&mut rows[1..]) {
            let mut output = grey.clone();
            let start = Instant::now();
            colorize::colorize_rgb8(model, options, &mut output, w, h, w * 3, 3)
                .map_err(|e| format!("{}: model {spec}: {e}", path.display()))?;
            row.colorize_time += start.elapsed();
            row.summary.add(&score(&output)?);
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    Ok(Report {
        folder: args.folder.clone(),
        short_side: args.size,
        rows,
    })
}

impl Report {
    fn images(&self) -> usize {
        self.rows[0].summary.images()
    }

    fn to_table(&self) -> String {
        let mut out = format!(
            "{} images from {}{}\n",
            self.images(),
            self.folder.display(),
            self.short_side
                .map(|s| format!(", short side {s}"))
                .unwrap_or_default()
        );
        let name_width = self
            .rows
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(0)
            .max(5);
        out += &format!(
            "{:<name_width$}  {:>9}  {:>7}  {:>14}  {:>6}  {:>5}  {:>9}\n",
            "model", "PSNR (dB)", "AuC (%)", "colourfulness", "truth", "ratio", "images/s"
        );
        for row in &self.rows {
            let s = &row.summary;
            let speed = if row.colorize_time.is_zero() {
                "-".to_string()
            } else {
                format!("{:.1}", s.images() as f64 / row.colorize_time.as_secs_f64())
            };
            out += &format!(
                "{:<name_width$}  {:>9.2}  {:>7.1}  {:>14.1}  {:>6.1}  {:>5.2}  {:>9}\n",
                row.name,
                s.psnr_db(),
                100.0 * s.ab_auc(),
                s.colourfulness_output(),
                s.colourfulness_truth(),
                s.colourfulness_ratio(),
                speed
            );
        }
        for row in self.rows.iter().filter(|r| r.summary.exact_images() > 0) {
            out += &format!(
                "note: {}: {} image(s) reproduced exactly count as {} dB; the others average {:.2} dB\n",
                row.name,
                row.summary.exact_images(),
                metrics::PSNR_CEILING_DB,
                row.summary.psnr_db_inexact()
            );
        }
        out
    }

    /// One Markdown table row per model, baseline first, with the set in the first column
    /// so that tables of several sets can be concatenated under one header.
    fn to_markdown(&self) -> String {
        let set = format!(
            "{} ({} images{})",
            self.folder.display(),
            self.images(),
            self.short_side
                .map(|s| format!(", short side {s}"))
                .unwrap_or_default()
        );
        let mut out = String::from(
            "| set | model | loss | PSNR (dB) | AuC (%) | colourfulness | truth | ratio |\n\
             |---|---|---|---|---|---|---|---|\n",
        );
        for row in &self.rows {
            let s = &row.summary;
            out += &format!(
                "| {set} | {} | {} | {:.2} | {:.1} | {:.1} | {:.1} | {:.2} |\n",
                row.name,
                row.loss.as_deref().unwrap_or("-"),
                s.psnr_db(),
                100.0 * s.ab_auc(),
                s.colourfulness_output(),
                s.colourfulness_truth(),
                s.colourfulness_ratio()
            );
        }
        out
    }

    fn to_json(&self) -> serde_json::Value {
        let rows: Vec<serde_json::Value> = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let s = &row.summary;
                serde_json::json!({
                    "model": row.name,
                    "baseline": i == 0,
                    "loss": row.loss,
                    "psnr_db": finite_or_null(s.psnr_db()),
                    "psnr_db_inexact": finite_or_null(s.psnr_db_inexact()),
                    "exact_images": s.exact_images(),
                    "ab_auc": finite_or_null(s.ab_auc()),
                    "colourfulness_output": finite_or_null(s.colourfulness_output()),
                    "colourfulness_truth": finite_or_null(s.colourfulness_truth()),
                    "colourfulness_ratio": finite_or_null(s.colourfulness_ratio()),
                    "colorize_seconds": if i == 0 { None } else { Some(row.colorize_time.as_secs_f64()) },
                })
            })
            .collect();
        serde_json::json!({
            "folder": self.folder.display().to_string(),
            "images": self.images(),
            "short_side": self.short_side,
            "psnr_ceiling_db": metrics::PSNR_CEILING_DB,
            "results": rows,
        })
    }
}

/// JSON has no NaN or infinity.
fn finite_or_null(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}
