//! Resource limits of a model file, checked on the protobuf before tract sees the graph.
//!
//! Why here and not in tract: tract evaluates every node whose inputs are all constant
//! while it builds the network (`InferenceOp::infer` during analysis, `TypedModel::wire_node`
//! during translation, the `PropConst` pass during optimisation) and weighs the result's
//! size only after it has allocated it. A few hundred bytes of ONNX (`ConstantOfShape` of
//! [65536, 65536]) thus make it allocate gigabytes, and an allocation that fails aborts the
//! process. So the graph is walked here first: every value that will be constant when tract
//! folds (initializers, `Constant` nodes, the `Shape` of the input, whose size is known by
//! then, and anything computed from those only) gets an upper bound on its element count,
//! and a node whose result could exceed [`MAX_FOLDED_ELEMENTS`] is refused. A node computed
//! from constants whose size cannot be bounded (an operator not known here, or a size read
//! from a tensor whose values are unknown) is refused too: refusing an unusual model is
//! better than taking the host down.
//!
//! Tensors stored in the file are checked as well: their declared size against the bytes
//! present and against [`MAX_TENSOR_BYTES`]; external and sparse data are refused.

use std::collections::HashMap;

use tract_onnx::pb;

/// Largest tensor stored in a model file (initializer or `Constant`), in bytes.
pub const MAX_TENSOR_BYTES: u64 = 256 << 20;

/// Largest tensor tract may compute while folding constants, in elements: 2^24, 64 MiB as
/// float32. Raised to 4 times the input plane when that is larger (a plane-sized constant,
/// such as zeros shaped like the input, is the network's own scale), and to the largest
/// stored tensor (a transposed or rescaled weight is no larger than the weight).
pub const MAX_FOLDED_ELEMENTS: f64 = (1u64 << 24) as f64;

/// Largest sum of all folded results, in elements (tract keeps them as graph constants).
pub const MAX_FOLDED_TOTAL: f64 = (1u64 << 28) as f64;

/// Small integer or float tensors keep their values (as intervals), for the sizes they give.
const MAX_TRACKED_VALUES: usize = 64;

/// What the walk knows about a value that is constant at folding time.
#[derive(Clone, Debug)]
struct Known {
    /// Upper bound on the element count.
    elements: f64,
    /// Shape, when known exactly.
    shape: Option<Vec<f64>>,
    /// Each element's range [low, high], for small tensors whose values are known.
    values: Option<Vec<(f64, f64)>>,
}

impl Known {
    fn of_shape(shape: Vec<f64>) -> Self {
        Known {
            elements: shape.iter().product(),
            shape: Some(shape),
            values: None,
        }
    }
    fn with_values(mut self, values: Vec<(f64, f64)>) -> Self {
        if values.len() <= MAX_TRACKED_VALUES {
            self.values = Some(values);
        }
        self
    }
    /// The hull of all values, each element in it (for ops that pick or move elements).
    fn hull(&self) -> Option<(f64, f64)> {
        let values = self.values.as_ref()?;
        Some(
            values
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |h, v| {
                    (h.0.min(v.0), h.1.max(v.1))
                }),
        )
    }
    /// An upper bound on the product of the values read as sizes (negative = 0 or -1
    /// meaning "copy", bounded by 1 here; the caller multiplies by what is copied).
    fn size_product(&self) -> Option<f64> {
        let values = self.values.as_ref()?;
        Some(values.iter().map(|v| v.1.max(1.0)).product())
    }
}

/// Checks every tensor stored in the graph (and its subgraphs): declared size against the
/// bytes present and [`MAX_TENSOR_BYTES`]; no external or sparse data.
pub fn check_stored_tensors(graph: &pb::GraphProto) -> Result<(), String> {
    if !graph.sparse_initializer.is_empty() {
        return Err("sparse initializers are not supported".to_string());
    }
    for tensor in &graph.initializer {
        check_tensor(tensor, "initializer")?;
    }
    for node in &graph.node {
        for attr in &node.attribute {
            if let Some(tensor) = &attr.t {
                check_tensor(tensor, &format!("node '{}' attribute", node.name))?;
            }
            for tensor in &attr.tensors {
                check_tensor(tensor, &format!("node '{}' attribute", node.name))?;
            }
            if !attr.sparse_tensors.is_empty() || attr.sparse_tensor.is_some() {
                return Err(format!(
                    "node '{}': sparse tensors are not supported",
                    node.name
                ));
            }
            for subgraph in attr.g.iter().chain(&attr.graphs) {
                check_stored_tensors(subgraph)?;
            }
        }
    }
    Ok(())
}

