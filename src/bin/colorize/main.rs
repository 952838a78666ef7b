//! `colorize`: colorize black-and-white photos from the command line.
//!
//! `colorize IN -o OUT` for one file; folders are mirrored into an output folder; `-` is
//! stdin/stdout. `colorize eval ...` and `colorize compare ...` are clap subcommands
//! (eval.rs, compare.rs). Exit status: 0 all done, 1 some inputs failed, 2 usage error
//! (nothing done), 128+N stopped by signal N. A closed stdout (`| head -1`) only stops the
//! output-path lines: the batch is finished and the status is as without it.

mod batch;
mod compare;
mod eval;
mod jpeg;
mod metadata;
mod profile;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Plausible colour for black-and-white photographs. Colour inputs are first reduced to
/// their lightness (CIE L*); every output keeps the input's L* and alpha.
#[derive(Parser, Debug)]
#[command(
    name = "colorize",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Examples:\n  colorize old.jpg -o new.jpg\n  colorize scans/ -o coloured/ --jobs 2 --skip-existing --print\n  \
                  colorize scans/ -o coloured/ --shard 3/8 --skip-existing --report r3.jsonl\n  \
                  convert photo.jpg pgm:- | colorize - -o - | convert - out.jpg"
)]
struct Command {
    #[command(subcommand)]
    tool: Option<Tool>,
    #[command(flatten)]
    run: Cli,
}

