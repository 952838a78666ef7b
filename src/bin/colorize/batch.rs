//! Plans and runs a batch: expands inputs (files, folders, globs, stdin) into jobs with
//! their output paths, refuses outputs that would overwrite an input, then colorizes the
//! jobs in parallel, each written atomically.

use std::collections::{HashMap, HashSet};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use image::ImageFormat;
use rayon::prelude::*;

use crate::{Cli, CliMode};

/// File extensions read when searching folders.
const IMAGE_EXTENSIONS: &[&str] = &[
    "png", "jpg", "jpeg", "tif", "tiff", "pgm", "ppm", "pnm", "pbm", "pam", "bmp", "webp", "gif",
    "tga", "qoi",
];

#[derive(Debug, Clone)]
enum Source {
    Stdin,
    File(PathBuf),
}

#[derive(Debug, Clone)]
enum Sink {
    Stdout,
    File(PathBuf),
}

#[derive(Debug)]
struct Job {
    source: Source,
    sink: Sink,
    format: ImageFormat,
}

impl Source {
    fn label(&self) -> String {
        match self {
            Source::Stdin => "<stdin>".to_string(),
            Source::File(p) => p.display().to_string(),
        }
    }
}

fn is_glob(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

fn has_image_extension(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| IMAGE_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Image files under `dir`, sorted, skipping hidden entries and the folder `exclude`.
fn walk(dir: &Path, exclude: Option<&Path>, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for path in entries {
        if path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'))
        {
            continue;
        }
        if path.is_dir() {
            if exclude.is_some_and(|ex| path.canonicalize().is_ok_and(|c| c == ex)) {
                continue;
            }
            walk(&path, exclude, found)?;
        } else if has_image_extension(&path) {
            found.push(path);
        }
    }
    Ok(())
}

/// The output format of a job: --format, else the output file's extension, else the
/// input's own format when it can be written, else PNG.
fn output_format(cli: &Cli, output_name: Option<&Path>, input: Option<&Path>) -> ImageFormat {
    cli.format
        .map(|f| f.image_format())
        .or_else(|| output_name.and_then(colorize::io::format_for_path))
        .or_else(|| input.and_then(colorize::io::format_for_path))
        .unwrap_or(ImageFormat::Png)
}

/// Output file name in a folder batch: the input's stem with the format's extension
/// (keeping the input's spelling when it already names that format, e.g. `.jpeg`).
fn output_name(input: &Path, format: ImageFormat) -> PathBuf {
    let stem = input.file_stem().unwrap_or_default();
    let ext = match input.extension().and_then(|e| e.to_str()) {
        Some(e)
            if colorize::io::format_for_path(input) == Some(format)
                && format != ImageFormat::Pnm =>
        {
            e.to_string()
        }
        _ => colorize::io::extension_of(format).to_string(),
    };
    let mut name = PathBuf::from(stem);
    name.set_extension(ext);
    name
}

struct Plan {
    jobs: Vec<Job>,
    /// Inputs that could not be expanded: (input, message).
    errors: Vec<(String, String)>,
}

/// Absolute, symlink-resolved form of a path that may not exist yet.
fn resolved(path: &Path) -> Option<PathBuf> {
    if let Ok(c) = path.canonicalize() {
        return Some(c);
    }
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Some(parent.canonicalize().ok()?.join(path.file_name()?))
}

fn plan(cli: &Cli) -> Result<Plan, String> {
    let output = cli.output.as_deref().expect("clap requires --output");
    let to_stdout = output == "-";
    let mut errors = Vec::new();
    // (source, folder root it was found under, if any)
    let mut sources: Vec<(Source, Option<PathBuf>)> = Vec::new();
    let out_dir_resolved = if to_stdout {
        None
    } else {
        resolved(Path::new(output))
    };
    let mut folder_inputs = 0;
    for input in &cli.inputs {
        if input == "-" {
            sources.push((Source::Stdin, None));
            continue;
        }
        let path = PathBuf::from(input);
        if path.is_dir() {
            folder_inputs += 1;
            let mut found = Vec::new();
            match walk(&path, out_dir_resolved.as_deref(), &mut found) {
                Ok(()) if found.is_empty() => {
                    errors.push((input.clone(), "no images in this folder".to_string()))
                }
                Ok(()) => sources.extend(
                    found
                        .into_iter()
                        .map(|f| (Source::File(f), Some(path.clone()))),
                ),
                Err(e) => errors.push((input.clone(), e.to_string())),
            }
        } else if path.exists() {
            sources.push((Source::File(path), None));
        } else if is_glob(input) {
            match glob::glob(input) {
                Ok(paths) => {
                    let matched: Vec<PathBuf> = paths.flatten().filter(|p| p.is_file()).collect();
                    if matched.is_empty() {
                        errors.push((input.clone(), "no file matches this pattern".to_string()));
                    }
                    sources.extend(matched.into_iter().map(|p| (Source::File(p), None)));
                }
                Err(e) => errors.push((input.clone(), format!("bad pattern: {e}"))),
            }
        } else {
            errors.push((input.clone(), "no such file or folder".to_string()));
        }
    }
    if sources
        .iter()
        .filter(|(s, _)| matches!(s, Source::Stdin))
        .count()
        > 1
    {
        return Err("- (stdin) may be given only once".to_string());
    }
    let single_file = cli.inputs.len() == 1
        && folder_inputs == 0
        && sources.len() <= 1
        && !is_glob(&cli.inputs[0]);
    let output_is_folder = !to_stdout
        && (!single_file
            || Path::new(output).is_dir()
            || output.ends_with(std::path::MAIN_SEPARATOR));
    if to_stdout && (sources.len() + errors.len() > 1 || folder_inputs > 0 || cli.inputs.len() > 1)
    {
        return Err("-o - (stdout) takes exactly one input file".to_string());
    }
    let mut jobs = Vec::new();
    for (source, root) in sources {
        let input_path = match &source {
            Source::File(p) => Some(p.as_path()),
            Source::Stdin => None,
        };
        let (sink, format) = if to_stdout {
            (Sink::Stdout, output_format(cli, None, None))
        } else if output_is_folder {
            let format = output_format(cli, None, input_path);
            let relative = match (&source, &root) {
                (Source::File(p), Some(root)) => {
                    let inner = p.strip_prefix(root).unwrap_or(p).to_path_buf();
                    let dir = inner.parent().map(Path::to_path_buf).unwrap_or_default();
                    // Several inputs: each folder is mirrored under its own name.
                    let dir = if cli.inputs.len() > 1 {
                        PathBuf::from(root.file_name().unwrap_or_default()).join(dir)
                    } else {
                        dir
                    };
                    dir.join(output_name(p, format))
                }
                (Source::File(p), None) => output_name(p, format),
                (Source::Stdin, _) => output_name(Path::new("stdin"), format),
            };
            (Sink::File(Path::new(output).join(relative)), format)
        } else {
            let out = PathBuf::from(output);
            let format = output_format(cli, Some(&out), input_path);
            (Sink::File(out), format)
        };
        jobs.push(Job {
            source,
            sink,
            format,
        });
    }
    Ok(Plan { jobs, errors })
}

/// Refuses jobs whose output is one of the inputs or another job's output. Returns the
/// jobs kept and the resolved input paths (checked again just before each write, once the
/// output's folder exists and its path can be fully resolved).
fn check_collisions(
    jobs: Vec<Job>,
    errors: &mut Vec<(String, String)>,
) -> (Vec<Job>, HashSet<PathBuf>) {
    let inputs: HashSet<PathBuf> = jobs
        .iter()
        .filter_map(|j| match &j.source {
            Source::File(p) => p.canonicalize().ok(),
            Source::Stdin => None,
        })
        .collect();
    let mut outputs: HashMap<PathBuf, String> = HashMap::new();
    let mut kept = Vec::new();
    for job in jobs {
        if let Sink::File(out) = &job.sink {
            let key = resolved(out).unwrap_or_else(|| out.clone());
            if inputs.contains(&key) {
                errors.push((
                    job.source.label(),
                    format!("refusing to overwrite an input: {}", out.display()),
                ));
                continue;
            }
            if let Some(other) = outputs.get(&key) {
                errors.push((
                    job.source.label(),
                    format!("{} would also be written from {other}", out.display()),
                ));
                continue;
            }
            outputs.insert(key, job.source.label());
        }
        kept.push(job);
    }
    (kept, inputs)
}

fn run_job(
    job: &Job,
    cli: &Cli,
    model: &colorize::Model,
    options: &colorize::Options,
    inputs: &HashSet<PathBuf>,
) -> colorize::Result<()> {
    let limits = colorize::io::Limits {
        max_pixels: cli.max_pixels,
        ..Default::default()
    };
    let image = match &job.source {
        Source::Stdin => {
            let bytes = colorize::io::read_stream(std::io::stdin().lock(), &limits)?;
            if bytes.is_empty() {
                return Err(colorize::Error::new(
                    colorize::ErrorKind::Io,
                    "stdin is empty",
                ));
            }
            colorize::io::decode_bytes(&bytes, &limits)?
        }
        Source::File(path) => colorize::io::decode_file(path, &limits)?,
    };
    let image = match cli.resize {
        Some((w, h)) => {
            if u64::from(w) * u64::from(h) > cli.max_pixels {
                return Err(colorize::Error::new(
                    colorize::ErrorKind::TooLarge,
                    format!("--resize {w}x{h} is over --max-pixels"),
                ));
            }
            image.resize_exact(w, h, image::imageops::FilterType::Lanczos3)
        }
        None => image,
    };
    let coloured = colorize::colorize_image(model, options, image)?;
    let bytes = colorize::io::encode(&coloured, job.format)?;
    match &job.sink {
        Sink::Stdout => {
            let mut out = std::io::stdout().lock();
            out.write_all(&bytes)
                .and_then(|()| out.flush())
                .map_err(|e| colorize::Error::new(colorize::ErrorKind::Io, format!("stdout: {e}")))
        }
        Sink::File(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| {
                    colorize::Error::new(colorize::ErrorKind::Io, format!("{}: {e}", dir.display()))
                })?;
            }
            if resolved(path).is_some_and(|p| inputs.contains(&p)) {
                return Err(colorize::Error::new(
                    colorize::ErrorKind::InvalidArgument,
                    format!("refusing to overwrite an input: {}", path.display()),
                ));
            }
            colorize::io::write_atomic(path, &bytes)
        }
    }
}

