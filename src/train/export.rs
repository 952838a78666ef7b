//! Export of a trained network to an ONNX file that meets the model contract
//! (`colorize::contract`, docs/model-contract.md): input L* [N,1,H,W], output a*b*
//! [N,2,H/s,W/s], `colorize.*` metadata, all written through the project's one builder.
//! The graph mirrors `net::run_ops` op for op; the parity test holds them together.

use std::collections::BTreeMap;

use tch::{Kind, Tensor};

use super::net::{Network, Op, AB_SCALE};
use colorize::contract::{keys, FORMAT_VERSION};
use colorize::metrics::ScoreSummary;
use colorize::onnx::{Attr, GraphBuilder};

fn floats(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(
        &t.detach()
            .to_device(tch::Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous()
            .flatten(0, -1),
    )
    .expect("float tensor")
}

fn emit(g: &mut GraphBuilder, ops: &[Op], input: &str) -> String {
    let mut x = input.to_string();
    for op in ops {
        x = match op {
            Op::Affine { scale, shift } => g.affine(&x, *scale as f32, *shift as f32),
            Op::Conv {
                weight,
                bias,
                stride,
                pad,
                ..
            } => {
                let s = weight.size();
                g.conv(
                    &x,
                    &floats(weight),
                    &floats(bias),
                    s[0] as usize,
                    s[1] as usize,
                    s[2] as usize,
                    *stride as usize,
                    *pad as usize,
                )
            }
            Op::ConvTranspose { weight, bias, .. } => {
                let s = weight.size();
                g.conv_transpose(
                    &x,
                    &floats(weight),
                    &floats(bias),
                    s[0] as usize,
                    s[1] as usize,
                    4,
                    2,
                    1,
                )
            }
            Op::Relu => g.relu(&x),
            Op::MaxPool2 => g.node(
                "MaxPool",
                &[&x],
                &[
                    ("kernel_shape", Attr::Ints(vec![2, 2])),
                    ("strides", Attr::Ints(vec![2, 2])),
                ],
            ),
            Op::ChannelAffine { scale, shift, .. } => {
                let c = scale.size()[1];
                let s = g.initializer("bn_scale", &[1, c, 1, 1], &floats(scale));
                let b = g.initializer("bn_shift", &[1, c, 1, 1], &floats(shift));
                let scaled = g.node("Mul", &[&x, &s], &[]);
                g.node("Add", &[&scaled, &b], &[])
            }
            Op::GlobalContext { weight, bias, .. } => {
                let s = weight.size();
                let pooled = g.node(
                    "ReduceMean",
                    &[&x],
                    &[("axes", Attr::Ints(vec![2, 3])), ("keepdims", Attr::Int(1))],
                );
                let context = g.conv(
                    &pooled,
                    &floats(weight),
                    &floats(bias),
                    s[0] as usize,
                    s[1] as usize,
                    1,
                    1,
                    0,
                );
                let context = g.relu(&context);
                g.node("Add", &[&x, &context], &[])
            }
        };
    }
    x
}

/// How the exported graph scales the network's a*b*. With `knee` = 0 every pixel gets the
/// same `gain`. With a knee (in a*b* units) the gain depends on the predicted chroma m:
/// `1 + (gain - 1) * m / (m + knee)`. A regression network predicts small chroma where it
/// is unsure (it averages the plausible colours) and large chroma where it is sure, so the
/// curve makes confident colour vivid and leaves unsure colour muted, where one global gain
/// also amplifies the guesses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChromaCurve {
    pub gain: f32,
    pub knee: f32,
}

impl ChromaCurve {
    /// The network's own a*b*.
    #[cfg(test)]
    pub const IDENTITY: ChromaCurve = ChromaCurve {
        gain: 1.0,
        knee: 0.0,
    };

    /// The factor applied to a pixel whose predicted chroma is `m` (reference for tests).
    #[cfg(test)]
    pub fn factor(&self, m: f32) -> f32 {
        if self.knee > 0.0 {
            1.0 + (self.gain - 1.0) * m / (m + self.knee)
        } else {
            self.gain
        }
    }
}

/// Emits the chroma curve on `ab` ([N, 2, H, W], physical units).
fn emit_chroma_curve(g: &mut GraphBuilder, ab: &str, curve: ChromaCurve) -> String {
    if curve.knee <= 0.0 {
        return g.affine(ab, curve.gain, 0.0);
    }
    let squared = g.node("Mul", &[ab, ab], &[]);
    // a² + b² as a 1x1 convolution with unit weights: no opset-dependent ReduceSum.
    let sum = g.conv(&squared, &[1.0, 1.0], &[0.0], 1, 2, 1, 1, 0);
    let chroma = g.node("Sqrt", &[&sum], &[]);
    let knee = g.affine(&chroma, 1.0, curve.knee);
    let confidence = g.node("Div", &[&chroma, &knee], &[]);
    let factor = g.affine(&confidence, curve.gain - 1.0, 1.0);
    g.node("Mul", &[ab, &factor], &[])
}