/// Bytes per element of an ONNX data type, None for types without a fixed size.
fn element_size(data_type: i32) -> Option<u64> {
    use pb::tensor_proto::DataType as T;
    Some(match T::try_from(data_type).ok()? {
        T::Bool | T::Int8 | T::Uint8 => 1,
        T::Int16 | T::Uint16 | T::Float16 | T::Bfloat16 => 2,
        T::Int32 | T::Uint32 | T::Float => 4,
        T::Int64 | T::Uint64 | T::Double | T::Complex64 => 8,
        T::Complex128 => 16,
        _ => return None,
    })
}

fn check_tensor(tensor: &pb::TensorProto, role: &str) -> Result<(), String> {
    let name = tensor.name.escape_debug();
    if tensor.data_location == Some(pb::tensor_proto::DataLocation::External as i32)
        || !tensor.external_data.is_empty()
    {
        return Err(format!(
            "{role} '{name}' keeps its data in an external file, which is not supported"
        ));
    }
    let mut elements: u64 = 1;
    for &dim in &tensor.dims {
        let dim = u64::try_from(dim)
            .map_err(|_| format!("{role} '{name}' has a negative dimension {dim}"))?;
        elements = elements.saturating_mul(dim);
    }
    let Some(size) = element_size(tensor.data_type) else {
        // Strings and unknown types: tract checks the count against string_data itself.
        return Ok(());
    };
    let declared = elements.saturating_mul(size);
    if declared > MAX_TENSOR_BYTES {
        return Err(format!(
            "{role} '{name}' declares {:?} = {declared} bytes, over the limit of {MAX_TENSOR_BYTES}",
            tensor.dims
        ));
    }
    let present = if !tensor.raw_data.is_empty() {
        tensor.raw_data.len() as u64
    } else {
        let stored = tensor.float_data.len()
            + tensor.int32_data.len()
            + tensor.int64_data.len()
            + tensor.double_data.len()
            + tensor.uint64_data.len();
        // Typed fields hold one entry per element, two per complex number.
        let complex = matches!(
            pb::tensor_proto::DataType::try_from(tensor.data_type),
            Ok(pb::tensor_proto::DataType::Complex64 | pb::tensor_proto::DataType::Complex128)
        );
        (stored as u64).saturating_mul(if complex { size / 2 } else { size })
    };
    if present != declared {
        return Err(format!(
            "{role} '{name}' declares {:?} ({declared} bytes) but holds {present} bytes",
            tensor.dims
        ));
    }
    Ok(())
}

/// The values of a small stored tensor, if numeric.
fn stored_values(tensor: &pb::TensorProto) -> Option<Vec<(f64, f64)>> {
    use pb::tensor_proto::DataType as T;
    let dt = T::try_from(tensor.data_type).ok()?;
    let raw = &tensor.raw_data;
    let values: Vec<f64> = if !raw.is_empty() {
        if raw.len() > MAX_TRACKED_VALUES * 8 {
            return None;
        }
        match dt {
            T::Int64 => raw
                .chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap()) as f64)
                .collect(),
            T::Int32 => raw
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as f64)
                .collect(),
            T::Float => raw
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
                .collect(),
            T::Double => raw
                .chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                .collect(),
            T::Uint64 => raw
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().unwrap()) as f64)
                .collect(),
            _ => return None,
        }
    } else {
        match dt {
            T::Int64 => tensor.int64_data.iter().map(|&v| v as f64).collect(),
            T::Int32 | T::Int16 | T::Int8 | T::Uint8 | T::Uint16 | T::Bool => {
                tensor.int32_data.iter().map(|&v| v as f64).collect()
            }
            T::Float => tensor.float_data.iter().map(|&v| v as f64).collect(),
            T::Double => tensor.double_data.clone(),
            T::Uint64 | T::Uint32 => tensor.uint64_data.iter().map(|&v| v as f64).collect(),
            _ => return None,
        }
    };
    if values.len() > MAX_TRACKED_VALUES || values.iter().any(|v| v.is_nan()) {
        return None;
    }
    Some(values.into_iter().map(|v| (v, v)).collect())
}

