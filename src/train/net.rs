//! The cross-channel autoencoder: a pretrained encoder over L* and a small decoder of
//! 4x4 transposed convolutions that predicts a*, b*.
//!
//! The network is a flat list of [`Op`]s holding plain tensors, not `tch::nn` modules, for
//! two reasons: the ONNX export walks the same list (so what is trained is what is exported,
//! op for op), and the optimiser state can be checkpointed by name (see `checkpoint.rs`).

use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use tch::{Device, Kind, Tensor};

/// Which encoder reads the L* channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum EncoderKind {
    /// VGG-19 conv1_1..conv3_1 (ImageNet), stride 4, 256 channels: the paper's encoder.
    Vgg19,
    /// Zhang et al. ECCV 2016 conv1..conv3 (colorization-trained, L input), stride 8, 256 channels.
    Eccv16,
    /// VGG-19's shape with random weights, trained with the decoder.
    Scratch,
}

impl EncoderKind {
    pub fn name(self) -> &'static str {
        match self {
            EncoderKind::Vgg19 => "vgg19",
            EncoderKind::Eccv16 => "eccv16",
            EncoderKind::Scratch => "scratch",
        }
    }

    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            "vgg19" => EncoderKind::Vgg19,
            "eccv16" => EncoderKind::Eccv16,
            "scratch" => EncoderKind::Scratch,
            other => bail!("unknown encoder '{other}' (expected vgg19, eccv16 or scratch)"),
        })
    }

    /// Spatial stride of the encoder's output.
    pub fn stride(self) -> i64 {
        match self {
            EncoderKind::Vgg19 | EncoderKind::Scratch => 4,
            EncoderKind::Eccv16 => 8,
        }
    }

    /// Who made the pretrained weights, recorded in the model metadata (`colorize.attribution`).
    pub fn attribution(self) -> &'static str {
        match self {
            EncoderKind::Vgg19 => "encoder initialised from VGG-19 (Simonyan & Zisserman 2014, Oxford VGG, CC BY 4.0)",
            EncoderKind::Eccv16 => "encoder initialised from Zhang, Isola & Efros, Colorful Image Colorization (ECCV 2016), BSD-2-Clause",
            EncoderKind::Scratch => "encoder trained from scratch",
        }
    }
}

/// One step of the network. Tensors are NCHW / OIHW (conv) / IOHW (transposed conv).
pub enum Op {
    /// `x * scale + shift`: input normalisation, so models speak physical L* units.
    Affine {
        scale: f64,
        shift: f64,
    },
    Conv {
        name: String,
        weight: Tensor,
        bias: Tensor,
        stride: i64,
        pad: i64,
    },
    /// 4x4, stride 2, padding 1: doubles height and width.
    ConvTranspose {
        name: String,
        weight: Tensor,
        bias: Tensor,
    },
    Relu,
    MaxPool2,
    /// Per-channel `x * scale + shift` (a frozen BatchNorm without affine, folded).
    ChannelAffine {
        name: String,
        scale: Tensor,
        shift: Tensor,
    },
    /// `x + relu(W · mean_hw(x) + b)`: a cheap global-context branch so every position
    /// sees the whole scene (forest vs. desert), which local VGG features cannot tell.
    GlobalContext {
        name: String,
        weight: Tensor,
        bias: Tensor,
    },
}

/// Shape of the decoder.
#[derive(Clone, Debug, PartialEq)]
pub struct DecoderConfig {
    /// Channel widths of the decoder layers. The first log2(encoder stride / output stride)
    /// are 4x4 stride-2 transposed convolutions; any further ones are 3x3 convolutions.
    pub widths: Vec<i64>,
    /// Output subsampling: a*b* are predicted at H/stride x W/stride and upsampled by the engine.
    pub output_stride: i64,
    pub global_context: bool,
    /// Colour classes of the classification head (0 = none: regression only). The head is a
    /// 1x1 convolution from the decoder's features at `class_stride`.
    pub classes: i64,
    /// Stride of the class logits: where in the decoder the class head reads (the encoder's
    /// stride, or a stride one of the transposed convolutions reaches).
    pub class_stride: i64,
}

