//! The training loop: resumable, interruptible, checkpointed every epoch.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, ensure, Context, Result};
use tch::{Kind, Tensor};

use super::checkpoint::{self, EpochRecord, ModelConfig, State};
use super::classes;
use super::data::{self, Dataset, EpochLoader};
use super::loss::{Loss, Rebalance};
use super::net::{DecoderConfig, EncoderKind, EncoderTuning, Network};
use super::optim::Adam;
use super::report;

/// Options of `colorize-train train`.
#[derive(clap::Args, Debug, Clone)]
pub struct TrainArgs {
    /// Folder of colour training photos (searched recursively; one subfolder per category).
    #[arg(long)]
    pub data: PathBuf,
    /// Train on this subfolder of --data only.
    #[arg(long)]
    pub category: Option<String>,
    /// Validation folder (same layout as --data). Without it, --val-split of --data is held out.
    #[arg(long)]
    pub val: Option<PathBuf>,
    /// Fraction of --data held out for validation when --val is not given.
    #[arg(long, default_value_t = 0.05)]
    pub val_split: f64,
    /// Validation images used per epoch (first N, sorted by path).
    #[arg(long, default_value_t = 500)]
    pub val_limit: usize,
    /// Checkpoint folder. Running the same command again resumes from it.
    #[arg(long)]
    pub out: PathBuf,
    /// Pretrained encoder weights (safetensors), e.g. ../shared/pretrained/vgg19_relu3_1.safetensors.
    #[arg(long)]
    pub pretrained: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "vgg19")]
    pub encoder: EncoderKind,
    /// Train the encoder too (default: frozen).
    #[arg(long)]
    pub fine_tune: bool,
    /// Train the encoder from this convolution on (e.g. `conv3_1` of eccv16, `conv3_1` of
    /// vgg19); the layers before it stay frozen and run in bfloat16 with `--bf16`.
    #[arg(long, value_name = "LAYER", conflicts_with = "fine_tune")]
    pub fine_tune_from: Option<String>,
    /// Decoder widths; the first ones are 4x4 stride-2 transposed convolutions (the paper: 512,256).
    #[arg(long, value_delimiter = ',', default_values_t = vec![512i64, 256])]
    pub widths: Vec<i64>,
    /// Predict a*b* at 1/stride resolution (1 = full; the engine upsamples otherwise).
    #[arg(long, default_value_t = 1)]
    pub output_stride: i64,
    /// Add a global-context branch (scene-level colour cues) before the decoder.
    #[arg(long)]
    pub global_context: bool,
    /// Loss: l2, huber, pairwise-mse (pmse), or a weighted sum such as `pmse+0.5*l2`.
    #[arg(long, default_value = "l2")]
    pub loss: String,
    /// Huber threshold, in a*b* units / 100.
    #[arg(long, default_value_t = 0.1)]
    pub huber_delta: f64,
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    #[arg(long, default_value_t = 16)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    /// Learning-rate schedule over the whole run: `constant`, or `cosine` (from --lr down
    /// to 5 % of it at the last batch; a fixed budget of epochs ends better annealed).
    #[arg(long, value_enum, default_value = "constant")]
    pub lr_schedule: LrSchedule,
    /// Training crop side in pixels (the paper: 128).
    #[arg(long, default_value_t = 128)]
    pub crop: u32,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// auto, cpu or cuda.
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// libtorch intra-op threads (0 = libtorch's default).
    #[arg(long, default_value_t = 0)]
    pub threads: i32,
    /// Run the frozen encoder in bfloat16 (fast on CPUs with AMX/AVX-512-BF16).
    #[arg(long)]
    pub bf16: bool,
    /// Images with Hasler-Süsstrunk colourfulness below this are near-grey and skipped
    /// (3.0 skips 437 of the 8,741 intel-scenes/train photos, the near-grey count of that
    /// data set's own description).
    #[arg(long, default_value_t = 3.0)]
    pub min_colourfulness: f64,
    /// Colour rebalancing λ in (0, 1]: weigh the L2/Huber terms by the rarity of each
    /// pixel's true colour (Zhang et al. 2016 use 0.5); 0 = off.
    #[arg(long, default_value_t = 0.0)]
    pub rebalance: f64,
    /// Start a new run from the weights of another run's checkpoint folder (same network
    /// shape; the loss may differ). Fresh optimiser and history.
    #[arg(long)]
    pub init_from: Option<PathBuf>,
    /// Start a new run from the weights inside an exported model (e.g. the shipped
    /// src/models/general.onnx): same encoder and decoder shape. A regression model gives
    /// every tensor but the classification head's (which then starts from the prior); a
    /// classification model (src/models/vivid.onnx) gives the trunk and the class head but
    /// not the regression layers after the head's tap. Repeat the option to combine them,
    /// later files overwriting earlier ones: `--init-from-model general.onnx
    /// --init-from-model vivid.onnx` goes on training the vivid model.
    #[arg(long, conflicts_with = "init_from")]
    pub init_from_model: Vec<PathBuf>,
    /// Add the classification head: logits over the in-gamut bins of a 10-unit a*b* grid
    /// (Zhang et al. 2016), trained with soft-encoded cross-entropy; the export decodes them
    /// with the annealed mean at a run-time temperature (the vividness setting).
    #[arg(long)]
    pub classes: bool,
    /// Weight of the cross-entropy term; the --loss terms still train the regression head.
    #[arg(long, default_value_t = 1.0)]
    pub class_weight: f64,
    /// Class rebalancing λ of the cross-entropy, in (0, 1] (1 = no rebalancing; Zhang et al.
    /// use 0.5).
    #[arg(long, default_value_t = 0.5)]
    pub class_rebalance: f64,
    /// Stride of the class logits (the exported model's output stride): 4 reads the decoder
    /// after its first upsampling, a quarter of the work of stride 2 in the head and the
    /// loss; the engine upsamples a*b* guided by L*.
    #[arg(long, default_value_t = 4)]
    pub class_stride: i64,
    /// Write a sample grid every N epochs (0 = never).
    #[arg(long, default_value_t = 1)]
    pub grid_every: usize,
    /// Use at most this many training images (quick experiments, tests).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Stop each epoch after this many batches (quick experiments, tests).
    #[arg(long)]
    pub max_batches: Option<usize>,
}