pub fn run(cli: &Cli) -> ExitCode {
    let started = Instant::now();
    let Plan { jobs, mut errors } = match plan(cli) {
        Ok(plan) => plan,
        Err(usage) => {
            eprintln!("colorize: {usage}");
            return ExitCode::from(2);
        }
    };
    let (jobs, inputs) = check_collisions(jobs, &mut errors);
    for (input, message) in &errors {
        eprintln!("colorize: {input}: {message}");
    }
    let skipped = AtomicUsize::new(0);
    let jobs: Vec<Job> = jobs
        .into_iter()
        .filter(|job| match &job.sink {
            Sink::File(p) if cli.skip_existing && p.exists() => {
                skipped.fetch_add(1, Ordering::Relaxed);
                false
            }
            _ => true,
        })
        .collect();
    let failed = AtomicUsize::new(errors.len());
    let done = AtomicUsize::new(0);
    if !jobs.is_empty() {
        let model = match crate::load_model(&cli.model) {
            Ok(m) => m,
            Err(e) => {
                eprintln!("colorize: model {}: {e}", cli.model);
                return ExitCode::from(1);
            }
        };
        let options = colorize::Options {
            working_size: cli.size.unwrap_or(0),
            saturation: cli.saturation,
            mode: match cli.mode {
                CliMode::Working => colorize::Mode::Working,
                CliMode::Native => colorize::Mode::Native,
            },
            tile_size: cli.tile_size.unwrap_or(0),
            upsampling: match cli.upsampling {
                crate::CliUpsampling::Guided => colorize::Upsampling::Guided,
                crate::CliUpsampling::Bilinear => colorize::Upsampling::Bilinear,
            },
        };
        let threads = cli
            .jobs
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1);
        let show_bar = !cli.quiet && std::io::stderr().is_terminal() && jobs.len() > 1;
        let bar = if show_bar {
            indicatif::ProgressBar::new(jobs.len() as u64)
        } else {
            indicatif::ProgressBar::hidden()
        };
        let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
            Ok(pool) => pool,
            Err(e) => {
                eprintln!("colorize: cannot start {threads} threads: {e}");
                return ExitCode::from(1);
            }
        };
        pool.install(|| {
            jobs.par_iter().for_each(|job| {
                match run_job(job, cli, &model, &options, &inputs) {
                    Ok(()) => {
                        done.fetch_add(1, Ordering::Relaxed);
                        if let Sink::File(p) = &job.sink {
                            bar.suspend(|| println!("{}", p.display()));
                        }
                    }
                    Err(e) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        bar.suspend(|| eprintln!("colorize: {}: {e}", job.source.label()));
                    }
                }
                bar.inc(1);
            })
        });
        bar.finish_and_clear();
    }
    let (done, skipped, failed) = (done.into_inner(), skipped.into_inner(), failed.into_inner());
    if !cli.quiet {
        eprintln!(
            "colorize: {done} colorized, {skipped} skipped (already there), {failed} failed, in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    if failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
