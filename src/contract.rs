//! The model contract: what makes an ONNX file a colorize model, in one place.
//!
//! - Input and output: one float32 input `[N, 1, H, W]` (CIE L*, 0..100) and one float32
//!   output `[N, 2, H/stride, W/stride]` (CIE a*, b*), initializers aside
//!   ([`check_signature`]).
//! - Metadata (`metadata_props`): the `colorize.*` keys of [`keys`]; [`Contract`] holds the
//!   ones the engine needs, reads them ([`Contract::from_metadata`], [`Contract::from_proto`])
//!   and writes them ([`Contract::write`], [`Contract::entries`]).
//!
//! Every reader and writer of the contract goes through here: the model loader
//! (`model.rs`), the ONNX builder (`onnx.rs`, used by the trainer's export, the tests, the
//! fuzz targets and the GIMP test models). docs/model-contract.md describes it for people.

use std::collections::BTreeMap;

use tract_onnx::pb;

/// The `colorize.*` metadata keys. Only the first five are read by the library; the others
/// describe the model and are written by `colorize-train export`.
pub mod keys {
    /// `1` on every contract-conforming model: the format version this library reads.
    pub const FORMAT: &str = "colorize.format";
    /// Output subsampling: the output is (H/stride) x (W/stride).
    pub const STRIDE: &str = "colorize.stride";
    /// Input H and W must be multiples of it.
    pub const PAD_MULTIPLE: &str = "colorize.pad_multiple";
    /// Short side the network was trained at: the default working size.
    pub const TRAIN_SIZE: &str = "colorize.train_size";
    /// Fixed input side S for models that only take S x S.
    pub const INPUT_SIZE: &str = "colorize.input_size";

    pub const NAME: &str = "colorize.name";
    pub const CATEGORY: &str = "colorize.category";
    pub const LOSS: &str = "colorize.loss";
    pub const ENCODER: &str = "colorize.encoder";
    pub const ATTRIBUTION: &str = "colorize.attribution";
    pub const DATASET: &str = "colorize.dataset";
    pub const EPOCHS: &str = "colorize.epochs";
    pub const SEED: &str = "colorize.seed";
    pub const WIDTHS: &str = "colorize.widths";
    pub const GLOBAL_CONTEXT: &str = "colorize.global_context";
    pub const CHROMA_GAIN: &str = "colorize.chroma_gain";
    pub const CHROMA_KNEE: &str = "colorize.chroma_knee";
    pub const CHROMA_GAIN_CALIBRATION: &str = "colorize.chroma_gain_calibration";
    pub const VAL_LOSS: &str = "colorize.val_loss";
    pub const VAL_L2: &str = "colorize.val_l2";
    pub const VAL_IMAGES: &str = "colorize.val_images";
    pub const VAL_PSNR_DB: &str = "colorize.val_psnr_db";
    pub const VAL_BASELINE_PSNR_DB: &str = "colorize.val_baseline_psnr_db";
    pub const VAL_AB_AUC: &str = "colorize.val_ab_auc";
    pub const VAL_COLOURFULNESS_RATIO: &str = "colorize.val_colourfulness_ratio";
    /// `classification` for a model that decodes colour classes with the annealed mean
    /// (it has the `temperature` input); absent for a regression model.
    pub const HEAD: &str = "colorize.head";
    /// Number of colour classes of a classification model.
    pub const CLASSES: &str = "colorize.classes";
    /// The vividness (1 / temperature) the engine feeds a classification model by default;
    /// read by the library when the model has the `temperature` input.
    pub const DEFAULT_VIVIDNESS: &str = "colorize.default_vividness";
    /// Fraction of the training's class rebalancing the decoding undoes.
    pub const PRIOR_CORRECTION: &str = "colorize.prior_correction";
    /// Class rebalancing λ the classification head was trained with.
    pub const CLASS_REBALANCE: &str = "colorize.class_rebalance";
}

/// Name of the optional second input: the softmax temperature T of a classification
/// model's annealed-mean decoding, float32 [1]. The engine feeds T = 1 / vividness.
pub const TEMPERATURE_INPUT_NAME: &str = "temperature";

/// The vividness range the library accepts: 1 / T from 0.1 (very muted) to 10 (nearly the
/// most likely class alone).
pub const MIN_VIVIDNESS: f32 = 0.1;
pub const MAX_VIVIDNESS: f32 = 10.0;