impl DecoderConfig {
    /// How many leading decoder ops run before the class head reads, and their output
    /// channels: up to and including the ReLU of the upsampling that reaches
    /// `class_stride` (or none of the upsamplings, at the encoder's stride).
    fn class_tap(&self, decoder: &[Op], encoder_stride: i64, in_c: i64) -> Result<(usize, i64)> {
        let (mut stride, mut channels) = (encoder_stride, in_c);
        let mut tap = None;
        for (i, op) in decoder.iter().enumerate() {
            if stride == self.class_stride && !matches!(op, Op::Relu) {
                tap = Some((i, channels));
                break;
            }
            if let Op::ConvTranspose { weight, .. } = op {
                stride /= 2;
                channels = weight.size()[1];
            }
        }
        tap.with_context(|| {
            format!(
                "class stride {} is not a stride the decoder passes through (encoder stride {encoder_stride}, output stride {})",
                self.class_stride, self.output_stride
            )
        })
    }
}

pub struct Network {
    pub encoder_kind: EncoderKind,
    pub encoder: Vec<Op>,
    pub decoder: Vec<Op>,
    pub decoder_config: DecoderConfig,
    /// Logits over the colour classes (`classes.rs`), read from the output of the first
    /// `class_tap` decoder ops.
    pub class_head: Option<Op>,
    pub class_tap: usize,
    /// The first encoder op the optimiser updates: the ops before it are frozen (0 = the
    /// whole encoder is trained, `encoder.len()` = none of it).
    pub tuned_from: usize,
    /// The frozen part of the encoder runs in bfloat16 (see `encoder_to_bf16`).
    pub encoder_bf16: bool,
}

/// Which encoder layers a run trains.
#[derive(Clone, Debug, PartialEq)]
pub enum EncoderTuning {
    /// None: the pretrained encoder stays as it is (and may run in bfloat16).
    Frozen,
    /// Every layer.
    All,
    /// The named convolution (e.g. `conv3_1`) and every layer after it: the late layers
    /// adapt to the task while the early ones, generic edge and texture detectors, stay
    /// frozen, which keeps most of the encoder out of the backward pass.
    From(String),
}

/// Decoder output is a*b*/AB_SCALE; the export multiplies it back into physical units.
pub const AB_SCALE: f64 = 100.0;

