//! `colorize`: colorize black-and-white photos from the command line.
//!
//! `colorize IN -o OUT` for one file; folders are mirrored into an output folder; `-` is
//! stdin/stdout. `colorize eval ...` and `colorize compare ...` are separate subcommands
//! (eval.rs, compare.rs). Exit status: 0 all done, 1 some inputs failed, 2 usage error
//! (nothing done), 128+N stopped by signal N. A closed stdout (`| head -1`) only stops the
//! output-path lines: the batch is finished and the status is as without it.

mod batch;
mod compare;
mod eval;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, ValueEnum};

/// Plausible colour for black-and-white photographs. Colour inputs are first reduced to
/// their lightness (CIE L*); every output keeps the input's L* and alpha.
#[derive(Parser, Debug)]
#[command(
    name = "colorize",
    version,
    after_help = "Subcommands: `colorize eval --help`, `colorize compare --help`.\n\
                  Examples:\n  colorize old.jpg -o new.jpg\n  colorize scans/ -o coloured/ --jobs 2 --skip-existing\n  \
                  colorize scans/ -o coloured/ --shard 3/8 --skip-existing --report r3.jsonl\n  \
                  convert photo.jpg pgm:- | colorize - -o - | convert - out.jpg"
)]
pub struct Cli {
    /// Input files, folders (searched recursively), globs ("scans/*.tif"), or - for stdin.
    #[arg(required_unless_present_any = ["list_models", "files_from"])]
    pub inputs: Vec<String>,

    /// Output file, or folder (for several inputs or a folder; created if missing), or - for stdout.
    #[arg(short, long, required_unless_present = "list_models")]
    pub output: Option<String>,

    /// Model: an embedded or installed name (COLORIZE_MODEL_PATH; see --list-models), `default`,
    /// or an ONNX file path.
    #[arg(short, long, default_value = "default")]
    pub model: String,

    /// Resize the output to WIDTHxHEIGHT pixels (default: the input's size).
    #[arg(long, value_name = "WxH", value_parser = parse_size)]
    pub resize: Option<(u32, u32)>,

    /// Short side the network runs at (default: the model's training size).
    #[arg(long, value_name = "PIXELS")]
    pub size: Option<u32>,

    /// Multiply the predicted colour (1 = as predicted, 0 = grey).
    #[arg(long, default_value_t = 1.0)]
    pub saturation: f32,

    /// working: run at the working size and upsample colour (fast); native: full resolution in tiles.
    #[arg(long, value_enum, default_value_t = CliMode::Working)]
    pub mode: CliMode,

    /// Working-mode colour upsampling: guided (follows the photo's edges) or bilinear.
    #[arg(long, value_enum, default_value_t = CliUpsampling::Guided)]
    pub upsampling: CliUpsampling,

    /// Tile side for --mode native (default 512).
    #[arg(long, value_name = "PIXELS")]
    pub tile_size: Option<u32>,

    /// Output format (default: the output file's extension, which must be one of these;
    /// in a folder batch the input's format if PNG, JPEG, TIFF or PNM, else PNG; PNG for
    /// stdout).
    #[arg(long, value_enum)]
    pub format: Option<CliFormat>,

    /// JPEG quality, 1 to 100 (chroma is always kept whole: 4:4:4).
    #[arg(long, value_name = "N", default_value_t = colorize::io::DEFAULT_JPEG_QUALITY,
          value_parser = clap::value_parser!(u8).range(1..=100))]
    pub quality: u8,

    /// Images processed at once (default: the number of CPUs).
    #[arg(short, long, value_name = "N")]
    pub jobs: Option<usize>,

    /// Leave outputs that already exist alone (resume an interrupted batch).
    #[arg(long)]
    pub skip_existing: bool,

    /// Read input paths from FILE (- for stdin), one per line or NUL-separated (find
    /// -print0). Relative paths are mirrored under the output folder.
    #[arg(long, value_name = "FILE")]
    pub files_from: Option<PathBuf>,

    /// Do only part K of N of the inputs (K = 1..N), chosen by a hash of each input's
    /// relative path: the same on every run and machine; the N parts are disjoint and
    /// together are the whole batch (docs/scale-out.md).
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<(u32, u32)>,

    /// Append one JSON line per input to FILE as it finishes: input, output, status
    /// (colorized, skipped, failed), error, milliseconds.
    #[arg(long, value_name = "FILE.jsonl")]
    pub report: Option<PathBuf>,

    /// Print INPUT<tab>OUTPUT for each image that would be colorized, and do nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Refuse images with more pixels than this (checked before decoding).
    #[arg(long, value_name = "PIXELS", default_value_t = colorize::io::DEFAULT_MAX_PIXELS)]
    pub max_pixels: u64,

    /// No progress bar, no summary line and no output paths on stdout (errors and warnings
    /// still go to stderr).
    #[arg(short, long)]
    pub quiet: bool,

    /// List the embedded models and exit.
    #[arg(long)]
    pub list_models: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CliMode {
    Working,
    Native,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CliUpsampling {
    Guided,
    Bilinear,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CliFormat {
    Png,
    Jpeg,
    Tiff,
    Ppm,
    /// Lossless WebP.
    Webp,
    Bmp,
    /// 256 colours (a palette chosen per image).
    Gif,
}

impl CliFormat {
    pub fn image_format(self) -> image::ImageFormat {
        match self {
            CliFormat::Png => image::ImageFormat::Png,
            CliFormat::Jpeg => image::ImageFormat::Jpeg,
            CliFormat::Tiff => image::ImageFormat::Tiff,
            CliFormat::Ppm => image::ImageFormat::Pnm,
            CliFormat::Webp => image::ImageFormat::WebP,
            CliFormat::Bmp => image::ImageFormat::Bmp,
            CliFormat::Gif => image::ImageFormat::Gif,
        }
    }
}

fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .ok_or("expected WIDTHxHEIGHT, e.g. 640x480")?;
    let parse = |s: &str| s.trim().parse::<u32>().ok().filter(|&n| n >= 1);
    match (parse(w), parse(h)) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err("width and height must be whole numbers >= 1, e.g. 640x480".to_string()),
    }
}