/// The default vividness of a model: `Some` for a classification model (it has the
/// `temperature` input), from [`keys::DEFAULT_VIVIDNESS`] or 1 when the key is absent;
/// `None` for a regression model. Call after [`check_signature`].
pub fn default_vividness(proto: &pb::ModelProto) -> Result<Option<f32>, String> {
    let has_temperature = proto
        .graph
        .as_ref()
        .is_some_and(|g| g.input.iter().any(|i| i.name == TEMPERATURE_INPUT_NAME));
    if !has_temperature {
        return Ok(None);
    }
    match metadata(proto).get(keys::DEFAULT_VIVIDNESS) {
        None => Ok(Some(1.0)),
        Some(v) => match v.trim().parse::<f32>() {
            Ok(x) if (MIN_VIVIDNESS..=MAX_VIVIDNESS).contains(&x) => Ok(Some(x)),
            _ => Err(format!(
                "metadata {} must be a number from {MIN_VIVIDNESS} to {MAX_VIVIDNESS}, found '{}'",
                keys::DEFAULT_VIVIDNESS,
                v.escape_debug()
            )),
        },
    }
}

/// The value of [`keys::FORMAT`] this library reads.
pub const FORMAT_VERSION: &str = "1";

/// Largest [`keys::STRIDE`]. The shipped models use 2; larger strides lose all detail.
pub const MAX_STRIDE: usize = 64;
/// Largest [`keys::PAD_MULTIPLE`]: every image is padded up to a multiple of it, and the
/// load-time probe runs at that side, so it bounds the work done for a tiny image.
pub const MAX_PAD_MULTIPLE: usize = 256;
/// Largest [`keys::TRAIN_SIZE`] and [`keys::INPUT_SIZE`]. The train size is the default
/// working size, so it sizes the network's buffers for every image: a side of 4096 means
/// 16 M pixels, already far above any trained model (the shipped ones use 128). Larger
/// values are refused before anything is allocated.
pub const MAX_SIDE: usize = 4096;

/// The names this project's builders give the input and the output (any name is accepted).
pub const INPUT_NAME: &str = "L";
pub const OUTPUT_NAME: &str = "ab";

/// What the engine needs to know about a model, read from its metadata and checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Contract {
    /// Output subsampling: the output is (H/stride) x (W/stride).
    pub stride: usize,
    /// Input H and W must be multiples of this.
    pub pad_multiple: usize,
    /// Short side the network was trained at (the default working size).
    pub train_size: usize,
    /// Fixed input side S for models that only take S x S, if any.
    pub input_size: Option<usize>,
}

/// The `metadata_props` of a model as a map (a repeated key keeps its last value).
pub fn metadata(proto: &pb::ModelProto) -> BTreeMap<String, String> {
    proto
        .metadata_props
        .iter()
        .map(|p| (p.key.clone(), p.value.clone()))
        .collect()
}

impl Contract {
    /// The contract of a model: its graph signature ([`check_signature`]) and its metadata
    /// ([`Contract::from_metadata`]). The message names the rule that is broken.
    pub fn from_proto(proto: &pb::ModelProto) -> Result<Self, String> {
        check_signature(proto)?;
        Self::from_metadata(&metadata(proto))
    }