impl Network {
    /// Builds the network. `pretrained` is the safetensors file of the chosen encoder
    /// (not needed for `scratch`); `None` for vgg19/eccv16 builds a zero-filled skeleton
    /// whose tensors a checkpoint then overwrites (`load_named`).
    pub fn new(
        encoder_kind: EncoderKind,
        pretrained: Option<&Path>,
        decoder_config: DecoderConfig,
        tuning: &EncoderTuning,
        device: Device,
    ) -> Result<Self> {
        let encoder = match encoder_kind {
            EncoderKind::Vgg19 => vgg19_encoder(&load_weights(pretrained)?, device)?,
            EncoderKind::Eccv16 => eccv16_encoder(&load_weights(pretrained)?, device)?,
            EncoderKind::Scratch => scratch_encoder(device),
        };
        let mut encoder = encoder;
        // Encoder features (VGG's are in the hundreds) are standardised per channel before
        // the decoder; `standardise_features` fills this from data at the start of a run.
        encoder.push(Op::ChannelAffine {
            name: "enc.feature_norm".into(),
            scale: Tensor::ones([1, 256, 1, 1], (Kind::Float, device)),
            shift: Tensor::zeros([1, 256, 1, 1], (Kind::Float, device)),
        });
        let tuned_from = match tuning {
            EncoderTuning::Frozen => encoder.len(),
            EncoderTuning::All => 0,
            EncoderTuning::From(layer) => {
                let wanted = format!("enc.{layer}");
                let index = encoder
                    .iter()
                    .position(|op| matches!(op, Op::Conv { name, .. } if *name == wanted));
                let layers = || {
                    encoder
                        .iter()
                        .filter_map(|op| match op {
                            Op::Conv { name, .. } => name.strip_prefix("enc."),
                            _ => None,
                        })
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                index.with_context(|| {
                    format!(
                        "the {} encoder has no convolution '{layer}' (it has {})",
                        encoder_kind.name(),
                        layers()
                    )
                })?
            }
        };
        let decoder = decoder(encoder_kind.stride(), 256, &decoder_config, device)?;
        let (class_head, class_tap) = if decoder_config.classes > 0 {
            let (tap, width) = decoder_config.class_tap(&decoder, encoder_kind.stride(), 256)?;
            let mut head = he_conv("dec.classes", decoder_config.classes, width, 1, 1, device);
            // Small logits: the head starts near the prior its bias is set to.
            if let Op::Conv { weight, .. } = &mut head {
                *weight = &*weight * 0.1;
            }
            (Some(head), tap)
        } else {
            (None, 0)
        };
        let net = Network {
            encoder_kind,
            encoder,
            decoder,
            decoder_config,
            class_head,
            class_tap,
            tuned_from,
            encoder_bf16: false,
        };
        for (_, t) in net.trainable_mut() {
            let _ = t.set_requires_grad(true);
        }
        Ok(net)
    }

    /// The multiple that H and W must be of (the encoder's stride).
    pub fn pad_multiple(&self) -> i64 {
        self.encoder_kind.stride()
    }

    /// L* (N,1,H,W, 0..100) -> a*b*/AB_SCALE at the output stride.
    #[cfg(test)]
    pub fn forward(&self, l: &Tensor) -> Tensor {
        self.forward_heads(l).0
    }

    /// L* -> (regression a*b*/AB_SCALE at the output stride, class logits at the class
    /// stride if the network has the class head).
    pub fn forward_heads(&self, l: &Tensor) -> (Tensor, Option<Tensor>) {
        let features = self.encode(l);
        let (first, rest) = self.decoder.split_at(self.class_tap);
        let tapped = run_ops(first, &features);
        let logits = self
            .class_head
            .as_ref()
            .map(|h| run_ops(std::slice::from_ref(h), &tapped));
        (run_ops(rest, &tapped), logits)
    }

    fn encode(&self, l: &Tensor) -> Tensor {
        let (frozen, tuned) = self.encoder.split_at(self.tuned_from);
        let frozen_features = if frozen.is_empty() {
            l.shallow_clone()
        } else if self.encoder_bf16 {
            tch::no_grad(|| run_ops(frozen, &l.to_kind(Kind::BFloat16)).to_kind(Kind::Float))
        } else {
            tch::no_grad(|| run_ops(frozen, l))
        };
        run_ops(tuned, &frozen_features)
    }

    /// The decoder's named tensors, class head included.
    /// The encoder's named tensors, in export order.
    pub fn encoder_named(&self) -> Vec<(String, &Tensor)> {
        named_tensors(&self.encoder)
    }

    /// The named tensors of the decoder ops that feed the class head, in export order.
    pub fn decoder_named_until_tap(&self) -> Vec<(String, &Tensor)> {
        named_tensors(&self.decoder[..self.class_tap])
    }

    fn decoder_named(&self) -> Vec<(String, &Tensor)> {
        let mut out = named_tensors(&self.decoder);
        out.extend(named_tensors(self.class_head.as_slice()));
        out
    }

    /// Named tensors the optimiser updates (decoder, plus the tuned encoder layers).
    pub fn trainable_mut(&self) -> Vec<(String, &Tensor)> {
        let mut out = self.decoder_named();
        out.extend(
            named_tensors(&self.encoder[self.tuned_from..])
                .into_iter()
                .filter(|(n, _)| !n.ends_with(".scale") && !n.ends_with(".shift")),
        );
        out
    }

    /// Overwrites every tensor from a checkpoint; a missing or mis-shaped one is an error.
    pub fn load_named(&self, tensors: &[(String, Tensor)]) -> Result<()> {
        for (name, dst) in self.all_named() {
            let src = tensors
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, t)| t)
                .with_context(|| format!("checkpoint lacks tensor '{name}'"))?;
            ensure!(
                src.size() == dst.size(),
                "checkpoint tensor '{name}' has shape {:?}, the network wants {:?}",
                src.size(),
                dst.size()
            );
            tch::no_grad(|| dst.shallow_clone().copy_(&src.to_device(dst.device())));
        }
        Ok(())
    }

    /// Sets the final per-channel standardisation of the encoder from a batch of L* so the
    /// decoder starts on unit-scale features.
    pub fn standardise_features(&self, l: &Tensor) {
        let Some(Op::ChannelAffine { scale, shift, .. }) = self.encoder.last() else {
            return;
        };
        let (mut scale, mut shift) = (scale.shallow_clone(), shift.shallow_clone());
        tch::no_grad(|| {
            let _ = scale.fill_(1.0);
            let _ = shift.fill_(0.0);
        });
        let features = tch::no_grad(|| run_ops(&self.encoder, l));
        let dims = [0i64, 2, 3];
        let mean = features.mean_dim(dims.as_slice(), true, Kind::Float);
        let std = features.std_dim(dims.as_slice(), true, true) + 1e-3;
        tch::no_grad(|| {
            scale.copy_(&std.reciprocal());
            shift.copy_(&(-mean / std));
        });
    }

    /// Every named tensor (for checkpoints): encoder and decoder.
    pub fn all_named(&self) -> Vec<(String, &Tensor)> {
        let mut out = self.encoder_named();
        out.extend(self.decoder_named());
        out
    }
}