fn stored_known(tensor: &pb::TensorProto) -> Known {
    let shape = tensor.dims.iter().map(|&d| d.max(0) as f64).collect();
    let known = Known::of_shape(shape);
    match stored_values(tensor) {
        Some(values) if values.len() as f64 == known.elements => known.with_values(values),
        _ => known,
    }
}

/// A copy of the graph with the data of large stored tensors dropped: what
/// [`check_folding`] reads, small enough to keep with the model for every plan's check.
pub fn folding_skeleton(graph: &pb::GraphProto) -> pb::GraphProto {
    let strip = |tensor: &pb::TensorProto| -> pb::TensorProto {
        if stored_values(tensor).is_some() {
            tensor.clone()
        } else {
            pb::TensorProto {
                name: tensor.name.clone(),
                dims: tensor.dims.clone(),
                data_type: tensor.data_type,
                ..Default::default()
            }
        }
    };
    pb::GraphProto {
        name: graph.name.clone(),
        input: graph.input.clone(),
        output: graph.output.clone(),
        initializer: graph.initializer.iter().map(strip).collect(),
        node: graph
            .node
            .iter()
            .map(|node| pb::NodeProto {
                attribute: node
                    .attribute
                    .iter()
                    .map(|attr| pb::AttributeProto {
                        t: attr.t.as_ref().map(strip),
                        tensors: attr.tensors.iter().map(strip).collect(),
                        g: attr.g.as_ref().map(folding_skeleton),
                        graphs: attr.graphs.iter().map(folding_skeleton).collect(),
                        ..attr.clone()
                    })
                    .collect(),
                ..node.clone()
            })
            .collect(),
        ..Default::default()
    }
}

/// Walks the graph as tract will fold it for an input of `input_shape` ([N, C, H, W]) and
/// refuses a node whose constant result could be too large. See the module documentation.
pub fn check_folding(graph: &pb::GraphProto, input_shape: [usize; 4]) -> Result<(), String> {
    let mut known: HashMap<String, Known> = HashMap::new();
    let input_name = graph
        .input
        .iter()
        .find(|i| !graph.initializer.iter().any(|t| t.name == i.name))
        .map(|i| i.name.clone());
    for tensor in &graph.initializer {
        known.insert(tensor.name.clone(), stored_known(tensor));
    }
    let plane = (input_shape[2] * input_shape[3]) as f64;
    let largest_stored = known.values().map(|k| k.elements).fold(0.0, f64::max);
    let limit = MAX_FOLDED_ELEMENTS.max(4.0 * plane).max(largest_stored);
    let mut total = 0.0;
    walk(
        graph,
        &mut known,
        input_name.as_deref(),
        input_shape,
        limit,
        &mut total,
    )
}