#[derive(Subcommand, Debug)]
enum Tool {
    /// Scores models on colour photos (PSNR, AuC of the a*b* error, colourfulness) beside
    /// the grayscale baseline.
    Eval(eval::EvalArgs),
    /// Colorizes photos with several models and writes one comparison grid image.
    Compare(compare::CompareArgs),
    /// Writes the man page colorize(1), in roff, on stdout (for packagers; hidden).
    #[command(name = "generate-man", hide = true)]
    GenerateMan,
    /// Writes the completion script of a shell on stdout (for packagers; hidden).
    #[command(name = "generate-completions", hide = true)]
    GenerateCompletions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// `colorize generate-man` and `generate-completions`: written from the clap definition
/// itself, so the man page and the completions always match the options.
fn generate(tool: &Tool) -> ExitCode {
    use clap::CommandFactory;
    let mut command = Command::command();
    // Written whole into memory first: clap_complete panics on a write error (a closed pipe).
    let mut text = Vec::new();
    match tool {
        Tool::GenerateMan => clap_mangen::Man::new(command)
            .render(&mut text)
            .expect("writing into memory"),
        Tool::GenerateCompletions { shell } => {
            clap_complete::generate(*shell, &mut command, "colorize", &mut text)
        }
        Tool::Eval(_) | Tool::Compare(_) => unreachable!("not a generator"),
    }
    let mut out = std::io::stdout().lock();
    match std::io::Write::write_all(&mut out, &text).and_then(|()| std::io::Write::flush(&mut out))
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("colorize: cannot write to stdout: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Colorizing files, folders and streams (the command without a subcommand).
#[derive(Args, Debug)]
pub struct Cli {
    /// Input files, folders (searched recursively), globs ("scans/*.tif"), or - for stdin.
    #[arg(required_unless_present_any = ["list_models", "files_from"])]
    pub inputs: Vec<String>,

    /// Output file, or folder (for several inputs or a folder; created if missing), or - for stdout.
    #[arg(short, long, required_unless_present = "list_models")]
    pub output: Option<String>,

    /// Model: an embedded or installed name (see --list-models; docs/models.md), `default`,
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

    /// How vivid a classification model's colours are (default: the model's own; 1 = the
    /// mean of its predicted colours, muted; higher = nearer the most likely colour, more
    /// vivid and patchier; 0.1 to 10). Regression models such as `general` refuse it.
    #[arg(long, value_name = "V")]
    pub vividness: Option<f32>,

    /// working: run at the working size and upsample colour (fast); native: full resolution in tiles.
    #[arg(long, value_enum, default_value_t = CliMode::Working)]
    pub mode: CliMode,

    /// Working-mode colour upsampling: guided (follows the photo's edges) or bilinear.
    #[arg(long, value_enum, default_value_t = CliUpsampling::Guided)]
    pub upsampling: CliUpsampling,

    /// Arithmetic of the network: bf16 (AMX tiles, several times faster on Intel Xeon 4th
    /// generation and later; f32 on other CPUs) or f32 (as trained).
    #[arg(long, value_enum, default_value_t = CliPrecision::from(colorize::Precision::default()))]
    pub precision: CliPrecision,

    /// Tile side for --mode native (default 512).
    #[arg(long, value_name = "PIXELS")]
    pub tile_size: Option<u32>,

    /// Output format (default: the output file's extension, which must be one of these;
    /// in a folder batch the input's format if PNG, JPEG, TIFF or PNM, else PNG; PNG for
    /// stdout).
    #[arg(long, value_enum)]
    pub format: Option<CliFormat>,

    /// JPEG quality, 1 to 100 (default: a JPEG input's own, estimated from its
    /// quantisation tables; else 92).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=100))]
    pub quality: Option<u8>,

    /// JPEG chroma subsampling: 444, 422 or 420 (default: a JPEG input's own; else 444).
    #[arg(long, value_name = "444|422|420", value_parser = metadata::parse_subsampling)]
    pub subsampling: Option<metadata::Subsampling>,

    /// Write none of the input's metadata (EXIF, XMP, IPTC, ICC profile, resolution).
    #[arg(long)]
    pub strip: bool,

    /// Convert the output back to the input's ICC profile and tag it with that profile
    /// (default: converted to sRGB and tagged sRGB).
    #[arg(long)]
    pub keep_profile: bool,

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

    /// Print each output's path on stdout as it is written, one per line.
    #[arg(long)]
    pub print: bool,

    /// Print each output's path on stdout followed by a NUL byte instead of a newline (for
    /// `xargs -0`; file names may hold newlines).
    #[arg(short = '0', long = "print0")]
    pub print0: bool,

    /// No progress bar and no summary line (errors and warnings still go to stderr; output
    /// paths only with --print or -0).
    #[arg(short, long)]
    pub quiet: bool,

    /// Enter symbolic links to folders when searching input folders (each folder is
    /// searched once, so link loops end). Without it they are skipped with a note.
    #[arg(long)]
    pub follow_links: bool,

    /// Decode a JPEG that ends before its end marker (a cut-off copy) instead of refusing
    /// it; the missing rows come out flat.
    #[arg(long)]
    pub accept_truncated: bool,

    /// Memory for the images in progress together, e.g. 4G or 800M (default: three
    /// quarters of the memory available at start). An image whose estimated peak is over
    /// it is refused before it is decoded; images run at once only as far as their
    /// estimates fit.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub memory_budget: Option<u64>,

    /// List the embedded and installed models and exit.
    #[arg(long)]
    pub list_models: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum CliMode {
    Working,
    Native,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum CliPrecision {
    F32,
    Bf16,
}

impl From<colorize::Precision> for CliPrecision {
    fn from(precision: colorize::Precision) -> Self {
        match precision {
            colorize::Precision::F32 => CliPrecision::F32,
            colorize::Precision::Bf16 => CliPrecision::Bf16,
        }
    }
}

impl From<CliPrecision> for colorize::Precision {
    fn from(precision: CliPrecision) -> Self {
        match precision {
            CliPrecision::F32 => colorize::Precision::F32,
            CliPrecision::Bf16 => colorize::Precision::Bf16,
        }
    }
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

fn parse_bytes(text: &str) -> Result<u64, String> {
    let usage = "expected a size in bytes, e.g. 4G, 800M, 1500000000";
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| !(c.is_ascii_digit() || c == '.')) {
        Some(i) => text.split_at(i),
        None => (text, ""),
    };
    let scale: u64 = match unit
        .trim()
        .to_ascii_uppercase()
        .trim_end_matches(['B', 'I'])
    {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => return Err(usage.to_string()),
    };
    match number.parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 1.0 => Ok((n * scale as f64) as u64),
        _ => Err(usage.to_string()),
    }
}

/// Loads `--model` by the library's one rule (a value with a `/` or ending in `.onnx` is a
/// file, anything else a model name), so a file in the working folder never replaces a name.
pub fn load_model(spec: &str) -> colorize::Result<colorize::Model> {
    // Opening a FIFO for reading blocks until a writer comes: only regular files are read.
    if spec.contains('/') || spec.ends_with(".onnx") {
        if let Ok(meta) = std::fs::metadata(spec) {
            if !meta.is_file() {
                return Err(colorize::Error::new(
                    colorize::ErrorKind::ModelLoad,
                    format!("{spec}: not a regular file (a model is read only from a file)"),
                ));
            }
        }
    }
    colorize::Model::from_name_or_path(spec)
}

fn main() -> ExitCode {
    // Over a file size limit (`ulimit -f`) a write must fail with a clear error (EFBIG) and
    // leave no partial output, instead of SIGXFSZ killing the process mid-file.
    // SAFETY: sets a signal disposition at start-up, before any other thread exists.
    unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
    colorize::budget::keep_freed_memory();
    let cli = match Command::try_parse() {
        Ok(Command {
            tool: Some(tool), ..
        }) => {
            return match tool {
                Tool::Eval(args) => eval::run(&args),
                Tool::Compare(args) => compare::run(&args),
                Tool::GenerateMan | Tool::GenerateCompletions { .. } => generate(&tool),
            }
        }
        Ok(Command { run, .. }) => run,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    // The library's one check of options (the same the engine and the C API run), before
    // any work; 0, "the default" there, is not a value the flags offer.
    let checked = colorize::Options {
        working_size: cli.size.unwrap_or(0),
        saturation: cli.saturation,
        vividness: cli.vividness.unwrap_or(0.0),
        tile_size: cli.tile_size.unwrap_or(0),
        ..Default::default()
    };
    if let Err(e) = checked.validate() {
        eprintln!("colorize: {e} (--saturation, --vividness, --size, --tile-size)");
        return ExitCode::from(2);
    }
    if cli.vividness == Some(0.0) {
        eprintln!(
            "colorize: --vividness must be from 0.1 to 10 (leave it out for the model's default)"
        );
        return ExitCode::from(2);
    }
    if cli.size == Some(0) || cli.tile_size == Some(0) {
        eprintln!(
            "colorize: --size and --tile-size must be at least 1 (leave them out for the defaults)"
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
        // Installed models (NAME.onnx in COLORIZE_MODEL_PATH, the user's and the system's
        // model folders), with their folder.
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
        if installed.is_empty() {
            let folders: Vec<String> = colorize::model_folders()
                .iter()
                .map(|f| f.display().to_string())
                .collect();
            eprintln!(
                "colorize: no installed models; put NAME.onnx files in one of {} \
                 (searched in this order; {} comes first; docs/models.md)",
                folders.join(", "),
                colorize::MODEL_PATH_VAR
            );
        }
        return ExitCode::SUCCESS;
    }
    batch::run(&cli)
}