    /// Reads and checks the contract keys: `format` = 1; `stride` and `pad_multiple`
    /// required; `train_size` required unless `input_size` is given (then it defaults to
    /// it); each within its cap ([`MAX_STRIDE`], [`MAX_PAD_MULTIPLE`], [`MAX_SIDE`]);
    /// `pad_multiple` a multiple of `stride`, `input_size` a multiple of `pad_multiple`.
    pub fn from_metadata(metadata: &BTreeMap<String, String>) -> Result<Self, String> {
        match metadata.get(keys::FORMAT).map(|s| s.trim()) {
            Some(FORMAT_VERSION) => {}
            Some(other) => {
                return Err(format!(
                    "metadata {} is '{other}', this library reads format {FORMAT_VERSION}",
                    keys::FORMAT
                ))
            }
            None => {
                return Err(format!(
                    "metadata {} is missing: not a colorize model (see docs/model-contract.md)",
                    keys::FORMAT
                ))
            }
        }
        let bounded = |key: &str, max: usize| -> Result<Option<usize>, String> {
            match metadata.get(key) {
                None => Ok(None),
                Some(v) => match v.trim().parse::<usize>() {
                    Ok(n) if (1..=max).contains(&n) => Ok(Some(n)),
                    _ => Err(format!(
                        "metadata {key} must be a whole number from 1 to {max}, found '{}'",
                        v.escape_debug()
                    )),
                },
            }
        };
        let required = |key: &str, max: usize| {
            bounded(key, max)?.ok_or_else(|| format!("metadata {key} is missing"))
        };
        let stride = required(keys::STRIDE, MAX_STRIDE)?;
        let pad_multiple = required(keys::PAD_MULTIPLE, MAX_PAD_MULTIPLE)?;
        let input_size = bounded(keys::INPUT_SIZE, MAX_SIDE)?;
        let train_size = match (bounded(keys::TRAIN_SIZE, MAX_SIDE)?, input_size) {
            (Some(t), _) => t,
            (None, Some(s)) => s,
            (None, None) => return Err(format!("metadata {} is missing", keys::TRAIN_SIZE)),
        };
        if pad_multiple % stride != 0 {
            return Err(format!(
                "{} ({pad_multiple}) must be a multiple of {} ({stride})",
                keys::PAD_MULTIPLE,
                keys::STRIDE
            ));
        }
        if let Some(s) = input_size {
            if s % pad_multiple != 0 {
                return Err(format!(
                    "{} ({s}) must be a multiple of {} ({pad_multiple})",
                    keys::INPUT_SIZE,
                    keys::PAD_MULTIPLE
                ));
            }
        }
        Ok(Contract {
            stride,
            pad_multiple,
            train_size,
            input_size,
        })
    }

    /// The contract keys as `(key, value)` entries: format, stride, pad multiple, train size
    /// (left out when it equals a fixed input size, which implies it) and input size.
    pub fn entries(&self) -> Vec<(&'static str, String)> {
        let mut entries = vec![
            (keys::FORMAT, FORMAT_VERSION.to_string()),
            (keys::STRIDE, self.stride.to_string()),
            (keys::PAD_MULTIPLE, self.pad_multiple.to_string()),
        ];
        if self.input_size != Some(self.train_size) {
            entries.push((keys::TRAIN_SIZE, self.train_size.to_string()));
        }
        if let Some(side) = self.input_size {
            entries.push((keys::INPUT_SIZE, side.to_string()));
        }
        entries
    }

    /// Writes the contract keys into a model's `metadata_props`, replacing earlier values.
    pub fn write(&self, proto: &mut pb::ModelProto) {
        for (key, value) in self.entries() {
            set_metadata(proto, key, &value);
        }
    }
}

/// Sets one `metadata_props` entry, replacing an earlier one of the same key.
pub fn set_metadata(proto: &mut pb::ModelProto, key: &str, value: &str) {
    proto.metadata_props.retain(|entry| entry.key != key);
    proto.metadata_props.push(pb::StringStringEntryProto {
        key: key.to_string(),
        value: value.to_string(),
    });
}

/// The graph has one float32 input [N,1,H,W] (optionally followed by the float32 [1]
/// input [`TEMPERATURE_INPUT_NAME`]) and one float32 output [N,2,H',W'].
pub fn check_signature(proto: &pb::ModelProto) -> Result<(), String> {
    let graph = proto.graph.as_ref().ok_or("the file has no graph")?;
    let initializers: std::collections::HashSet<&str> =
        graph.initializer.iter().map(|t| t.name.as_str()).collect();
    let inputs: Vec<&pb::ValueInfoProto> = graph
        .input
        .iter()
        .filter(|i| !initializers.contains(i.name.as_str()))
        .collect();
    match inputs.as_slice() {
        [_] => {}
        [_, second] if second.name == TEMPERATURE_INPUT_NAME => check_temperature(second)?,
        [first, _] if first.name == TEMPERATURE_INPUT_NAME => {
            return Err(format!(
                "the input '{TEMPERATURE_INPUT_NAME}' must come second, after L*"
            ))
        }
        _ => {
            return Err(format!(
                "the graph must have exactly 1 input (L*), or L* and '{TEMPERATURE_INPUT_NAME}'; it has {}",
                inputs.len()
            ))
        }
    }
    if graph.output.len() != 1 {
        return Err(format!(
            "the graph must have exactly 1 output (a*b*), it has {}",
            graph.output.len()
        ));
    }
    check_value(inputs[0], "input", 1)?;
    check_value(&graph.output[0], "output", 2)
}

