//! A small ONNX graph builder on tract-onnx's protobuf types (`tract_onnx::pb`, encoded
//! with prost).
//!
//! Why it exists: the trainer exports its networks to ONNX from Rust (no Python in the
//! loop), and the tests generate small models that meet, or deliberately break, the
//! model contract of DESIGN.md §3. Both need the same few operators, so they share this.
//! Weights are stored as little-endian `raw_data`, the compact encoding every runtime reads.

use std::collections::BTreeMap;

use prost::Message;
use tract_onnx::pb;

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

/// Builds the smallest model that meets the contract, for tests and examples:
/// a* = `a_gain` * (L* - 50), b* = `b_gain` * (L* - 50), predicted at full resolution.
/// It is not a colorizer; it makes the engine's plumbing observable (a known function of L*).
pub fn linear_test_model(a_gain: f32, b_gain: f32) -> Vec<u8> {
    let mut g = GraphBuilder::new("linear-test");
    let dims = [
        Dim::Symbolic("N"),
        Dim::Fixed(1),
        Dim::Symbolic("H"),
        Dim::Symbolic("W"),
    ];
    g.input("L", &dims);
    let y = g.conv(
        "L",
        &[a_gain, b_gain],
        &[-50.0 * a_gain, -50.0 * b_gain],
        2,
        1,
        1,
        1,
        0,
    );
    g.node_named("Identity", &[&y], &["ab"], &[]);
    g.output(
        "ab",
        &[
            Dim::Symbolic("N"),
            Dim::Fixed(2),
            Dim::Symbolic("H"),
            Dim::Symbolic("W"),
        ],
    );
    g.metadata("colorize.format", 1);
    g.metadata("colorize.stride", 1);
    g.metadata("colorize.pad_multiple", 1);
    g.metadata("colorize.train_size", 64);
    g.metadata("colorize.category", "test");
    g.metadata("colorize.loss", "none");
    g.metadata("colorize.encoder", "none");
    g.to_bytes()
}