fn walk(
    graph: &pb::GraphProto,
    known: &mut HashMap<String, Known>,
    input_name: Option<&str>,
    input_shape: [usize; 4],
    limit: f64,
    total: &mut f64,
) -> Result<(), String> {
    // ONNX lists nodes in topological order, but tract sorts them itself, so they are
    // visited here in an order computed from the names (linear time, whatever the file's
    // order); a node whose inputs are never produced, or that is on a cycle, is not folded.
    let mut producer: HashMap<&str, usize> = HashMap::new();
    for (index, node) in graph.node.iter().enumerate() {
        for output in node.output.iter().filter(|o| !o.is_empty()) {
            producer.entry(output.as_str()).or_insert(index);
        }
    }
    let mut waiting_for = vec![0usize; graph.node.len()];
    let mut consumers: Vec<Vec<usize>> = vec![Vec::new(); graph.node.len()];
    for (index, node) in graph.node.iter().enumerate() {
        for input in node.input.iter().filter(|i| !i.is_empty()) {
            if let Some(&from) = producer.get(input.as_str()) {
                waiting_for[index] += 1;
                consumers[from].push(index);
            }
        }
    }
    let mut ready: std::collections::VecDeque<usize> = (0..graph.node.len())
        .filter(|&i| waiting_for[i] == 0)
        .collect();
    while let Some(index) = ready.pop_front() {
        let node = &graph.node[index];
        for &next in &consumers[index] {
            waiting_for[next] -= 1;
            if waiting_for[next] == 0 {
                ready.push_back(next);
            }
        }
        for attr in &node.attribute {
            for subgraph in attr.g.iter().chain(&attr.graphs) {
                // Names from the enclosing graph stay visible in a subgraph.
                for tensor in &subgraph.initializer {
                    known.insert(tensor.name.clone(), stored_known(tensor));
                }
                walk(subgraph, known, None, input_shape, limit, total)?;
            }
        }
        let inputs: Vec<Option<&Known>> = node
            .input
            .iter()
            .filter(|i| !i.is_empty())
            .map(|i| known.get(i))
            .collect();
        let shape_of_input = |name: &str| {
            (Some(name) == input_name).then(|| {
                input_shape
                    .iter()
                    .map(|&d| (d as f64, d as f64))
                    .collect::<Vec<_>>()
            })
        };
        let outputs = fold(node, &inputs, &shape_of_input)?;
        if let Some(result) = outputs {
            if result.elements.is_nan() || result.elements > limit {
                return Err(format!(
                    "node '{}' ({}) computes a constant of up to {} elements at load, \
                     over the limit of {limit} (see docs/model-contract.md)",
                    node.name.escape_debug(),
                    node.op_type.escape_debug(),
                    if result.elements.is_finite() {
                        format!("{}", result.elements)
                    } else {
                        "unboundedly many".to_string()
                    }
                ));
            }
            *total += result.elements * node.output.len().max(1) as f64;
            if *total > MAX_FOLDED_TOTAL.max(limit) {
                return Err(format!(
                    "the graph computes constants of over {MAX_FOLDED_TOTAL} elements in \
                     all at load (node '{}', {})",
                    node.name.escape_debug(),
                    node.op_type.escape_debug()
                ));
            }
            for output in node.output.iter().filter(|o| !o.is_empty()) {
                known.insert(output.clone(), result.clone());
            }
        }
    }
    Ok(())
}