/// The temperature input: float32 of shape [1].
fn check_temperature(value: &pb::ValueInfoProto) -> Result<(), String> {
    use pb::tensor_shape_proto::dimension::Value;
    let Some(pb::type_proto::Value::TensorType(tensor)) =
        value.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err(format!("input '{}' is not a tensor", value.name));
    };
    let one_element = tensor
        .shape
        .as_ref()
        .is_some_and(|s| s.dim.len() == 1 && matches!(s.dim[0].value, Some(Value::DimValue(1))));
    if tensor.elem_type != pb::tensor_proto::DataType::Float as i32 || !one_element {
        return Err(format!(
            "input '{TEMPERATURE_INPUT_NAME}' must be float32 of shape [1]"
        ));
    }
    Ok(())
}

fn check_value(value: &pb::ValueInfoProto, role: &str, channels: i64) -> Result<(), String> {
    use pb::tensor_shape_proto::dimension::Value;
    let Some(pb::type_proto::Value::TensorType(tensor)) =
        value.r#type.as_ref().and_then(|t| t.value.as_ref())
    else {
        return Err(format!("{role} '{}' is not a tensor", value.name));
    };
    if tensor.elem_type != pb::tensor_proto::DataType::Float as i32 {
        return Err(format!(
            "{role} '{}' must be float32 (ONNX type 1), found type {}",
            value.name, tensor.elem_type
        ));
    }
    if let Some(shape) = &tensor.shape {
        if shape.dim.len() != 4 {
            return Err(format!(
                "{role} '{}' must have rank 4 [N,C,H,W], found rank {}",
                value.name,
                shape.dim.len()
            ));
        }
        if let Some(Value::DimValue(c)) = shape.dim[1].value {
            if c != channels {
                return Err(format!(
                    "{role} '{}' must have {channels} channel(s), found {c}",
                    value.name
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn entries_read_back() {
        for contract in [
            Contract {
                stride: 2,
                pad_multiple: 8,
                train_size: 128,
                input_size: None,
            },
            Contract {
                stride: 1,
                pad_multiple: 1,
                train_size: 16,
                input_size: Some(16),
            },
        ] {
            let mut proto = pb::ModelProto::default();
            contract.write(&mut proto);
            contract.write(&mut proto);
            assert_eq!(proto.metadata_props.len(), contract.entries().len());
            assert_eq!(Contract::from_metadata(&metadata(&proto)), Ok(contract));
        }
    }

    #[test]
    fn sizes_are_capped() {
        let base = [
            (keys::FORMAT, "1"),
            (keys::STRIDE, "1"),
            (keys::PAD_MULTIPLE, "1"),
        ];
        for (key, value) in [
            (keys::TRAIN_SIZE, "65536"),
            (keys::TRAIN_SIZE, "4097"),
            (keys::INPUT_SIZE, "4097"),
            (keys::TRAIN_SIZE, "0"),
            (keys::TRAIN_SIZE, "-1"),
            (keys::TRAIN_SIZE, "1e3"),
        ] {
            let mut entries = base.to_vec();
            entries.push((key, value));
            let e = Contract::from_metadata(&map(&entries)).unwrap_err();
            assert!(e.contains(key) && e.contains("from 1 to 4096"), "{e}");
        }
        let mut entries = base.to_vec();
        entries.push((keys::TRAIN_SIZE, "4096"));
        assert!(Contract::from_metadata(&map(&entries)).is_ok());
        for (key, value, max) in [
            (keys::STRIDE, "65", "64"),
            (keys::PAD_MULTIPLE, "512", "256"),
        ] {
            let mut entries = base.to_vec();
            entries.retain(|(k, _)| *k != key);
            entries.extend([(keys::TRAIN_SIZE, "64"), (key, value)]);
            let e = Contract::from_metadata(&map(&entries)).unwrap_err();
            assert!(e.contains(key) && e.contains(max), "{e}");
        }
    }
}