/// How a network with the classification head is decoded in the exported graph: the
/// annealed mean `softmax(z / T + bias) · centres` over the kept classes, with T fed at run
/// time through the contract's `temperature` input (the engine passes 1 / vividness).
///
/// The bias (the prior correction) comes after the temperature, so vividness v = 1 / T
/// raises the network's rebalanced distribution to the power v against a fixed correction:
/// p ∝ q^v / w^γ. At v = 1 and γ = 1 that is the data's own posterior (the mean: accurate,
/// muted); a higher v both sharpens it and leans it towards the rarer, more saturated
/// classes the rebalanced training learned, so the setting moves colourfulness steadily.
/// With the correction before the temperature, sharpening alone moved colourfulness by
/// 0.01 over v = 0.7..3 at γ = 0.4 (MiniPlaces val): a slider that changed patchiness, not
/// colour (docs/quality.md).
#[derive(Clone, Debug)]
pub struct ClassDecoding {
    /// The head's classes that the export keeps (the bins the training data reaches), in
    /// the head's order.
    pub kept: Vec<usize>,
    /// Their bin centres (a*, b*) in physical units.
    pub centres: Vec<[f32; 2]>,
    /// Added to each kept class's logit after the temperature: `-γ · ln w(q)` undoes the
    /// training's class rebalancing by a fraction γ (0 = none).
    pub bias: Vec<f32>,
    /// The vividness (1 / T) a caller gets by default.
    pub default_vividness: f32,
}

impl ClassDecoding {
    /// The decoding for a run trained with rebalancing weights `weights` and smoothed prior
    /// `prior` (per class of the grid), keeping the classes whose prior is above
    /// [`PRIOR_FLOOR`](super::classes::PRIOR_FLOOR), with a fraction `prior_correction` of
    /// the rebalancing undone.
    pub fn new(
        weights: &[f32],
        prior: &[f32],
        prior_correction: f32,
        default_vividness: f32,
    ) -> Self {
        let grid = super::classes::bin_centres();
        let kept: Vec<usize> = (0..grid.len())
            .filter(|&q| prior[q] > super::classes::PRIOR_FLOOR)
            .collect();
        ClassDecoding {
            centres: kept.iter().map(|&q| grid[q]).collect(),
            bias: kept
                .iter()
                .map(|&q| -prior_correction * weights[q].max(1e-12).ln())
                .collect(),
            kept,
            default_vividness,
        }
    }
}

/// Emits the annealed-mean decoding of `trunk` features through the class head.
fn emit_class_decoding(
    g: &mut GraphBuilder,
    net: &Network,
    trunk: &str,
    decoding: &ClassDecoding,
) -> String {
    let Some(Op::Conv { weight, bias, .. }) = &net.class_head else {
        panic!("emit_class_decoding needs a network with the class head");
    };
    let s = weight.size();
    assert_eq!(
        s[0] as usize,
        super::classes::bin_centres().len(),
        "class head and bin grid disagree"
    );
    let kept = Tensor::from_slice(&decoding.kept.iter().map(|&q| q as i64).collect::<Vec<_>>());
    let q = decoding.kept.len();
    let kept_bias = floats(&bias.index_select(0, &kept));
    let kept_weight = floats(&weight.index_select(0, &kept));
    let logits = g.conv(trunk, &kept_weight, &kept_bias, q, s[1] as usize, 1, 1, 0);
    g.annealed_mean_with_bias(&logits, &decoding.centres, Some(&decoding.bias))
}