/// The bound on a node's outputs when they are constant at folding time (None when they
/// depend on the input's values), or an error when they cannot be bounded.
fn fold(
    node: &pb::NodeProto,
    inputs: &[Option<&Known>],
    shape_of_input: &dyn Fn(&str) -> Option<Vec<(f64, f64)>>,
) -> Result<Option<Known>, String> {
    let op = node.op_type.as_str();
    let attr = |name: &str| node.attribute.iter().find(|a| a.name == name);
    // Shape and Size of any tensor are constant once the input's size is known.
    match op {
        "Shape" => {
            let data = node.input.first().map(String::as_str).unwrap_or("");
            let values = shape_of_input(data).or_else(|| {
                let shape = inputs.first().copied().flatten()?.shape.clone()?;
                Some(shape.into_iter().map(|d| (d, d)).collect())
            });
            let known = Known {
                elements: values.as_ref().map_or(16.0, |v| v.len() as f64),
                shape: None,
                values: None,
            };
            return Ok(Some(match values {
                Some(v) => known.with_values(v),
                None => known,
            }));
        }
        "Size" => {
            let data = node.input.first().map(String::as_str).unwrap_or("");
            let size = shape_of_input(data)
                .map(|s| s.iter().map(|v| v.1).product::<f64>())
                .or_else(|| inputs.first().copied().flatten().map(|k| k.elements));
            let known = Known::of_shape(vec![]);
            return Ok(Some(match size {
                Some(s) => known.with_values(vec![(0.0, s)]),
                None => known,
            }));
        }
        _ => {}
    }
    // Nodes with an input that depends on the image are not folded.
    if inputs.iter().any(|i| i.is_none()) {
        return Ok(None);
    }
    let inputs: Vec<&Known> = inputs.iter().map(|i| i.unwrap()).collect();
    let unbounded = |why: &str| {
        Err(format!(
            "node '{}' ({op}) computes on constants only and its size cannot be bounded at \
             load ({why}); such graphs are refused (see docs/model-contract.md)",
            node.name.escape_debug()
        ))
    };
    let max_in = inputs.iter().map(|k| k.elements).fold(0.0, f64::max);
    let sum_in: f64 = inputs.iter().map(|k| k.elements).sum();
    let product_in: f64 = inputs.iter().map(|k| k.elements.max(1.0)).product();
    let first = inputs.first().copied();
    let same_values = |k: &Known| Known {
        elements: k.elements,
        shape: None,
        values: k.values.clone(),
    };
    let bounded = |elements: f64| Known {
        elements,
        shape: None,
        values: None,
    };
    let known = match op {
        "Constant" => {
            if let Some(tensor) = attr("value").and_then(|a| a.t.as_ref()) {
                stored_known(tensor)
            } else if let Some(a) = attr("value_ints").or(attr("value_floats")) {
                let values: Vec<(f64, f64)> = if a.ints.is_empty() {
                    a.floats.iter().map(|&v| (v as f64, v as f64)).collect()
                } else {
                    a.ints.iter().map(|&v| (v as f64, v as f64)).collect()
                };
                Known::of_shape(vec![values.len() as f64]).with_values(values)
            } else if let Some(a) = attr("value_int") {
                Known::of_shape(vec![]).with_values(vec![(a.i as f64, a.i as f64)])
            } else if let Some(a) = attr("value_float") {
                Known::of_shape(vec![]).with_values(vec![(a.f as f64, a.f as f64)])
            } else {
                bounded(max_in.max(1.0))
            }
        }
        // Same elements, same values.
        "Identity" | "Cast" | "CastLike" | "Squeeze" | "Unsqueeze" | "Reshape" | "Flatten" => {
            same_values(first.ok_or("no input")?)
        }
        // At most as many elements as their largest input; values within the input's hull.
        "Slice"
        | "Split"
        | "Transpose"
        | "ReduceMax"
        | "ReduceMin"
        | "ReduceSum"
        | "ReduceMean"
        | "ReduceProd"
        | "ReduceL1"
        | "ReduceL2"
        | "ReduceLogSum"
        | "ReduceLogSumExp"
        | "ReduceSumSquare"
        | "ArgMax"
        | "ArgMin"
        | "TopK"
        | "Compress"
        | "Dropout"
        | "GatherElements"
        | "ScatterElements"
        | "Scatter"
        | "ScatterND"
        | "Trilu"
        | "CumSum"
        | "Softmax"
        | "LogSoftmax"
        | "Hardmax"
        | "GlobalAveragePool"
        | "GlobalMaxPool"
        | "BatchNormalization"
        | "InstanceNormalization"
        | "LayerNormalization"
        | "QuantizeLinear"
        | "DequantizeLinear"
        | "IsNaN"
        | "IsInf"
        | "EyeLike"
        | "Relu"
        | "LeakyRelu"
        | "PRelu"
        | "Elu"
        | "Selu"
        | "Sigmoid"
        | "HardSigmoid"
        | "Tanh"
        | "Softplus"
        | "Softsign"
        | "Exp"
        | "Log"
        | "Sqrt"
        | "Reciprocal"
        | "Floor"
        | "Ceil"
        | "Round"
        | "Sign"
        | "Not"
        | "Erf"
        | "Sin"
        | "Cos"
        | "Tan"
        | "Asin"
        | "Acos"
        | "Atan"
        | "Sinh"
        | "Cosh"
        | "Asinh"
        | "Acosh"
        | "Atanh"
        | "Clip"
        | "Neg"
        | "Abs" => {
            let mut k = bounded(max_in);
            let keeps_range = matches!(
                op,
                "Slice" | "Split" | "Transpose" | "ReduceMax" | "ReduceMin"
            );
            if keeps_range {
                if let Some((low, high)) = first.and_then(Known::hull) {
                    let n = first.map_or(0.0, |f| f.elements);
                    if n <= MAX_TRACKED_VALUES as f64 {
                        k.values = Some(vec![(low, high); n as usize]);
                    }
                }
            }
            if op == "Neg" {
                k.values = first
                    .and_then(|f| f.values.clone())
                    .map(|v| v.into_iter().map(|(l, h)| (-h, -l)).collect());
            }
            k
        }
        "NonZero" => bounded(max_in * 8.0),
        // Broadcasting: at most the product of the inputs, exactly the broadcast shape
        // when the shapes are known.
        "Add" | "Sub" | "Mul" | "Div" | "Pow" | "Mod" | "Max" | "Min" | "Sum" | "Mean"
        | "Equal" | "Less" | "LessOrEqual" | "Greater" | "GreaterOrEqual" | "And" | "Or"
        | "Xor" | "BitShift" | "Where" => {
            let elements = broadcast(&inputs).unwrap_or(product_in);
            let mut k = bounded(elements);
            if inputs.len() == 2 {
                k.values = arithmetic(op, inputs[0], inputs[1]);
            }
            k
        }
        "MatMul" | "Gemm" => {
            let exact = match (&inputs[0].shape, &inputs[1].shape) {
                (Some(a), Some(b)) if a.len() == 2 && b.len() == 2 => {
                    let transposed = |name| attr(name).is_some_and(|a| a.i != 0);
                    let m = if transposed("transA") { a[1] } else { a[0] };
                    let n = if transposed("transB") { b[0] } else { b[1] };
                    Some(m * n)
                }
                _ => None,
            };
            bounded(exact.unwrap_or(product_in))
        }
        "Concat" => {
            let mut k = bounded(sum_in);
            let parts: Option<Vec<Vec<(f64, f64)>>> =
                inputs.iter().map(|i| i.values.clone()).collect();
            if let Some(parts) = parts {
                k = k.with_values(parts.concat());
            }
            k
        }
        "Gather" | "GatherND" => {
            let data = inputs[0];
            let indices = inputs.get(1).copied().ok_or("Gather without indices")?;
            let mut k = bounded(data.elements.max(1.0) * indices.elements.max(1.0));
            if let Some((low, high)) = data.hull() {
                if indices.elements <= MAX_TRACKED_VALUES as f64 {
                    k.values = Some(vec![(low, high); indices.elements as usize]);
                }
            }
            k
        }
        "ConstantOfShape" => {
            let Some(size) = first.and_then(Known::size_product) else {
                return unbounded("its shape input's values are unknown");
            };
            bounded(size)
        }
        "Expand" => {
            let Some(size) = inputs.get(1).and_then(|s| s.size_product()) else {
                return unbounded("its shape input's values are unknown");
            };
            bounded(inputs[0].elements.max(1.0) * size)
        }
        "Tile" => {
            let Some(size) = inputs.get(1).and_then(|s| s.size_product()) else {
                return unbounded("its repeats are unknown");
            };
            bounded(inputs[0].elements.max(1.0) * size)
        }
        "Range" => {
            let scalar = |i: usize| inputs.get(i).and_then(|k| k.hull());
            let (Some(start), Some(limit), Some(delta)) = (scalar(0), scalar(1), scalar(2)) else {
                return unbounded("its start, limit or delta is unknown");
            };
            let step = delta.0.abs().min(delta.1.abs());
            if (delta.0 <= 0.0 && delta.1 >= 0.0) || step == 0.0 {
                return unbounded("its delta may be 0");
            }
            let span = (limit.1 - start.0).abs().max((limit.0 - start.1).abs());
            bounded((span / step).ceil() + 1.0)
        }
        "Resize" | "Upsample" => {
            // Resize(X, roi, scales, sizes) or Upsample(X, scales).
            let sizes = inputs.get(3).and_then(|s| s.size_product());
            let scales = inputs
                .get(if op == "Upsample" { 1 } else { 2 })
                .filter(|k| k.elements > 0.0)
                .and_then(|s| s.size_product());
            match (sizes, scales) {
                (Some(sizes), _) => bounded(sizes),
                (None, Some(scales)) => bounded(inputs[0].elements * scales),
                _ => return unbounded("its scales or sizes are unknown"),
            }
        }
        "Pad" => {
            let pads = inputs.get(1).and_then(|p| p.values.clone()).or_else(|| {
                attr("pads").map(|a| a.ints.iter().map(|&v| (v as f64, v as f64)).collect())
            });
            let Some(pads) = pads else {
                return unbounded("its pads are unknown");
            };
            // Each axis grows from d to d + before + after <= d * (1 + before + after).
            let rank = pads.len() / 2;
            let growth: f64 = (0..rank)
                .map(|axis| 1.0 + pads[axis].1.max(0.0) + pads[axis + rank].1.max(0.0))
                .product();
            bounded(inputs[0].elements.max(1.0) * growth)
        }
        "OneHot" => {
            let Some(depth) = inputs.get(1).and_then(|d| d.hull()) else {
                return unbounded("its depth is unknown");
            };
            bounded(inputs[0].elements.max(1.0) * depth.1.max(1.0))
        }
        "RandomNormal" | "RandomUniform" | "ConstantLike" if inputs.is_empty() => {
            match attr("shape") {
                Some(a) => bounded(a.ints.iter().map(|&d| (d as f64).max(1.0)).product()),
                None => bounded(1.0),
            }
        }
        "RandomNormalLike" | "RandomUniformLike" | "ConstantLike" | "Bernoulli" => bounded(max_in),
        _ => return unbounded("an operator whose size this library does not bound"),
    };
    Ok(Some(known))
}

