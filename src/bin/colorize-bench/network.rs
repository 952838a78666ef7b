//! (a) The network alone: our engine (`Model::run_plane`, the path every call takes: cached
//! concrete-shape plan, tract) against Python onnxruntime on the same ONNX bytes, the same
//! thread count and the same input tensor.
//!
//! Why interleaved: the machine is shared (2 cores, training jobs), so absolute times drift
//! by a factor of two within minutes. Each round runs ours once and ORT once back to back,
//! and the reported ratio is the median of the per-round ratios, which the drift cancels in.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use colorize::Precision;
use serde::Serialize;

use crate::images;

/// The Python ONNX Runtime process (bench/ort_runner.py), driven over its stdin.
pub struct OrtRunner {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    pub version: String,
}

impl OrtRunner {
    pub fn start(python: &str, script: &Path, model: &Path, threads: usize) -> Result<Self> {
        let mut child = Command::new(python)
            .arg(script)
            .arg(model)
            .arg(threads.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .env("OMP_NUM_THREADS", threads.to_string())
            .spawn()
            .with_context(|| format!("starting {python} {}", script.display()))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut runner = OrtRunner {
            child,
            stdin,
            stdout,
            version: String::new(),
        };
        let ready = runner.read_line().context(
            "onnxruntime did not start: install it with `python3 -m pip install onnxruntime numpy` \
             (or pass --python with an interpreter that has it)",
        )?;
        runner.version = ready
            .strip_prefix("ready ")
            .with_context(|| format!("unexpected first line from the ORT runner: {ready}"))?
            .to_string();
        Ok(runner)
    }

    fn read_line(&mut self) -> Result<String> {
        let mut line = String::new();
        if self.stdout.read_line(&mut line)? == 0 {
            bail!("the ORT runner exited");
        }
        let line = line.trim().to_string();
        if let Some(message) = line.strip_prefix("error ") {
            bail!("ORT runner: {message}");
        }
        Ok(line)
    }

    fn command(&mut self, text: &str) -> Result<String> {
        writeln!(self.stdin, "{text}")?;
        self.stdin.flush()?;
        self.read_line()
    }

    fn load(&mut self, h: usize, w: usize, path: &Path) -> Result<()> {
        self.command(&format!("load {h} {w} {}", path.display()))?;
        Ok(())
    }

    fn run(&mut self, h: usize, w: usize) -> Result<f64> {
        let answer = self.command(&format!("run {h} {w}"))?;
        answer
            .parse()
            .with_context(|| format!("ORT runner answered '{answer}'"))
    }

    fn dump(&mut self, h: usize, w: usize, path: &Path) -> Result<()> {
        self.command(&format!("dump {h} {w} {}", path.display()))?;
        Ok(())
    }
}

impl Drop for OrtRunner {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.stdin.flush();
        let _ = self.child.wait();
    }
}

/// One input size's result.
#[derive(Serialize, Clone, Debug)]
pub struct SizeResult {
    pub size: usize,
    /// Our engine's precision (ORT always runs f32: its CPU provider has no bf16 convolution).
    pub precision: String,
    /// False where this CPU lacks what `precision` needs and ran f32 instead.
    pub precision_native: bool,
    /// First run of our engine at this shape: optimising the concrete plan plus one run.
    pub ours_first_s: f64,
    pub ours_median_s: f64,
    pub ort_median_s: f64,
    /// Median over rounds of (ours / ORT) measured back to back.
    pub ratio: f64,
    /// Largest |ours - ORT| over the output a*b*, same input.
    pub max_abs_diff: f32,
    pub rounds: usize,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        0.5 * (values[n / 2 - 1] + values[n / 2])
    }
}

/// Rounds for a size: enough for a stable median, bounded in time for large inputs.
pub fn rounds_for(size: usize, requested: usize) -> usize {
    if requested > 0 {
        requested
    } else if size <= 256 {
        11
    } else if size <= 512 {
        7
    } else {
        5
    }
}

pub fn bench_size(
    model: &colorize::Model,
    ort: &mut OrtRunner,
    work_dir: &Path,
    size: usize,
    precision: Precision,
    rounds: usize,
) -> Result<SizeResult> {
    let m = model.contract().pad_multiple;
    if size % m != 0 {
        bail!("size {size} is not a multiple of the model's pad_multiple {m}");
    }
    let l = images::lightness_plane(size, size);
    let input_path: PathBuf = work_dir.join(format!("input-{size}.f32"));
    std::fs::write(&input_path, bytes_of(&l))?;
    ort.load(size, size, &input_path)?;

    let start = Instant::now();
    let (ours_out, _, _) = model.run_plane(l.clone(), size, size, precision, 0.0)?;
    let ours_first_s = start.elapsed().as_secs_f64();
    let output_path = work_dir.join(format!("ort-output-{size}.f32"));
    ort.dump(size, size, &output_path)?;
    let ort_out = floats_of(&std::fs::read(&output_path)?);
    if ort_out.len() != ours_out.len() {
        bail!(
            "ORT output has {} values, ours {}",
            ort_out.len(),
            ours_out.len()
        );
    }
    let max_abs_diff = ours_out
        .iter()
        .zip(&ort_out)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    ort.run(size, size)?; // warm-up on the ORT side too (first run allocates)

    let (mut ours, mut theirs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate who goes first, so neither always runs right after the other's burst.
        let time_ours = || -> Result<f64> {
            let input = l.clone();
            let start = Instant::now();
            model.run_plane(input, size, size, precision, 0.0)?;
            Ok(start.elapsed().as_secs_f64())
        };
        let (a, b) = if round % 2 == 0 {
            let a = time_ours()?;
            (a, ort.run(size, size)?)
        } else {
            let b = ort.run(size, size)?;
            (time_ours()?, b)
        };
        ours.push(a);
        theirs.push(b);
        ratios.push(a / b);
    }
    Ok(SizeResult {
        size,
        precision: precision.name().to_string(),
        precision_native: precision.runs_natively(),
        ours_first_s,
        ours_median_s: median(&mut ours),
        ort_median_s: median(&mut theirs),
        ratio: median(&mut ratios),
        max_abs_diff,
        rounds,
    })
}

fn bytes_of(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn floats_of(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}