/// The exported model's bytes. `chroma` scales the predicted a*b* of a regression network
/// (identity = as trained; see [`calibrate_chroma_gain`]); `classes` decodes the
/// classification head instead, when the network has one; `metadata` adds or overrides
/// `colorize.*` entries.
pub fn to_onnx(
    net: &Network,
    chroma: ChromaCurve,
    classes: Option<&ClassDecoding>,
    metadata: &BTreeMap<String, String>,
) -> Vec<u8> {
    let mut g = GraphBuilder::new("colorize");
    let l = g.contract_input(None);
    let features = emit(&mut g, &net.encoder, &l);
    let (ab, stride) = match classes {
        Some(decoding) => {
            let tapped = emit(&mut g, &net.decoder[..net.class_tap], &features);
            let ab = emit_class_decoding(&mut g, net, &tapped, decoding);
            (ab, net.decoder_config.class_stride)
        }
        None => {
            let scaled_ab = emit(&mut g, &net.decoder, &features);
            let raw_ab = g.affine(&scaled_ab, AB_SCALE as f32, 0.0);
            let ab = emit_chroma_curve(&mut g, &raw_ab, chroma);
            (ab, net.decoder_config.output_stride)
        }
    };
    g.contract_output_named(&ab, None, ("Hout", "Wout"));
    if let Some(decoding) = classes {
        g.metadata(keys::HEAD, "classification");
        g.metadata(keys::CLASSES, decoding.centres.len());
        g.metadata(
            keys::DEFAULT_VIVIDNESS,
            format!("{:.3}", decoding.default_vividness),
        );
    }
    // The train size comes with `metadata` (the trainer knows it, the network does not).
    g.metadata(keys::FORMAT, FORMAT_VERSION);
    g.metadata(keys::STRIDE, stride);
    g.metadata(keys::PAD_MULTIPLE, net.pad_multiple());
    g.metadata(keys::ENCODER, net.encoder_kind.name());
    g.metadata(keys::ATTRIBUTION, net.encoder_kind.attribution());
    g.metadata(keys::CHROMA_GAIN, format!("{:.3}", chroma.gain));
    if chroma.knee > 0.0 {
        g.metadata(keys::CHROMA_KNEE, format!("{:.2}", chroma.knee));
    }
    for (k, v) in metadata {
        g.metadata(k, v);
    }
    g.to_bytes()
}

/// Scores of a model and of the grayscale baseline on colour photos, through the library
/// itself (the same engine and metrics as `colorize eval`).
fn score(
    onnx: &[u8],
    photos: &[std::path::PathBuf],
) -> anyhow::Result<(ScoreSummary, ScoreSummary)> {
    use colorize::metrics::{grayscale_baseline_rgb8, score_rgb8};
    let model = colorize::Model::from_bytes(onnx, "exported model")?;
    let (mut summary, mut baseline) = (ScoreSummary::new(), ScoreSummary::new());
    for path in photos {
        let truth = image::open(path)?.to_rgb8();
        let (w, h) = (truth.width() as usize, truth.height() as usize);
        let grey = grayscale_baseline_rgb8(truth.as_raw())?;
        let mut output = grey.clone();
        colorize::colorize_rgb8(
            &model,
            &colorize::Options::default(),
            &mut output,
            w,
            h,
            w * 3,
            3,
        )?;
        summary.add(&score_rgb8(truth.as_raw(), &output)?);
        baseline.add(&score_rgb8(truth.as_raw(), &grey)?);
    }
    Ok((summary, baseline))
}

/// Validation scores for the model's metadata.
pub fn validation_metrics(
    onnx: &[u8],
    photos: &[std::path::PathBuf],
) -> anyhow::Result<BTreeMap<String, String>> {
    let (summary, baseline) = score(onnx, photos)?;
    let mut meta = BTreeMap::new();
    meta.insert(keys::VAL_IMAGES.into(), summary.images().to_string());
    meta.insert(
        keys::VAL_PSNR_DB.into(),
        format!("{:.2}", summary.psnr_db()),
    );
    meta.insert(
        keys::VAL_BASELINE_PSNR_DB.into(),
        format!("{:.2}", baseline.psnr_db()),
    );
    meta.insert(keys::VAL_AB_AUC.into(), format!("{:.4}", summary.ab_auc()));
    meta.insert(
        keys::VAL_COLOURFULNESS_RATIO.into(),
        format!("{:.3}", summary.colourfulness_ratio()),
    );
    Ok(meta)
}

/// A regression-trained network predicts the conditional mean of a*b*, which is less
/// colourful than real photos (the "sepia" failure the paper fights). This finds the gain on
/// a*b* that makes outputs on calibration photos — training photos, never the test sets —
/// as colourful as their truth times `target_ratio`. Colourfulness is nearly linear in the
/// gain, so a few fixed-point steps converge. Returns (gain, ratio at gain 1).
pub fn calibrate_chroma_gain(
    net: &Network,
    knee: f32,
    metadata: &BTreeMap<String, String>,
    photos: &[std::path::PathBuf],
    target_ratio: f64,
) -> anyhow::Result<(f32, f64)> {
    let mut gain = 1.0f32;
    let mut ratio_at_one = f64::NAN;
    for step in 0..6 {
        let (summary, _) = score(
            &to_onnx(net, ChromaCurve { gain, knee }, None, metadata),
            photos,
        )?;
        let ratio = summary.colourfulness_ratio();
        if step == 0 {
            ratio_at_one = ratio;
        }
        anyhow::ensure!(
            ratio > 1e-3,
            "the model predicts no colour on the calibration photos"
        );
        // With a knee the ratio grows more slowly than the gain; the fixed point still
        // converges, in a few more steps.
        gain = (gain as f64 * target_ratio / ratio).clamp(0.25, 6.0) as f32;
    }
    Ok((gain, ratio_at_one))
}