fn named_tensors(ops: &[Op]) -> Vec<(String, &Tensor)> {
    let mut out = Vec::new();
    for op in ops {
        match op {
            Op::Conv {
                name, weight, bias, ..
            }
            | Op::ConvTranspose { name, weight, bias }
            | Op::GlobalContext { name, weight, bias } => {
                out.push((format!("{name}.weight"), weight));
                out.push((format!("{name}.bias"), bias));
            }
            Op::ChannelAffine { name, scale, shift } => {
                out.push((format!("{name}.scale"), scale));
                out.push((format!("{name}.shift"), shift));
            }
            _ => {}
        }
    }
    out
}

/// Runs a list of ops; shared by encoder and decoder.
pub fn run_ops(ops: &[Op], x: &Tensor) -> Tensor {
    let mut x = x.shallow_clone();
    for op in ops {
        x = match op {
            Op::Affine { scale, shift } => &x * *scale + *shift,
            Op::Conv {
                weight,
                bias,
                stride,
                pad,
                ..
            } => x.conv2d(
                weight,
                Some(bias),
                [*stride, *stride],
                [*pad, *pad],
                [1, 1],
                1,
            ),
            Op::ConvTranspose { weight, bias, .. } => {
                x.conv_transpose2d(weight, Some(bias), [2, 2], [1, 1], [0, 0], 1, [1, 1])
            }
            Op::Relu => x.relu(),
            Op::MaxPool2 => x.max_pool2d([2, 2], [2, 2], [0, 0], [1, 1], false),
            Op::ChannelAffine { scale, shift, .. } => &x * scale + shift,
            Op::GlobalContext { weight, bias, .. } => {
                let pooled = x.mean_dim([2i64, 3].as_slice(), true, Kind::Float);
                let context = pooled
                    .conv2d(weight, Some(bias), [1, 1], [0, 0], [1, 1], 1)
                    .relu();
                &x + context
            }
        };
    }
    x
}

fn load_weights(path: Option<&Path>) -> Result<Vec<(String, Tensor)>> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    ensure!(
        path.is_file(),
        "pretrained weights not found: {}",
        path.display()
    );
    Tensor::read_safetensors(path).with_context(|| {
        format!(
            "cannot read pretrained weights {} (not a safetensors file?)",
            path.display()
        )
    })
}

