//! `colorize-train`: trains category-specific colorization weights and exports ONNX models
//! that libcolorize loads. See `colorize-train --help`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use colorize::contract::keys;
// The trainer lives in the binary, not the library: libcolorize and the `colorize` CLI
// must never depend on libtorch.
#[path = "../train/mod.rs"]
mod train;

use train::{checkpoint, trainer};

#[derive(Parser)]
#[command(
    name = "colorize-train",
    version,
    about = "Train colorization models (L* -> a*b*) and export them to ONNX"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Resize a folder of photos once (short side to --size, centre square), mirroring its tree.
    Prepare {
        src: PathBuf,
        dst: PathBuf,
        #[arg(long, default_value_t = 128)]
        size: u32,
        #[arg(long, default_value_t = 3.0)]
        min_colourfulness: f64,
    },
    /// Train (or resume) a model; checkpoints, history.csv, loss.png and sample grids go to --out.
    Train(trainer::TrainArgs),
    /// Export a checkpoint folder to an ONNX model for libcolorize.
    Export(ExportArgs),
}

/// Options of `colorize-train export`.
#[derive(clap::Args)]
struct ExportArgs {
    /// Checkpoint folder written by `train --out`.
    #[arg(long)]
    run: PathBuf,
    /// Output .onnx file.
    #[arg(short, long)]
    output: PathBuf,
    /// Model name recorded in the metadata (e.g. landscape-l2).
    #[arg(long)]
    name: String,
    /// Category recorded in the metadata (e.g. landscape).
    #[arg(long, default_value = "landscape")]
    category: String,
    /// Validation photos (folder): PSNR, AuC and colourfulness ratio go into the metadata.
    #[arg(long)]
    val: Option<PathBuf>,
    /// Validation photos used (first N, sorted by path).
    #[arg(long, default_value_t = 200)]
    val_limit: usize,
    /// Gain on the predicted a*b* of a regression network: a number, or `auto` to calibrate
    /// it on --calibrate photos so outputs are as colourful as the truth (docs/training.md,
    /// "Vividness").
    #[arg(long, default_value = "1")]
    chroma_gain: String,
    /// Colour photos for `--chroma-gain auto` (use training photos, not test photos).
    #[arg(long)]
    calibrate: Option<PathBuf>,
    /// `--chroma-gain auto` aims at output colourfulness = this x the truth's.
    #[arg(long, default_value_t = 1.0)]
    target_ratio: f64,
    /// Calibration photos used (every k-th of the sorted list, to span categories).
    #[arg(long, default_value_t = 300)]
    calibrate_limit: usize,
    /// Make the gain depend on the predicted chroma: pixels whose a*b* length is well
    /// above KNEE get the full gain, pixels well below it stay near the network's own
    /// colour (0 = one gain everywhere). See docs/training.md, "Vividness".
    #[arg(long, default_value_t = 0.0)]
    chroma_knee: f32,
    /// Classification networks: the fraction of the training's class rebalancing the
    /// decoding undoes (each class's logit minus γ·ln w): 0 keeps the rebalanced
    /// distribution (more rare, vivid colours), 1 returns to the data's own frequencies.
    #[arg(long, default_value_t = 1.0)]
    prior_correction: f32,
    /// Classification networks: the vividness (1 / softmax temperature) the model uses by
    /// default; callers change it at run time.
    #[arg(long, default_value_t = 1.0)]
    vividness: f32,
}