/// How the learning rate moves over the run.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum LrSchedule {
    Constant,
    Cosine,
}

impl LrSchedule {
    /// The learning rate at `progress` (0 = first batch, 1 = end of the last epoch).
    /// A pure function of the position, so a resumed run follows the same curve.
    pub fn at(self, base: f64, progress: f64) -> f64 {
        match self {
            LrSchedule::Constant => base,
            LrSchedule::Cosine => {
                let floor = 0.05 * base;
                let p = progress.clamp(0.0, 1.0);
                floor + (base - floor) * 0.5 * (1.0 + (std::f64::consts::PI * p).cos())
            }
        }
    }
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// What a batch is scored by: the regression loss on the regression head, plus the weighted
/// cross-entropy of the classification head when the network has one.
pub struct Objective {
    pub loss: Loss,
    pub classes: Option<ClassObjective>,
}

pub struct ClassObjective {
    pub weight: f64,
    /// Bin centres [Q, 2], their soft encoder and rebalancing weights [Q], on the training
    /// device.
    pub centres: Tensor,
    pub encoder: classes::SoftEncoder,
    pub rebalance: Tensor,
}

impl Objective {
    /// Scalar loss of the network's outputs against full-resolution targets `ab`.
    pub fn compute(
        &self,
        net: &Network,
        ab: &Tensor,
        logits: Option<&Tensor>,
        target: &Tensor,
    ) -> Tensor {
        let mut total = self
            .loss
            .compute(ab, &downsample(target, net.decoder_config.output_stride));
        if let (Some(c), Some(logits)) = (&self.classes, logits) {
            let class_target = downsample(target, net.decoder_config.class_stride);
            total +=
                classes::cross_entropy(logits, &class_target, &c.encoder, &c.rebalance) * c.weight;
        }
        total
    }
}

/// How a run ended.
pub enum Outcome {
    Finished { epochs: usize },
    Interrupted { epoch: usize, batch: usize },
}

fn model_config(args: &TrainArgs, loss: &Loss) -> ModelConfig {
    ModelConfig {
        encoder: args.encoder.name().into(),
        fine_tune: args.fine_tune,
        fine_tune_from: args.fine_tune_from.clone(),
        widths: args.widths.clone(),
        output_stride: args.output_stride,
        global_context: args.global_context,
        loss: loss.describe(),
        huber_delta: loss.huber_delta,
        crop: args.crop,
        rebalance: args.rebalance,
        classes: if args.classes {
            classes::bin_centres().len() as i64
        } else {
            0
        },
        class_weight: if args.classes { args.class_weight } else { 0.0 },
        class_rebalance: if args.classes {
            args.class_rebalance
        } else {
            0.0
        },
        class_stride: if args.classes { args.class_stride } else { 0 },
    }
}

fn check_writable(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create checkpoint folder {}", dir.display()))?;
    let probe = dir.join(format!(".write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"probe")
        .with_context(|| format!("checkpoint folder {} is not writable", dir.display()))?;
    std::fs::remove_file(&probe).ok();
    Ok(())
}

/// Builds the network for a stored configuration (skeleton: tensors come from a checkpoint).
pub fn network_for(
    config: &ModelConfig,
    pretrained: Option<&Path>,
    device: tch::Device,
) -> Result<Network> {
    let decoder = DecoderConfig {
        widths: config.widths.clone(),
        output_stride: config.output_stride,
        global_context: config.global_context,
        classes: config.classes,
        class_stride: config.class_stride,
    };
    Network::new(
        EncoderKind::from_name(&config.encoder)?,
        pretrained,
        decoder,
        &encoder_tuning(config),
        device,
    )
}

/// The encoder layers a run with this configuration trains.
fn encoder_tuning(config: &ModelConfig) -> EncoderTuning {
    match (&config.fine_tune_from, config.fine_tune) {
        (Some(layer), _) => EncoderTuning::From(layer.clone()),
        (None, true) => EncoderTuning::All,
        (None, false) => EncoderTuning::Frozen,
    }
}

/// Splits the listed files into training and validation sets.
fn split(args: &TrainArgs) -> Result<(Vec<PathBuf>, Vec<PathBuf>)> {
    let all = data::list_images(&args.data, args.category.as_deref())?;
    if let Some(val) = &args.val {
        return Ok((all, data::list_images(val, args.category.as_deref())?));
    }
    ensure!(
        (0.0..1.0).contains(&args.val_split),
        "--val-split must be in [0, 1)"
    );
    // Every k-th file goes to validation: deterministic and spread over categories.
    let k = (1.0 / args.val_split.max(1e-6)).round().max(2.0) as usize;
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for (i, p) in all.into_iter().enumerate() {
        if i % k == k - 1 {
            val.push(p)
        } else {
            train.push(p)
        }
    }
    ensure!(
        !val.is_empty(),
        "no validation images: give --val or a larger --val-split"
    );
    Ok((train, val))
}

fn validate(
    net: &Network,
    objective: &Objective,
    val: &Dataset,
    crop: u32,
    device: tch::Device,
) -> (f64, f64, Option<(Tensor, Tensor, Tensor)>) {
    let indices: Vec<usize> = (0..val.images.len()).collect();
    let (mut total, mut total_l2, mut count) = (0.0, 0.0, 0usize);
    let mut first = None;
    tch::no_grad(|| {
        for chunk in indices.chunks(32) {
            let batch = data::make_batch(val, chunk, crop, None);
            let (l, ab) = (batch.l.to_device(device), batch.ab.to_device(device));
            let (regression, logits) = net.forward_heads(&l);
            let n = chunk.len() as f64;
            total += objective
                .compute(net, &regression, logits.as_ref(), &ab)
                .double_value(&[])
                * n;
            // The L2 column and the sample grid show what the export decodes: the
            // annealed mean at T = 1 for a classification network.
            let (pred, target) = match (&logits, &objective.classes) {
                (Some(z), Some(c)) => (
                    classes::annealed_mean(z, &c.centres, None, 1.0),
                    downsample(&ab, net.decoder_config.class_stride),
                ),
                _ => (
                    regression,
                    downsample(&ab, net.decoder_config.output_stride),
                ),
            };
            total_l2 += pred
                .mse_loss(&target, tch::Reduction::Mean)
                .double_value(&[])
                * n;
            count += chunk.len();
            if first.is_none() {
                let k = chunk.len().min(6) as i64;
                first = Some((
                    l.narrow(0, 0, k).to_device(tch::Device::Cpu),
                    pred.narrow(0, 0, k).to_device(tch::Device::Cpu),
                    ab.narrow(0, 0, k).to_device(tch::Device::Cpu),
                ));
            }
        }
    });
    (total / count as f64, total_l2 / count as f64, first)
}

/// Targets at the output stride (mean over each stride x stride block).
fn downsample(ab: &Tensor, stride: i64) -> Tensor {
    if stride == 1 {
        ab.shallow_clone()
    } else {
        ab.avg_pool2d(
            [stride, stride],
            [stride, stride],
            [0, 0],
            false,
            true,
            None::<i64>,
        )
    }
}

pub fn train(args: &TrainArgs) -> Result<Outcome> {
    ensure!(args.batch_size >= 1, "--batch-size must be at least 1");
    ensure!(
        args.crop >= 16 && args.crop % 8 == 0,
        "--crop must be a multiple of 8, at least 16"
    );
    ensure!(args.lr > 0.0, "--lr must be positive");
    let device = super::device(&args.device)?;
    if args.threads > 0 {
        tch::set_num_threads(args.threads);
    }
    let mut loss = Loss::parse(&args.loss, args.huber_delta)?;
    ensure!(
        (0.0..=1.0).contains(&args.rebalance),
        "--rebalance must be in [0, 1]"
    );
    let config = model_config(args, &loss);
    check_writable(&args.out)?;
    let previous = checkpoint::load(&args.out)?;
    if let Some(p) = &previous {
        if p.state.config != config {
            bail!(
                "{} holds a run with a different model configuration ({:?}); use another --out or the same options",
                args.out.display(),
                p.state.config
            );
        }
    }

    let (train_paths, val_paths) = split(args)?;
    eprintln!(
        "loading {} training and {} validation images…",
        train_paths.len().min(args.limit.unwrap_or(usize::MAX)),
        val_paths.len().min(args.val_limit)
    );
    let (train_set, report) =
        data::load(&train_paths, args.crop, args.min_colourfulness, args.limit)?;
    eprintln!(
        "training on {} images ({} near-grey skipped, colourfulness < {}; {} smaller than {} px skipped)",
        train_set.images.len(), report.grey, args.min_colourfulness, report.too_small, args.crop
    );
    let (val_set, val_report) = data::load(
        &val_paths,
        args.crop,
        args.min_colourfulness,
        Some(args.val_limit),
    )?;
    eprintln!(
        "validating on {} images ({} near-grey skipped)",
        val_set.images.len(),
        val_report.grey
    );
    let train_set = Arc::new(train_set);

    tch::manual_seed(args.seed as i64);
    let pretrained = if previous.is_some() && args.encoder != EncoderKind::Scratch {
        None
    } else {
        args.pretrained.as_deref()
    };
    let mut net = network_for(&config, pretrained, device)?;
    let mut state = State {
        config: config.clone(),
        epoch: 0,
        batch_in_epoch: 0,
        seed: args.seed,
        dataset: format!(
            "{}{}",
            args.data.display(),
            args.category
                .as_deref()
                .map(|c| format!(" [{c}]"))
                .unwrap_or_default()
        ),
        adam_step: 0,
        history: Vec::new(),
        rebalance_weights: Vec::new(),
        class_weights: Vec::new(),
        class_prior: Vec::new(),
    };
    let params_owned: Vec<(String, Tensor)> = net
        .trainable_mut()
        .into_iter()
        .map(|(n, t)| (n, t.shallow_clone()))
        .collect();
    let params: Vec<(String, &Tensor)> = params_owned.iter().map(|(n, t)| (n.clone(), t)).collect();
    let mut adam = Adam::new(&params, args.lr);
    if args.rebalance > 0.0 {
        let weights = match &previous {
            Some(p) if !p.state.rebalance_weights.is_empty() => {
                Rebalance::from_values(&p.state.rebalance_weights)
            }
            _ => {
                let sample: Vec<usize> = (0..train_set.images.len())
                    .step_by((train_set.images.len() / 1000).max(1))
                    .collect();
                let targets = data::make_batch(&train_set, &sample, args.crop, None).ab;
                Rebalance::from_targets(&downsample(&targets, args.output_stride), args.rebalance)
            }
        };
        state.rebalance_weights = weights.values();
        loss.rebalance = Some(weights);
    }
    let class_objective = if config.classes > 0 {
        ensure!(
            args.class_rebalance > 0.0 && args.class_rebalance <= 1.0,
            "--class-rebalance must be in (0, 1]"
        );
        let centres = classes::centres_tensor(device);
        let (weights, prior) = match &previous {
            Some(p) if !p.state.class_weights.is_empty() => (
                Tensor::from_slice(&p.state.class_weights),
                Tensor::from_slice(&p.state.class_prior),
            ),
            _ => {
                let sample: Vec<usize> = (0..train_set.images.len())
                    .step_by((train_set.images.len() / 2000).max(1))
                    .collect();
                let targets = data::make_batch(&train_set, &sample, args.crop, None).ab;
                classes::rebalancing_weights(
                    &downsample(&targets, args.class_stride).to_device(device),
                    &centres,
                    args.class_rebalance,
                )
            }
        };
        state.class_weights = Vec::<f32>::try_from(&weights.to_device(tch::Device::Cpu))?;
        state.class_prior = Vec::<f32>::try_from(&prior.to_device(tch::Device::Cpu))?;
        Some(ClassObjective {
            weight: args.class_weight,
            encoder: classes::SoftEncoder::new(&centres),
            centres,
            rebalance: weights.to_device(device),
        })
    } else {
        None
    };
    let objective = Objective {
        loss,
        classes: class_objective,
    };
    let mut class_head_restored = false;
    let initial = match (&previous, &args.init_from) {
        (None, Some(dir)) => {
            let init = checkpoint::load(dir)?
                .with_context(|| format!("--init-from: no checkpoint in {}", dir.display()))?;
            let c = &init.state.config;
            ensure!(
                (
                    c.encoder.as_str(),
                    &c.widths,
                    c.output_stride,
                    c.global_context
                ) == (
                    config.encoder.as_str(),
                    &config.widths,
                    config.output_stride,
                    config.global_context
                ),
                "--init-from {}: its network ({} {:?} stride {}) differs from this one",
                dir.display(),
                c.encoder,
                c.widths,
                c.output_stride
            );
            net.load_named(&init.params())?;
            eprintln!(
                "starting from the weights of {} ({} epochs, loss {})",
                dir.display(),
                init.state.epoch,
                c.loss
            );
            true
        }
        (None, None) => {
            for path in &args.init_from_model {
                let restored = super::onnx_init::load_from_model(&net, path)?;
                class_head_restored |= restored == super::onnx_init::Restored::Classification;
                eprintln!(
                    "starting from the weights inside {} ({restored:?})",
                    path.display()
                );
            }
            !args.init_from_model.is_empty()
        }
        _ => false,
    };
    if previous.is_none() && !class_head_restored {
        // A fresh classification head predicts the prior: its bias is log p~, so the
        // first batches refine a sensible distribution instead of a uniform one.
        if let Some(super::net::Op::Conv { bias, .. }) = &net.class_head {
            let log_prior = Tensor::from_slice(&state.class_prior).clamp_min(1e-6).log();
            tch::no_grad(|| bias.shallow_clone().copy_(&log_prior.to_device(device)));
        }
    }
    if previous.is_none() && !initial {
        let sample: Vec<usize> = (0..train_set.images.len().min(64)).collect();
        net.standardise_features(
            &data::make_batch(&train_set, &sample, args.crop, None)
                .l
                .to_device(device),
        );
    }
    if let Some(p) = &previous {
        net.load_named(&p.params())?;
        p.restore_adam(&mut adam)?;
        adam.lr = args.lr;
        state = p.state.clone();
        eprintln!(
            "resuming {} at epoch {} batch {}",
            args.out.display(),
            state.epoch + 1,
            state.batch_in_epoch
        );
    }
    if args.bf16 {
        net.encoder_to_bf16();
    }

    INTERRUPTED.store(false, Ordering::SeqCst);
    let _ = ctrlc::set_handler(|| INTERRUPTED.store(true, Ordering::SeqCst));

    while state.epoch < args.epochs {
        let epoch = state.epoch;
        let started = Instant::now();
        let loader = EpochLoader::start(
            train_set.clone(),
            args.batch_size,
            args.crop,
            args.seed,
            epoch,
            state.batch_in_epoch,
            args.max_batches,
        );
        ensure!(
            loader.batches > 0,
            "fewer training images ({}) than one batch ({})",
            train_set.images.len(),
            args.batch_size
        );
        let bar = progress_bar(loader.batches as u64, epoch + 1, args.epochs);
        bar.set_position(state.batch_in_epoch as u64);
        let (mut sum, mut seen) = (0.0, 0usize);
        let mut batch_index = state.batch_in_epoch;
        for batch in loader.receiver.iter() {
            let (l, ab) = (batch.l.to_device(device), batch.ab.to_device(device));
            adam.lr = args.lr_schedule.at(
                args.lr,
                (epoch as f64 + batch_index as f64 / loader.batches as f64) / args.epochs as f64,
            );
            let (pred, logits) = net.forward_heads(&l);
            let value = objective.compute(&net, &pred, logits.as_ref(), &ab);
            value.backward();
            adam.step(&params);
            let v = value.double_value(&[]);
            ensure!(
                v.is_finite(),
                "training diverged (loss {v}) at epoch {} batch {batch_index}; lower --lr",
                epoch + 1
            );
            sum += v;
            seen += 1;
            batch_index += 1;
            bar.set_position(batch_index as u64);
            bar.set_message(format!("loss {:.5}", sum / seen as f64));
            if !bar.is_hidden() {
            } else if batch_index % 50 == 0 {
                eprintln!(
                    "epoch {} batch {batch_index}/{} loss {:.5} ({:.1} img/s)",
                    epoch + 1,
                    loader.batches,
                    sum / seen as f64,
                    (seen * args.batch_size) as f64 / started.elapsed().as_secs_f64()
                );
            }
            if INTERRUPTED.load(Ordering::SeqCst) {
                state.batch_in_epoch = batch_index;
                state.adam_step = adam.step;
                checkpoint::save(&args.out, &net, &adam, &state)?;
                bar.abandon();
                return Ok(Outcome::Interrupted {
                    epoch: epoch + 1,
                    batch: batch_index,
                });
            }
        }
        bar.finish_and_clear();
        let (val_loss, val_l2, sample) = validate(&net, &objective, &val_set, args.crop, device);
        let record = EpochRecord {
            epoch: epoch + 1,
            train_loss: if seen > 0 {
                sum / seen as f64
            } else {
                f64::NAN
            },
            val_loss,
            val_l2,
            images: seen * args.batch_size,
            seconds: started.elapsed().as_secs_f64(),
            lr: args.lr,
            batch_size: args.batch_size,
        };
        eprintln!(
            "epoch {}/{}: train loss {:.5}, val loss {:.5} (l2 {:.5}), {:.0} s, {:.1} img/s",
            record.epoch,
            args.epochs,
            record.train_loss,
            val_loss,
            val_l2,
            record.seconds,
            record.images as f64 / record.seconds.max(1e-9)
        );
        state.history.push(record);
        state.epoch += 1;
        state.batch_in_epoch = 0;
        state.adam_step = adam.step;
        checkpoint::save(&args.out, &net, &adam, &state)?;
        report::write_csv(&args.out.join("history.csv"), &state.history)?;
        report::plot_losses(&args.out.join("loss.png"), &state.history)?;
        if args.grid_every > 0 && state.epoch % args.grid_every == 0 {
            if let Some((l, pred, truth)) = sample {
                report::save_grid(
                    &args
                        .out
                        .join(format!("samples-epoch-{:03}.png", state.epoch)),
                    &l,
                    &pred.to_kind(Kind::Float),
                    &truth,
                )?;
            }
        }
    }
    Ok(Outcome::Finished {
        epochs: state.epoch,
    })
}

fn progress_bar(len: u64, epoch: usize, epochs: usize) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "epoch {prefix} [{bar:30}] {pos}/{len} {msg} ({eta})",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    bar.set_prefix(format!("{epoch}/{epochs}"));
    bar
}