fn take(weights: &[(String, Tensor)], name: &str, shape: &[i64], device: Device) -> Result<Tensor> {
    if weights.is_empty() {
        // Skeleton for a checkpoint about to be loaded: shapes only.
        return Ok(Tensor::zeros(shape, (Kind::Float, device)));
    }
    let tensor = weights
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, t)| t)
        .with_context(|| {
            format!("pretrained file lacks tensor '{name}' (wrong file for this encoder?)")
        })?;
    ensure!(
        tensor.size() == shape,
        "pretrained tensor '{name}' has shape {:?}, expected {:?}",
        tensor.size(),
        shape
    );
    Ok(tensor.to_kind(Kind::Float).to_device(device).detach())
}

fn conv_from(
    weights: &[(String, Tensor)],
    name: &str,
    out_c: i64,
    in_c: i64,
    stride: i64,
    device: Device,
) -> Result<Op> {
    Ok(Op::Conv {
        name: format!("enc.{name}"),
        weight: take(
            weights,
            &format!("{name}.weight"),
            &[out_c, in_c, 3, 3],
            device,
        )?,
        bias: take(weights, &format!("{name}.bias"), &[out_c], device)?,
        stride,
        pad: 1,
    })
}

/// VGG-19 up to relu3_1. VGG expects RGB*255 minus the ImageNet mean; for a grey input the
/// three channels are equal, so conv1_1 is folded to one input channel (weights summed over
/// RGB, the mean folded into the bias). Exact except in the one-pixel zero-padded border.
fn vgg19_encoder(w: &[(String, Tensor)], device: Device) -> Result<Vec<Op>> {
    let w11 = take(w, "conv1_1.weight", &[64, 3, 3, 3], device)?;
    let b11 = take(w, "conv1_1.bias", &[64], device)?;
    let mean = Tensor::from_slice(&[123.68f32, 116.78, 103.94])
        .to_device(device)
        .view([1, 3, 1, 1]);
    let folded_bias =
        &b11 - (&w11 * &mean).sum_dim_intlist([1i64, 2, 3].as_slice(), false, Kind::Float);
    let folded_weight = w11.sum_dim_intlist([1i64].as_slice(), true, Kind::Float);
    Ok(vec![
        Op::Affine {
            scale: 2.55,
            shift: 0.0,
        },
        Op::Conv {
            name: "enc.conv1_1".into(),
            weight: folded_weight,
            bias: folded_bias,
            stride: 1,
            pad: 1,
        },
        Op::Relu,
        conv_from(w, "conv1_2", 64, 64, 1, device)?,
        Op::Relu,
        Op::MaxPool2,
        conv_from(w, "conv2_1", 128, 64, 1, device)?,
        Op::Relu,
        conv_from(w, "conv2_2", 128, 128, 1, device)?,
        Op::Relu,
        Op::MaxPool2,
        conv_from(w, "conv3_1", 256, 128, 1, device)?,
        Op::Relu,
    ])
}

/// Zhang et al.'s conv1..conv3 with their frozen BatchNorms folded to per-channel affines.
fn eccv16_encoder(w: &[(String, Tensor)], device: Device) -> Result<Vec<Op>> {
    let norm = |name: &str, c: i64| -> Result<Op> {
        let mean = take(w, &format!("{name}.running_mean"), &[c], device)?;
        let var = take(w, &format!("{name}.running_var"), &[c], device)?;
        let scale = (var + 1e-5).rsqrt();
        let shift = -(&mean * &scale);
        Ok(Op::ChannelAffine {
            name: format!("enc.{name}"),
            scale: scale.view([1, c, 1, 1]),
            shift: shift.view([1, c, 1, 1]),
        })
    };
    Ok(vec![
        Op::Affine {
            scale: 1.0,
            shift: -50.0,
        },
        conv_from(w, "bw_conv1_1", 64, 1, 1, device)?,
        Op::Relu,
        conv_from(w, "conv1_2", 64, 64, 2, device)?,
        Op::Relu,
        norm("conv1_2norm", 64)?,
        conv_from(w, "conv2_1", 128, 64, 1, device)?,
        Op::Relu,
        conv_from(w, "conv2_2", 128, 128, 2, device)?,
        Op::Relu,
        norm("conv2_2norm", 128)?,
        conv_from(w, "conv3_1", 256, 128, 1, device)?,
        Op::Relu,
        conv_from(w, "conv3_2", 256, 256, 1, device)?,
        Op::Relu,
        conv_from(w, "conv3_3", 256, 256, 2, device)?,
        Op::Relu,
        norm("conv3_3norm", 256)?,
    ])
}