fn export(req: &ExportArgs) -> Result<()> {
    let ExportArgs {
        run,
        output,
        name,
        category,
        val,
        val_limit,
        ..
    } = req;
    let val_limit = *val_limit;
    let loaded =
        checkpoint::load(run)?.with_context(|| format!("no checkpoint in {}", run.display()))?;
    let state = &loaded.state;
    let net = trainer::network_for(&state.config, None, tch::Device::Cpu)?;
    net.load_named(&loaded.params())?;
    let last = state.history.last();
    let mut meta = BTreeMap::new();
    meta.insert(keys::NAME.to_string(), name.to_string());
    meta.insert(keys::CATEGORY.to_string(), category.to_string());
    meta.insert(keys::LOSS.to_string(), state.config.loss.clone());
    meta.insert(keys::TRAIN_SIZE.to_string(), state.config.crop.to_string());
    meta.insert(keys::DATASET.to_string(), state.dataset.clone());
    meta.insert(keys::EPOCHS.to_string(), state.epoch.to_string());
    meta.insert(keys::SEED.to_string(), state.seed.to_string());
    meta.insert(
        keys::WIDTHS.to_string(),
        format!("{:?}", state.config.widths),
    );
    meta.insert(
        keys::GLOBAL_CONTEXT.to_string(),
        state.config.global_context.to_string(),
    );
    if let Some(r) = last {
        meta.insert(keys::VAL_LOSS.to_string(), format!("{:.6}", r.val_loss));
        meta.insert(keys::VAL_L2.to_string(), format!("{:.6}", r.val_l2));
    }
    anyhow::ensure!(
        req.chroma_knee.is_finite() && req.chroma_knee >= 0.0,
        "--chroma-knee must be a number >= 0, not {}",
        req.chroma_knee
    );
    let is_classifier = state.config.classes > 0;
    anyhow::ensure!(
        !is_classifier || req.chroma_gain == "1",
        "--chroma-gain is for regression networks; this one has the classification head (use --vividness)"
    );
    anyhow::ensure!(
        (colorize::contract::MIN_VIVIDNESS..=colorize::contract::MAX_VIVIDNESS)
            .contains(&req.vividness),
        "--vividness must be from {} to {}",
        colorize::contract::MIN_VIVIDNESS,
        colorize::contract::MAX_VIVIDNESS
    );
    anyhow::ensure!(
        (0.0..=1.0).contains(&req.prior_correction),
        "--prior-correction must be from 0 to 1"
    );
    let decoding = is_classifier.then(|| {
        train::export::ClassDecoding::new(
            &state.class_weights,
            &state.class_prior,
            req.prior_correction,
            req.vividness,
        )
    });
    if is_classifier {
        meta.insert(
            keys::PRIOR_CORRECTION.to_string(),
            format!("{}", req.prior_correction),
        );
        meta.insert(
            keys::CLASS_REBALANCE.to_string(),
            format!("{}", state.config.class_rebalance),
        );
    }
    let gain = match req.chroma_gain.as_str() {
        "auto" => {
            let dir = req
                .calibrate
                .as_ref()
                .context("--chroma-gain auto needs --calibrate PHOTOS")?;
            let all = train::data::list_images(dir, None)?;
            let step = (all.len() / req.calibrate_limit.max(1)).max(1);
            let photos: Vec<PathBuf> = all
                .into_iter()
                .step_by(step)
                .take(req.calibrate_limit)
                .collect();
            let (gain, ratio) = train::export::calibrate_chroma_gain(
                &net,
                req.chroma_knee,
                &meta,
                &photos,
                req.target_ratio,
            )?;
            eprintln!("chroma gain {gain:.3} (colourfulness ratio at gain 1: {ratio:.3}, on {} calibration photos)", photos.len());
            meta.insert(
                keys::CHROMA_GAIN_CALIBRATION.to_string(),
                format!(
                    "{} photos from {}, target ratio {}, ratio at gain 1: {ratio:.3}",
                    photos.len(),
                    dir.display(),
                    req.target_ratio
                ),
            );
            gain
        }
        text => text
            .parse::<f32>()
            .ok()
            .filter(|g| *g > 0.0 && g.is_finite())
            .with_context(|| {
                format!("--chroma-gain must be a positive number or auto, not '{text}'")
            })?,
    };
    let curve = train::export::ChromaCurve {
        gain,
        knee: req.chroma_knee,
    };
    let mut bytes = train::export::to_onnx(&net, curve, decoding.as_ref(), &meta);
    if let Some(val) = val {
        let photos: Vec<PathBuf> = train::data::list_images(val, None)?
            .into_iter()
            .take(val_limit)
            .collect();
        let scores = train::export::validation_metrics(&bytes, &photos)?;
        eprintln!("validation on {} photos: {scores:?}", photos.len());
        meta.extend(scores);
        bytes = train::export::to_onnx(&net, curve, decoding.as_ref(), &meta);
    }
    colorize::io::write_atomic(output, &bytes)
        .with_context(|| format!("cannot write {}", output.display()))?;
    println!(
        "{} ({} bytes, {} epochs, loss {})",
        output.display(),
        bytes.len(),
        state.epoch,
        state.config.loss
    );
    Ok(())
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Prepare {
            src,
            dst,
            size,
            min_colourfulness,
        } => {
            let r = train::prepare::prepare(&src, &dst, size, min_colourfulness)?;
            println!("{} written, {} already there, {} near-grey (colourfulness < {min_colourfulness}; training skips them)", r.written, r.skipped, r.near_grey);
        }
        Command::Train(args) => match trainer::train(&args)? {
            trainer::Outcome::Finished { epochs } => {
                println!("done: {epochs} epochs in {}", args.out.display())
            }
            trainer::Outcome::Interrupted { epoch, batch } => {
                eprintln!("interrupted: checkpoint saved at epoch {epoch} batch {batch}; run the same command to resume");
                return Ok(ExitCode::from(130));
            }
        },
        Command::Export(args) => export(&args)?,
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("colorize-train: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