/// The element count of the broadcast of inputs whose shapes are all known.
fn broadcast(inputs: &[&Known]) -> Option<f64> {
    let shapes: Vec<&Vec<f64>> = inputs
        .iter()
        .map(|k| k.shape.as_ref())
        .collect::<Option<_>>()?;
    let rank = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut elements = 1.0;
    for axis in 0..rank {
        let mut dim: f64 = 1.0;
        for shape in &shapes {
            if let Some(d) = (axis + shape.len()).checked_sub(rank).map(|i| shape[i]) {
                dim = dim.max(d);
            }
        }
        elements *= dim;
    }
    Some(elements)
}

/// Interval arithmetic on small tensors (shape computations), element by element with
/// scalar broadcasting; None when the result is not a simple function of the operands.
fn arithmetic(op: &str, a: &Known, b: &Known) -> Option<Vec<(f64, f64)>> {
    let (x, y) = (a.values.as_ref()?, b.values.as_ref()?);
    let len = match (x.len(), y.len()) {
        (n, m) if n == m => n,
        (1, m) => m,
        (n, 1) => n,
        _ => return None,
    };
    let pick = |v: &Vec<(f64, f64)>, i: usize| if v.len() == 1 { v[0] } else { v[i] };
    let corners = |p: (f64, f64), q: (f64, f64), f: &dyn Fn(f64, f64) -> f64| {
        let c = [f(p.0, q.0), f(p.0, q.1), f(p.1, q.0), f(p.1, q.1)];
        if c.iter().any(|v| v.is_nan()) {
            return None;
        }
        Some((
            c.iter().copied().fold(f64::INFINITY, f64::min),
            c.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        ))
    };
    (0..len)
        .map(|i| {
            let (p, q) = (pick(x, i), pick(y, i));
            match op {
                "Add" => Some((p.0 + q.0, p.1 + q.1)),
                "Sub" => Some((p.0 - q.1, p.1 - q.0)),
                "Mul" => corners(p, q, &|u, v| u * v),
                "Div" if q.0 > 0.0 || q.1 < 0.0 => corners(p, q, &|u, v| u / v),
                "Max" => Some((p.0.max(q.0), p.1.max(q.1))),
                "Min" => Some((p.0.min(q.0), p.1.min(q.1))),
                _ => None,
            }
        })
        .collect()
}
