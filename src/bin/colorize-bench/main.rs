//! `colorize-bench`: the performance benchmark, in one command.
//!
//! (a) the network alone, our engine vs Python onnxruntime and Python OpenVINO (same ONNX
//!     bytes, threads and input), sizes 256/512/1024, interleaved, ratios printed;
//! (b) the CLI end to end on a 12 MP grey JPEG, split into stages;
//! (c) peak RSS of the CLI on a 50 MP grey JPEG, working vs native (tiled) mode;
//! (d) on request (`--only depths`): 8-bit vs 16-bit vs float buffers through the library.
//!
//! `cargo build --release --features bench && target/release/colorize-bench`
//! (docs/performance.md; the levers measured with it: PERF_NOTES.md). Needs
//! `python3 -m pip install onnxruntime openvino numpy` for (a) (without openvino, (a) says
//! why and times ONNX Runtime only).

mod depths;
mod images;
mod memory;
mod network;
mod pipeline;
mod profile;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Parser, ValueEnum};
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Part {
    Network,
    E2e,
    Rss,
    /// 8-bit vs 16-bit vs float buffers through the library (not in the default run).
    Depths,
}

/// Engine performance: network vs ONNX Runtime, end to end, peak memory.
#[derive(Parser, Debug)]
#[command(name = "colorize-bench")]
struct Args {
    /// ONNX model (default: the embedded default model's file in src/models).
    #[arg(short, long)]
    model: Option<PathBuf>,
    /// Threads for both runtimes (our rayon/tract pool, ORT intra-op) and the CLI runs.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Square input sides for the network comparison.
    #[arg(long, value_delimiter = ',', default_value = "256,512,1024")]
    sizes: Vec<usize>,
    /// Interleaved rounds per size (0: 11 / 7 / 5 by size).
    #[arg(long, default_value_t = 0)]
    rounds: usize,
    /// Parts to run (default: all three).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Part>,
    /// End-to-end image size, WIDTHxHEIGHT (12 MP).
    #[arg(long, default_value = "4000x3000")]
    e2e_size: String,
    /// Runs per end-to-end stage (median reported).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Image size for the bit-depth comparison (`--only depths`), WIDTHxHEIGHT.
    #[arg(long, default_value = "3000x2000")]
    depths_size: String,
    /// Peak-memory image size, WIDTHxHEIGHT (50 MP).
    #[arg(long, default_value = "8660x5774")]
    rss_size: String,
    /// Modes for the peak-memory runs.
    #[arg(long, value_delimiter = ',', default_value = "working,native")]
    rss_modes: Vec<String>,
    /// Network comparison without OpenVINO (ONNX Runtime only).
    #[arg(long)]
    no_openvino: bool,
    /// Python interpreter with onnxruntime, openvino and numpy.
    #[arg(long, default_value = "python3")]
    python: String,
    /// Where generated inputs and scratch files go.
    #[arg(long, default_value = "target/bench")]
    work_dir: PathBuf,
    /// Also write the results as JSON here (read by tests/ci.d/70-bench-guard.sh).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Instead of benchmarking: write --model with its 4x4 stride-2 ConvTransposes rewritten
    /// (exactly) as Conv 3x3 + DepthToSpace to this file, and exit.
    #[arg(long, value_name = "OUT.onnx")]
    rewrite_deconv: Option<PathBuf>,
    /// Our engine's precisions for the network comparison (f32, bf16); ORT runs f32.
    #[arg(long, value_delimiter = ',', default_value = "f32,bf16")]
    precisions: Vec<String>,
    /// Override one of tract's knobs for this run (A/B tests of PERF_NOTES.md), e.g.
    /// TRACT_DISABLE_DIRECT_SPATIAL=false. Repeatable.
    #[arg(long, value_name = "NAME=VALUE")]
    tract_knob: Vec<String>,
    /// Instead of benchmarking: time tract's plan node by node at SIZE x SIZE, and exit.
    #[arg(long, value_name = "SIZE")]
    profile: Option<usize>,
}

fn parse_precision(name: &str) -> Result<colorize::Precision> {
    match name {
        "f32" => Ok(colorize::Precision::F32),
        "bf16" => Ok(colorize::Precision::Bf16),
        other => bail!("--precisions: unknown precision {other:?} (f32, bf16)"),
    }
}

#[derive(Serialize, Default)]
struct Report {
    machine: String,
    model: String,
    threads: usize,
    onnxruntime: Option<String>,
    openvino: Option<String>,
    /// Why OpenVINO was not measured (not installed, --no-openvino).
    openvino_skipped: Option<String>,
    network: Vec<network::SizeResult>,
    end_to_end: Option<pipeline::Stages>,
    peak_rss: Vec<memory::PeakRss>,
    depths: Option<depths::Depths>,
}

fn parse_size(text: &str) -> Result<(u32, u32)> {
    let (w, h) = text
        .split_once('x')
        .with_context(|| format!("size '{text}' is not WIDTHxHEIGHT"))?;
    Ok((w.parse()?, h.parse()?))
}

