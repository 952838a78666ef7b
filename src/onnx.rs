//! A small ONNX graph builder on tract-onnx's protobuf types (`tract_onnx::pb`, encoded
//! with prost).
//!
//! Why it exists: the trainer exports its networks to ONNX from Rust (no Python in the
//! loop), and the tests, the fuzz targets and the GIMP tests generate small models that
//! meet, or deliberately break, the model contract (`crate::contract`). All of them build
//! through this one builder: [`GraphBuilder::contract_input`], [`GraphBuilder::contract_output`]
//! and [`GraphBuilder::contract`] write the contract's side, and the test models of
//! [`test_models`] are shared by every test. Weights are stored as little-endian `raw_data`,
//! the compact encoding every runtime reads.

use std::collections::BTreeMap;

use prost::Message;
/// The ONNX protobuf types the builder writes (prost messages), for callers that adjust a model.
pub use tract_onnx::pb;

use crate::contract::{self, keys, Contract};

/// One dimension of a graph input or output: a fixed size or a symbolic name ("H").
#[derive(Clone, Debug)]
pub enum Dim {
    Fixed(i64),
    Symbolic(&'static str),
}

/// An attribute of a node.
#[derive(Clone, Debug)]
pub enum Attr {
    Int(i64),
    Ints(Vec<i64>),
    Float(f32),
    String(String),
}

/// Builds one ONNX model: inputs, outputs, initializers (weights), nodes and metadata.
///
/// Node and tensor names are generated (`name_N`) when the helpers are used, so callers
/// only keep the value names the helpers return.
#[derive(Default)]
pub struct GraphBuilder {
    graph: pb::GraphProto,
    metadata: BTreeMap<String, String>,
    counter: usize,
}

/// The opset the exported graphs declare; every operator used here exists unchanged in it.
pub const OPSET: i64 = 13;

impl GraphBuilder {
    pub fn new(name: &str) -> Self {
        let mut builder = Self::default();
        builder.graph.name = name.to_string();
        builder
    }