fn he_conv(name: &str, out_c: i64, in_c: i64, k: i64, stride: i64, device: Device) -> Op {
    let std = (2.0 / (in_c * k * k) as f64).sqrt();
    Op::Conv {
        name: name.into(),
        weight: Tensor::randn([out_c, in_c, k, k], (Kind::Float, device)) * std,
        bias: Tensor::zeros([out_c], (Kind::Float, device)),
        stride,
        pad: k / 2,
    }
}

fn scratch_encoder(device: Device) -> Vec<Op> {
    vec![
        Op::Affine {
            scale: 0.02,
            shift: -1.0,
        },
        he_conv("enc.conv1_1", 64, 1, 3, 1, device),
        Op::Relu,
        he_conv("enc.conv1_2", 64, 64, 3, 1, device),
        Op::Relu,
        Op::MaxPool2,
        he_conv("enc.conv2_1", 128, 64, 3, 1, device),
        Op::Relu,
        he_conv("enc.conv2_2", 128, 128, 3, 1, device),
        Op::Relu,
        Op::MaxPool2,
        he_conv("enc.conv3_1", 256, 128, 3, 1, device),
        Op::Relu,
    ]
}

fn decoder(
    encoder_stride: i64,
    in_c: i64,
    config: &DecoderConfig,
    device: Device,
) -> Result<Vec<Op>> {
    let s = config.output_stride;
    ensure!(
        s >= 1 && encoder_stride % s == 0 && ((encoder_stride / s) as u64).is_power_of_two(),
        "output stride {s} must divide the encoder stride {encoder_stride} by a power of two"
    );
    let upsamplings = (encoder_stride / s).trailing_zeros() as usize;
    ensure!(
        config.widths.len() >= upsamplings,
        "the decoder needs at least {upsamplings} widths to reach output stride {s}, got {:?}",
        config.widths
    );
    let mut ops = Vec::new();
    if config.global_context {
        ops.push(Op::GlobalContext {
            name: "dec.context".into(),
            weight: Tensor::randn([in_c, in_c, 1, 1], (Kind::Float, device))
                * (1.0 / in_c as f64).sqrt(),
            bias: Tensor::zeros([in_c], (Kind::Float, device)),
        });
    }
    let mut c = in_c;
    for (i, &width) in config.widths.iter().enumerate() {
        if i < upsamplings {
            let std = (2.0 / (c * 4) as f64).sqrt();
            ops.push(Op::ConvTranspose {
                name: format!("dec.up{i}"),
                weight: Tensor::randn([c, width, 4, 4], (Kind::Float, device)) * std,
                bias: Tensor::zeros([width], (Kind::Float, device)),
            });
        } else {
            ops.push(he_conv(&format!("dec.conv{i}"), width, c, 3, 1, device));
        }
        ops.push(Op::Relu);
        c = width;
    }
    let mut head = he_conv("dec.head", 2, c, 3, 1, device);
    if let Op::Conv { weight, .. } = &mut head {
        *weight = &*weight * 0.1;
    }
    ops.push(head);
    Ok(ops)
}

impl Network {
    /// Converts the frozen part of the encoder to bfloat16 (AMX/AVX-512-BF16 CPUs run it
    /// about twice as fast); `forward` then casts its features back to float32.
    pub fn encoder_to_bf16(&mut self) {
        for op in self.encoder[..self.tuned_from].iter_mut() {
            match op {
                Op::Conv { weight, bias, .. } => {
                    *weight = weight.to_kind(Kind::BFloat16);
                    *bias = bias.to_kind(Kind::BFloat16);
                }
                Op::ChannelAffine { scale, shift, .. } => {
                    *scale = scale.to_kind(Kind::BFloat16);
                    *shift = shift.to_kind(Kind::BFloat16);
                }
                _ => {}
            }
        }
        self.encoder_bf16 = true;
    }
}