fn default_model_path() -> Result<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/models");
    let name = std::fs::read_to_string(dir.join("DEFAULT"))
        .ok()
        .map(|s| s.trim().to_string())
        .or_else(|| colorize::default_model_name().map(str::to_string));
    match name {
        Some(name) if dir.join(format!("{name}.onnx")).is_file() => {
            Ok(dir.join(format!("{name}.onnx")))
        }
        _ => bail!(
            "no default model file in {} yet: pass --model FILE.onnx",
            dir.display()
        ),
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, load average {load} at start")
}

fn main() -> Result<()> {
    colorize::budget::keep_freed_memory();
    let args = Args::parse();
    let parts = if args.only.is_empty() {
        vec![Part::Network, Part::E2e, Part::Rss]
    } else {
        args.only.clone()
    };
    rayon::ThreadPoolBuilder::new()
        .num_threads(args.threads)
        .build_global()
        .context("building the thread pool")?;
    // The CLI runs (e2e, rss) inherit this, so they use the same thread count.
    std::env::set_var("RAYON_NUM_THREADS", args.threads.to_string());
    let model_path = match &args.model {
        Some(p) => p.clone(),
        None => default_model_path()?,
    };
    std::fs::create_dir_all(&args.work_dir)?;
    let work_dir = args.work_dir.canonicalize()?;
    let cli = std::env::current_exe()?.with_file_name("colorize");
    for knob in &args.tract_knob {
        let (name, value) = knob
            .split_once('=')
            .with_context(|| format!("--tract-knob {knob}: expected NAME=VALUE"))?;
        if !tract_onnx::tract_core::knobs::set_str(name, value) {
            bail!("--tract-knob: tract has no knob named {name}");
        }
    }
    if let Some(out) = &args.rewrite_deconv {
        return rewrite_file(&model_path, out);
    }
    if let Some(size) = args.profile {
        return profile::run(&model_path, size, 3);
    }
    let mut report = Report {
        machine: machine(),
        model: model_path.display().to_string(),
        threads: args.threads,
        ..Default::default()
    };
    println!("machine: {}", report.machine);
    println!("model:   {} ; threads: {}", report.model, args.threads);

    if parts.contains(&Part::Network) {
        let model = colorize::Model::from_file(&model_path)?;
        let mut ort = network::PeerRunner::start_ort(&args.python, &model_path, args.threads)?;
        report.onnxruntime = Some(ort.version.clone());
        let precisions = args
            .precisions
            .iter()
            .map(|name| parse_precision(name))
            .collect::<Result<Vec<_>>>()?;
        // One OpenVINO process per precision it runs at (each compiles its own plans).
        let mut openvino: Vec<(&'static str, network::PeerRunner)> = Vec::new();
        if args.no_openvino {
            report.openvino_skipped = Some("--no-openvino".into());
        } else {
            for &precision in &precisions {
                let ov_precision = network::openvino_precision(precision);
                if openvino.iter().any(|(p, _)| *p == ov_precision) {
                    continue;
                }
                match network::PeerRunner::start_openvino(
                    &args.python,
                    &model_path,
                    args.threads,
                    ov_precision,
                ) {
                    Ok(runner) => {
                        report.openvino = Some(runner.version.clone());
                        openvino.push((ov_precision, runner));
                    }
                    Err(e) => {
                        println!("OpenVINO skipped: {e:#}");
                        report.openvino_skipped = Some(format!("{e:#}"));
                        openvino.clear();
                        break;
                    }
                }
            }
        }
        println!(
            "\n(a) network alone, ours (tract) vs onnxruntime {} and OpenVINO {}",
            ort.version,
            report.openvino.as_deref().unwrap_or("(skipped)")
        );
        println!(
            "    (ORT runs f32 in every row: its CPU provider has no bf16 convolution, so the"
        );
        println!("     bf16 rows' ours/ORT is against what a user would otherwise run; OpenVINO");
        println!("     runs at the precision ours ran: bf16 where the CPU has AMX-BF16, else f32)");
        println!(
            "{:>6} {:>9} {:>11} {:>11} {:>10} {:>8} {:>12} {:>8} {:>9} {:>9}",
            "size",
            "precision",
            "ours first",
            "ours med",
            "ORT f32",
            "ours/ORT",
            "OpenVINO",
            "ours/OV",
            "|d| ORT",
            "|d| OV"
        );
        for &precision in &precisions {
            if !precision.runs_natively() {
                println!(
                    "    {}: this CPU has no AMX-BF16, so it runs as f32",
                    precision.name()
                );
            }
        }
        for &size in &args.sizes {
            for &precision in &precisions {
                let rounds = network::rounds_for(size, args.rounds);
                let ov_precision = network::openvino_precision(precision);
                let ov = openvino
                    .iter_mut()
                    .find(|(p, _)| *p == ov_precision)
                    .map(|(_, r)| r);
                let r =
                    network::bench_size(&model, &mut ort, ov, &work_dir, size, precision, rounds)?;
                let ov_time = match (&r.openvino_precision, r.openvino_median_s) {
                    (Some(p), Some(t)) => format!("{:.1}ms {p}", t * 1e3),
                    _ => "-".into(),
                };
                let opt = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
                println!(
                    "{:>6} {:>9} {:>9.1}ms {:>9.1}ms {:>8.1}ms {:>8.2} {:>12} {:>8} {:>9.2e} {:>9}",
                    r.size,
                    r.precision,
                    r.ours_first_s * 1e3,
                    r.ours_median_s * 1e3,
                    r.ort_median_s * 1e3,
                    r.ratio,
                    ov_time,
                    opt(r.ratio_openvino),
                    r.max_abs_diff,
                    r.max_abs_diff_openvino
                        .map_or("-".into(), |d| format!("{d:.2e}")),
                );
                report.network.push(r);
            }
        }
    }

    if parts.contains(&Part::E2e) {
        ensure_cli(&cli)?;
        let (w, h) = parse_size(&args.e2e_size)?;
        let input = images::grey_jpeg(&work_dir, w, h)?;
        let s = pipeline::run(&model_path, &input, &work_dir, &cli, args.repeats.max(1))?;
        let mp = (s.width * s.height) as f64 / 1e6;
        println!(
            "\n(b) end to end, {}x{} ({mp:.1} MP) grey JPEG -> colour JPEG, working shape {}x{}",
            s.width, s.height, s.working_shape.0, s.working_shape.1
        );
        for (name, t) in [
            ("decode", s.decode_s),
            ("colour in (sRGB -> L*)", s.colour_in_s),
            (
                "  (same, grey table; not in the sum)",
                s.colour_in_grey_lut_s,
            ),
            ("network", s.network_s),
            ("resize + upsampling", s.resize_upsample_s),
            ("colour out (L*a*b* -> sRGB)", s.colour_out_s),
            ("encode", s.encode_s),
            ("sum of stages (warm, in-process)", s.total_s),
            ("model load + plan (once per process)", s.model_load_s),
            ("colorize CLI wall time (fresh process)", s.cli_wall_s),
        ] {
            println!("  {name:<40} {:>8.1} ms", t * 1e3);
        }
        report.end_to_end = Some(s);
    }

    if parts.contains(&Part::Rss) {
        ensure_cli(&cli)?;
        let (w, h) = parse_size(&args.rss_size)?;
        let input = images::grey_jpeg(&work_dir, w, h)?;
        let mp = f64::from(w) * f64::from(h) / 1e6;
        println!("\n(c) peak RSS of the colorize CLI, {w}x{h} ({mp:.1} MP) grey JPEG");
        for mode in &args.rss_modes {
            let r = memory::measure(&cli, &model_path, &input, &work_dir, mode, mp)?;
            println!(
                "  {:<8} {:>8.0} MiB  ({:.1} s)",
                r.mode, r.peak_rss_mib, r.wall_s
            );
            report.peak_rss.push(r);
        }
    }

    if parts.contains(&Part::Depths) {
        let model = colorize::Model::from_file(&model_path)?;
        let (w, h) = parse_size(&args.depths_size)?;
        let d = depths::run(&model, w as usize, h as usize, args.repeats.max(1))?;
        println!(
            "\n(d) bit depths, {}x{} RGB buffer, the 8-bit call as the peer (median of {})",
            d.width,
            d.height,
            args.repeats.max(1)
        );
        for (name, t) in [
            ("colorize_rgb8", d.rgb8_s),
            ("colorize_rgb16", d.rgb16_s),
            ("colorize_rgb_float (sRGB)", d.rgb_float_s),
            ("colorize_rgb_float (linear)", d.rgb_float_linear_s),
        ] {
            println!(
                "  {name:<30} {:>8.1} ms  {:>5.2}x rgb8",
                t * 1e3,
                t / d.rgb8_s
            );
        }
        report.depths = Some(d);
    }

    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

fn ensure_cli(cli: &Path) -> Result<()> {
    if !cli.is_file() {
        bail!(
            "{} not found: build it with `cargo build --release --features bench`",
            cli.display()
        );
    }
    Ok(())
}

fn rewrite_file(input: &Path, output: &Path) -> Result<()> {
    use prost::Message;
    use tract_onnx::prelude::Framework;
    let bytes = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    let mut proto = tract_onnx::onnx()
        .proto_model_for_read(&mut &*bytes)
        .with_context(|| format!("{} is not an ONNX file", input.display()))?;
    let n = colorize::deconv_rewrite::rewrite_model(&mut proto);
    std::fs::write(output, proto.encode_to_vec())
        .with_context(|| format!("writing {}", output.display()))?;
    println!(
        "{}: {n} ConvTranspose node(s) rewritten -> {}",
        input.display(),
        output.display()
    );
    Ok(())
}