    /// A fresh value name with the given prefix.
    pub fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}_{}", self.counter)
    }

    /// Declares a float32 graph input.
    pub fn input(&mut self, name: &str, dims: &[Dim]) {
        let value = value_info(name, dims);
        self.graph.input.push(value);
    }

    /// Declares a float32 graph output.
    pub fn output(&mut self, name: &str, dims: &[Dim]) {
        let value = value_info(name, dims);
        self.graph.output.push(value);
    }

    /// Adds a float32 weight tensor and returns its name. `data.len()` must equal the
    /// product of `dims`.
    pub fn initializer(&mut self, prefix: &str, dims: &[i64], data: &[f32]) -> String {
        assert_eq!(
            dims.iter().product::<i64>() as usize,
            data.len(),
            "initializer {prefix}: dims do not match data length"
        );
        let name = self.fresh(prefix);
        let raw_data = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.graph.initializer.push(pb::TensorProto {
            name: name.clone(),
            dims: dims.to_vec(),
            data_type: pb::tensor_proto::DataType::Float as i32,
            raw_data,
            ..Default::default()
        });
        name
    }

    /// Adds an int64 constant tensor (shapes for Reshape, axes) and returns its name.
    pub fn initializer_i64(&mut self, prefix: &str, data: &[i64]) -> String {
        let name = self.fresh(prefix);
        let raw_data = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.graph.initializer.push(pb::TensorProto {
            name: name.clone(),
            dims: vec![data.len() as i64],
            data_type: pb::tensor_proto::DataType::Int64 as i32,
            raw_data,
            ..Default::default()
        });
        name
    }

    /// Adds a tensor as given: any type, dims and bytes, unchecked (for tests that build
    /// malformed models) and returns its name.
    pub fn raw_initializer(
        &mut self,
        prefix: &str,
        dims: &[i64],
        data_type: pb::tensor_proto::DataType,
        raw_data: Vec<u8>,
    ) -> String {
        let name = self.fresh(prefix);
        self.graph.initializer.push(pb::TensorProto {
            name: name.clone(),
            dims: dims.to_vec(),
            data_type: data_type as i32,
            raw_data,
            ..Default::default()
        });
        name
    }

    /// Declares the contract's input: L* as float32 `[N, 1, H, W]`, named
    /// [`contract::INPUT_NAME`] (returned), with symbolic N, H, W or a fixed `[1, 1, S, S]`.
    pub fn contract_input(&mut self, fixed_side: Option<usize>) -> String {
        self.input(
            contract::INPUT_NAME,
            &contract_dims(1, fixed_side, ("H", "W")),
        );
        contract::INPUT_NAME.to_string()
    }

    /// Declares the contract's output: `value` becomes a*b*, float32 `[N, 2, H', W']` named
    /// [`contract::OUTPUT_NAME`], with symbolic sizes or a fixed `[1, 2, S, S]`.
    pub fn contract_output(&mut self, value: &str, fixed_side: Option<usize>) {
        self.contract_output_named(value, fixed_side, ("H", "W"));
    }

    /// [`GraphBuilder::contract_output`] with other names for the symbolic output sides.
    pub fn contract_output_named(
        &mut self,
        value: &str,
        fixed_side: Option<usize>,
        sides: (&'static str, &'static str),
    ) {
        self.node_named("Identity", &[value], &[contract::OUTPUT_NAME], &[]);
        self.output(contract::OUTPUT_NAME, &contract_dims(2, fixed_side, sides));
    }

    /// Writes the contract's metadata keys (format, stride, pad multiple, sizes).
    pub fn contract(&mut self, contract: &Contract) {
        for (key, value) in contract.entries() {
            self.metadata(key, value);
        }
    }

    /// Adds a node with explicit output names.
    pub fn node_named(
        &mut self,
        op: &str,
        inputs: &[&str],
        outputs: &[&str],
        attrs: &[(&str, Attr)],
    ) {
        let name = self.fresh(op);
        self.graph.node.push(pb::NodeProto {
            name,
            op_type: op.to_string(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            attribute: attrs.iter().map(|(k, v)| attribute(k, v)).collect(),
            ..Default::default()
        });
    }

    /// Adds a single-output node and returns the name of its output.
    pub fn node(&mut self, op: &str, inputs: &[&str], attrs: &[(&str, Attr)]) -> String {
        let out = self.fresh(&op.to_lowercase());
        self.node_named(op, inputs, &[&out], attrs);
        out
    }

    /// `y = x * scale + shift` with scalar constants.
    pub fn affine(&mut self, x: &str, scale: f32, shift: f32) -> String {
        let s = self.initializer("scale", &[], &[scale]);
        let b = self.initializer("shift", &[], &[shift]);
        let scaled = self.node("Mul", &[x, &s], &[]);
        self.node("Add", &[&scaled, &b], &[])
    }

    /// 2-D convolution, NCHW, square kernel; `weight` is OIHW (row-major).
    #[allow(clippy::too_many_arguments)]
    pub fn conv(
        &mut self,
        x: &str,
        weight: &[f32],
        bias: &[f32],
        out_channels: usize,
        in_channels: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
    ) -> String {
        let dims = [
            out_channels as i64,
            in_channels as i64,
            kernel as i64,
            kernel as i64,
        ];
        let w = self.initializer("conv_w", &dims, weight);
        let b = self.initializer("conv_b", &[out_channels as i64], bias);
        let p = pad as i64;
        self.node(
            "Conv",
            &[x, &w, &b],
            &[
                ("kernel_shape", Attr::Ints(vec![kernel as i64; 2])),
                ("strides", Attr::Ints(vec![stride as i64; 2])),
                ("pads", Attr::Ints(vec![p, p, p, p])),
            ],
        )
    }

    /// 2-D transposed convolution, NCHW, square kernel; `weight` is IOHW as in PyTorch.
    #[allow(clippy::too_many_arguments)]
    pub fn conv_transpose(
        &mut self,
        x: &str,
        weight: &[f32],
        bias: &[f32],
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        pad: usize,
    ) -> String {
        let dims = [
            in_channels as i64,
            out_channels as i64,
            kernel as i64,
            kernel as i64,
        ];
        let w = self.initializer("deconv_w", &dims, weight);
        let b = self.initializer("deconv_b", &[out_channels as i64], bias);
        let p = pad as i64;
        self.node(
            "ConvTranspose",
            &[x, &w, &b],
            &[
                ("kernel_shape", Attr::Ints(vec![kernel as i64; 2])),
                ("strides", Attr::Ints(vec![stride as i64; 2])),
                ("pads", Attr::Ints(vec![p, p, p, p])),
            ],
        )
    }

    /// A classification model's decoding, the contract's annealed mean: declares the
    /// `temperature` input and returns `softmax(logits / T) · centres` ([N, 2, H, W]) for
    /// `logits` [N, Q, H, W] over the colour classes whose (a*, b*) are `centres`.
    ///
    /// The softmax is written out over the class axis: exp(z - max z) summed twice by 1x1
    /// convolutions, once weighted by the centres (the expectation's numerator) and once
    /// by ones (the normaliser). tract's Softmax over axis 1 of NCHW runs a scalar path
    /// (0.9 s for 313 classes at 64x64); these ops run vectorised, in milliseconds.
    pub fn annealed_mean(&mut self, logits: &str, centres: &[[f32; 2]]) -> String {
        self.annealed_mean_with_bias(logits, centres, None)
    }

    /// [`GraphBuilder::annealed_mean`] of `logits / T + bias`: a per-class `bias` added after
    /// the temperature, so it weighs the same at every T.
    pub fn annealed_mean_with_bias(
        &mut self,
        logits: &str,
        centres: &[[f32; 2]],
        bias: Option<&[f32]>,
    ) -> String {
        let q = centres.len();
        self.input(contract::TEMPERATURE_INPUT_NAME, &[Dim::Fixed(1)]);
        let mut annealed = self.node("Div", &[logits, contract::TEMPERATURE_INPUT_NAME], &[]);
        if let Some(bias) = bias {
            assert_eq!(bias.len(), q, "one bias per class");
            let b = self.initializer("class_bias", &[1, q as i64, 1, 1], bias);
            annealed = self.node("Add", &[&annealed, &b], &[]);
        }
        let max = self.node(
            "ReduceMax",
            &[&annealed],
            &[("axes", Attr::Ints(vec![1])), ("keepdims", Attr::Int(1))],
        );
        let shifted = self.node("Sub", &[&annealed, &max], &[]);
        let weights = self.node("Exp", &[&shifted], &[]);
        let filters: Vec<f32> = (0..2)
            .flat_map(|c| centres.iter().map(move |centre| centre[c]))
            .collect();
        let weighted_sum = self.conv(&weights, &filters, &[0.0, 0.0], 2, q, 1, 1, 0);
        let total = self.conv(&weights, &vec![1.0; q], &[0.0], 1, q, 1, 1, 0);
        self.node("Div", &[&weighted_sum, &total], &[])
    }

    pub fn relu(&mut self, x: &str) -> String {
        self.node("Relu", &[x], &[])
    }

    /// Records a `metadata_props` entry (e.g. `colorize.loss`).
    pub fn metadata(&mut self, key: &str, value: impl ToString) {
        self.metadata.insert(key.to_string(), value.to_string());
    }

    /// The finished model as a protobuf message.
    pub fn to_model(&self) -> pb::ModelProto {
        pb::ModelProto {
            ir_version: 8,
            producer_name: "colorize".into(),
            producer_version: env!("CARGO_PKG_VERSION").into(),
            opset_import: vec![pb::OperatorSetIdProto {
                domain: String::new(),
                version: OPSET,
            }],
            graph: Some(self.graph.clone()),
            metadata_props: self
                .metadata
                .iter()
                .map(|(key, value)| pb::StringStringEntryProto {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect(),
            ..Default::default()
        }
    }

    /// The finished model as ONNX file bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_model().encode_to_vec()
    }
}

/// `[N, channels, H, W]` with symbolic N and sides, or `[1, channels, S, S]`.
fn contract_dims(
    channels: i64,
    fixed_side: Option<usize>,
    sides: (&'static str, &'static str),
) -> [Dim; 4] {
    match fixed_side {
        Some(side) => [
            Dim::Fixed(1),
            Dim::Fixed(channels),
            Dim::Fixed(side as i64),
            Dim::Fixed(side as i64),
        ],
        None => [
            Dim::Symbolic("N"),
            Dim::Fixed(channels),
            Dim::Symbolic(sides.0),
            Dim::Symbolic(sides.1),
        ],
    }
}

fn value_info(name: &str, dims: &[Dim]) -> pb::ValueInfoProto {
    use pb::tensor_shape_proto::{dimension::Value, Dimension};
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match d {
                Dim::Fixed(n) => Value::DimValue(*n),
                Dim::Symbolic(s) => Value::DimParam(s.to_string()),
            }),
            ..Default::default()
        })
        .collect();
    pb::ValueInfoProto {
        name: name.to_string(),
        r#type: Some(pb::TypeProto {
            value: Some(pb::type_proto::Value::TensorType(pb::type_proto::Tensor {
                elem_type: pb::tensor_proto::DataType::Float as i32,
                shape: Some(pb::TensorShapeProto { dim }),
            })),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn attribute(name: &str, value: &Attr) -> pb::AttributeProto {
    use pb::attribute_proto::AttributeType;
    let mut attr = pb::AttributeProto {
        name: name.to_string(),
        ..Default::default()
    };
    match value {
        Attr::Int(i) => {
            attr.i = *i;
            attr.r#type = AttributeType::Int as i32;
        }
        Attr::Ints(v) => {
            attr.ints = v.clone();
            attr.r#type = AttributeType::Ints as i32;
        }
        Attr::Float(f) => {
            attr.f = *f;
            attr.r#type = AttributeType::Float as i32;
        }
        Attr::String(s) => {
            attr.s = s.as_bytes().to_vec();
            attr.r#type = AttributeType::String as i32;
        }
    }
    attr
}

/// Small models that meet the contract, for the tests, the fuzz targets, the examples and
/// the GIMP tests. They are not colorizers: each predicts a* and b* as a known function of
/// L* and so makes the engine's plumbing observable.
pub mod test_models {
    use super::*;

    /// The contract of a model with stride 1, any input side, trained at `train_size`.
    pub fn full_resolution(train_size: usize) -> Contract {
        Contract {
            stride: 1,
            pad_multiple: 1,
            train_size,
            input_size: None,
        }
    }

    /// Marks a test model as such (`category` test, `loss` and `encoder` none).
    pub fn describe_as_test(g: &mut GraphBuilder) {
        g.metadata(keys::CATEGORY, "test");
        g.metadata(keys::LOSS, "none");
        g.metadata(keys::ENCODER, "none");
    }

    /// [`linear_test_model`] before it is encoded, to add or change metadata.
    pub fn linear_graph(a_gain: f32, b_gain: f32) -> GraphBuilder {
        let mut g = GraphBuilder::new("linear-test");
        let l = g.contract_input(None);
        let y = g.conv(
            &l,
            &[a_gain, b_gain],
            &[-50.0 * a_gain, -50.0 * b_gain],
            2,
            1,
            1,
            1,
            0,
        );
        g.contract_output(&y, None);
        g.contract(&full_resolution(64));
        describe_as_test(&mut g);
        g
    }

    /// a*, b* = gains x (mean L* of each `stride` x `stride` block - 50), at 1/stride
    /// resolution; input sides must be multiples of `pad_multiple`.
    pub fn strided(
        stride: usize,
        pad_multiple: usize,
        train_size: usize,
        a_gain: f32,
        b_gain: f32,
    ) -> GraphBuilder {
        let mut g = GraphBuilder::new("strided-test");
        let l = g.contract_input(None);
        let n = (stride * stride) as f32;
        let mut weight = vec![a_gain / n; stride * stride];
        weight.extend(vec![b_gain / n; stride * stride]);
        let y = g.conv(
            &l,
            &weight,
            &[-50.0 * a_gain, -50.0 * b_gain],
            2,
            1,
            stride,
            stride,
            0,
        );
        g.contract_output(&y, None);
        g.contract(&Contract {
            stride,
            pad_multiple,
            train_size,
            input_size: None,
        });
        g
    }

    /// a* = a_gain (L* - 50), b* = b_gain (L* - 50) on a model that only takes `side` x
    /// `side` (`colorize.input_size`), like one exported elsewhere with fixed shapes.
    pub fn fixed_size(side: usize, a_gain: f32, b_gain: f32) -> GraphBuilder {
        let mut g = GraphBuilder::new("fixed-test");
        let l = g.contract_input(Some(side));
        let y = g.conv(
            &l,
            &[a_gain, b_gain],
            &[-50.0 * a_gain, -50.0 * b_gain],
            2,
            1,
            1,
            1,
            0,
        );
        g.contract_output(&y, Some(side));
        g.contract(&Contract {
            stride: 1,
            pad_multiple: 1,
            train_size: side,
            input_size: Some(side),
        });
        g
    }

    /// a*, b* = a `kernel` x `kernel` convolution of L* (`weight`: 2 x 1 x k x k, row-major)
    /// plus `bias`, full resolution.
    pub fn convolution(name: &str, weight: &[f32], bias: [f32; 2], kernel: usize) -> GraphBuilder {
        let mut g = GraphBuilder::new(name);
        let l = g.contract_input(None);
        let y = g.conv(&l, weight, &bias, 2, 1, kernel, 1, kernel / 2);
        g.contract_output(&y, None);
        g.contract(&full_resolution(64));
        describe_as_test(&mut g);
        g
    }

    /// A classification model with two colour classes, (40, 20) and (-40, -20), whose
    /// logits are ±`gain` (L* - 50): a* = 40 tanh(gain (L* - 50) / T), b* = a* / 2. Higher
    /// vividness (lower T) pushes every pixel towards its more likely class.
    /// `default_vividness` goes into the metadata when given.
    pub fn two_classes(gain: f32, default_vividness: Option<f32>) -> GraphBuilder {
        let mut g = GraphBuilder::new("two-classes-test");
        let l = g.contract_input(None);
        let logits = g.conv(
            &l,
            &[gain, -gain],
            &[-50.0 * gain, 50.0 * gain],
            2,
            1,
            1,
            1,
            0,
        );
        let ab = g.annealed_mean(&logits, &[[40.0, 20.0], [-40.0, -20.0]]);
        g.contract_output(&ab, None);
        g.contract(&full_resolution(64));
        describe_as_test(&mut g);
        g.metadata(keys::HEAD, "classification");
        if let Some(v) = default_vividness {
            g.metadata(keys::DEFAULT_VIVIDNESS, v);
        }
        g
    }

    /// Passes the load-time check (a probe at 32 x 32) but cannot run at any other size:
    /// a Reshape to a fixed 1 x 2 x 32 x 32 after a 1 x 1 convolution.
    pub fn fails_at_run() -> GraphBuilder {
        let mut g = GraphBuilder::new("fails-at-run-test");
        let l = g.contract_input(None);
        let y = g.conv(&l, &[1.0, 1.0], &[0.0, 0.0], 2, 1, 1, 1, 0);
        let shape = g.initializer_i64("shape", &[1, 2, 32, 32]);
        let z = g.node("Reshape", &[&y, &shape], &[]);
        g.contract_output(&z, None);
        g.contract(&full_resolution(64));
        describe_as_test(&mut g);
        g
    }
}

/// Builds the smallest model that meets the contract, for tests and examples:
/// a* = `a_gain` * (L* - 50), b* = `b_gain` * (L* - 50), predicted at full resolution.
/// It is not a colorizer; it makes the engine's plumbing observable (a known function of L*).
pub fn linear_test_model(a_gain: f32, b_gain: f32) -> Vec<u8> {
    test_models::linear_graph(a_gain, b_gain).to_bytes()
}