fn parse_shard(text: &str) -> Result<(u32, u32), String> {
    let usage = "expected K/N with 1 <= K <= N, e.g. 3/8";
    let (k, n) = text.split_once('/').ok_or(usage)?;
    match (k.trim().parse::<u32>(), n.trim().parse::<u32>()) {
        (Ok(k), Ok(n)) if (1..=n).contains(&k) => Ok((k, n)),
        _ => Err(usage.to_string()),
    }
}

/// Loads `--model`: a path if such a file exists or it looks like one, else a name.
pub fn load_model(spec: &str) -> colorize::Result<colorize::Model> {
    let path = PathBuf::from(spec);
    if path.is_file() || spec.ends_with(".onnx") || spec.contains(std::path::MAIN_SEPARATOR) {
        colorize::Model::from_file(&path)
    } else {
        colorize::Model::from_name(spec)
    }
}

fn main() -> ExitCode {
    // Over a file size limit (`ulimit -f`) a write must fail with a clear error (EFBIG) and
    // leave no partial output, instead of SIGXFSZ killing the process mid-file.
    // SAFETY: sets a signal disposition at start-up, before any other thread exists.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    let args: Vec<OsString> = std::env::args_os().collect();
    // The subcommands get their own argument list, starting with their name.
    match args.get(1).and_then(|a| a.to_str()) {
        Some("eval") => return eval::run(args[1..].to_vec()),
        Some("compare") => return compare::run(args[1..].to_vec()),
        _ => {}
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    if !cli.saturation.is_finite() || cli.saturation < 0.0 {
        eprintln!("colorize: --saturation must be a number >= 0 (1 = as predicted)");
        return ExitCode::from(2);
    }
    if let Some(t) = cli
        .tile_size
        .filter(|t| !(16..=colorize::MAX_NETWORK_SIDE as u32).contains(t))
    {
        eprintln!(
            "colorize: --tile-size {t} must be from 16 to {}",
            colorize::MAX_NETWORK_SIDE
        );
        return ExitCode::from(2);
    }
    if let Some(s) = cli
        .size
        .filter(|s| !(1..=colorize::MAX_NETWORK_SIDE as u32).contains(s))
    {
        eprintln!(
            "colorize: --size {s} must be from 1 to {}",
            colorize::MAX_NETWORK_SIDE
        );
        return ExitCode::from(2);
    }
    if cli.list_models {
        let default = colorize::default_model_name();
        for name in colorize::available_models() {
            println!(
                "{name}{}",
                if Some(name) == default {
                    " (default)"
                } else {
                    ""
                }
            );
        }
        // Installed models (NAME.onnx in the COLORIZE_MODEL_PATH folders), with their folder.
        let installed = colorize::installed_models();
        for (name, path) in &installed {
            let folder = path.parent().unwrap_or(path);
            let hidden = if colorize::available_models().contains(&name.as_str()) {
                ", hidden by the embedded model of that name"
            } else {
                ""
            };
            println!("{name} (installed in {}{hidden})", folder.display());
        }
        if colorize::available_models().is_empty() {
            eprintln!("colorize: this build has no embedded models; use --model FILE.onnx");
        }
        if installed.is_empty() && std::env::var_os(colorize::MODEL_PATH_VAR).is_none() {
            eprintln!(
                "colorize: {} is not set; set it to folders of NAME.onnx models to install more (docs/models.md)",
                colorize::MODEL_PATH_VAR
            );
        }
        return ExitCode::SUCCESS;
    }
    batch::run(&cli)
}
