use crate::internal::*;

/// How a padded region is filled. A `Constant` value carries a single element
/// in the datum type the model builder gave it, f32 for a float graph, and no
/// pass retypes it: a consumer casts it to the datum type of the tensor it pads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PadMode {
    Constant(Arc<Tensor>),
    Reflect,
    Edge,
}

impl Default for PadMode {
    fn default() -> PadMode {
        PadMode::Constant(Arc::new(0.0f32.into()))
    }
}

#[derive(Debug, Clone, new, Default, Hash, PartialEq, Eq)]
pub struct Pad {
    pub pads: Vec<(usize, usize)>,
    pub mode: PadMode,
}

impl Pad {
    /// Constant padding of the two innermost axes only (what a convolution's padding becomes),
    /// done row by row (planes in parallel): fill, copy, fill. The generic path below goes through an n-dimensional
    /// slice assignment, several times slower on a large activation. `None` where it does not
    /// apply.
    fn constant_rows_fast_path<T>(&self, input_tensor: &TValue) -> TractResult<Option<TValue>>
    where
        T: Copy + Datum,
    {
        let PadMode::Constant(value) = &self.mode else { return Ok(None) };
        let rank = self.pads.len();
        if rank < 2 || self.pads[..rank - 2].iter().any(|&(a, b)| a != 0 || b != 0) {
            return Ok(None);
        }
        let Ok(input) = input_tensor.try_as_plain_ram() else { return Ok(None) };
        let Ok(input) = input.as_slice::<T>() else { return Ok(None) };
        let shape = input_tensor.shape();
        let (h, w) = (shape[rank - 2], shape[rank - 1]);
        let ((top, bottom), (left, right)) = (self.pads[rank - 2], self.pads[rank - 1]);
        let (out_h, out_w) = (h + top + bottom, w + left + right);
        let planes: usize = shape[..rank - 2].iter().product();
        let element = value.cast_to_scalar::<T>()?;
        let plane_len = out_h * out_w;
        let total = planes * plane_len;
        // Every element is written exactly once below, border and interior alike, in
        // parallel: a filled allocation first would be a second, serial pass over an output
        // that is tens of MB for a large photo's first layers.
        let mut output: Vec<std::mem::MaybeUninit<T>> = Vec::with_capacity(total);
        // SAFETY: MaybeUninit needs no initialisation; every element is written before the
        // vector is read as T below.
        unsafe { output.set_len(total) };
        if total > 0 {
            let fill = std::mem::MaybeUninit::new(element);
            tract_linalg::multithread::par_chunks_mut(
                &mut output,
                plane_len,
                total,
                |first_plane, chunk| {
                    for (plane, plane_out) in chunk.chunks_exact_mut(plane_len).enumerate() {
                        let plane_in = &input[(first_plane + plane) * h * w..][..h * w];
                        let (top_rows, rest) = plane_out.split_at_mut(top * out_w);
                        let (middle_rows, bottom_rows) = rest.split_at_mut(h * out_w);
                        top_rows.fill(fill);
                        bottom_rows.fill(fill);
                        for (row, row_out) in middle_rows.chunks_exact_mut(out_w).enumerate() {
                            row_out[..left].fill(fill);
                            row_out[left + w..].fill(fill);
                            let row_in = &plane_in[row * w..][..w];
                            for (out, &value) in row_out[left..left + w].iter_mut().zip(row_in) {
                                *out = std::mem::MaybeUninit::new(value);
                            }
                        }
                    }
                    Ok(())
                },
            )?;
        }
        // SAFETY: every element was initialised above (the rows cover the whole plane:
        // top + h + bottom rows of left + w + right elements), and MaybeUninit<T> has T's
        // layout.
        let output: Vec<T> = unsafe {
            let mut output = std::mem::ManuallyDrop::new(output);
            Vec::from_raw_parts(output.as_mut_ptr() as *mut T, output.len(), output.capacity())
        };
        let mut output_shape: TVec<usize> = shape.into();
        output_shape[rank - 2] = out_h;
        output_shape[rank - 1] = out_w;
        Ok(Some(tract_ndarray::ArrayD::from_shape_vec(&*output_shape, output)?.into_tvalue()))
    }

    fn eval_t<T>(&self, input_tensor: TValue) -> TractResult<TValue>
    where
        T: Copy + Datum,
    {
        use tract_ndarray::*;
        if let Some(output) = self.constant_rows_fast_path::<T>(&input_tensor)? {
            return Ok(output);
        }
        let input = input_tensor.to_plain_array_view::<T>()?;
        let output_shape: Vec<usize> =
            input.shape().iter().zip(self.pads.iter()).map(|(&d, &(a, b))| d + a + b).collect();
        let element = match &self.mode {
            PadMode::Constant(f) => f.cast_to_scalar::<T>()?,
            _ => T::default(),
        };
        let mut output = ArrayD::<T>::from_elem(output_shape, element);
        let slice_spec: Vec<SliceInfoElem> = self
            .pads
            .iter()
            .map(|&(a, b)| SliceInfoElem::Slice {
                start: a as isize,
                end: if b != 0 { Some(-(b as isize)) } else { None },
                step: 1,
            })
            .collect();
        let slice_info = SliceInfo::<_, IxDyn, IxDyn>::try_from(slice_spec).unwrap();
        output.slice_mut(slice_info.as_ref()).assign(&input);
        if self.mode == PadMode::Reflect || self.mode == PadMode::Edge {
            for (ax, &(bef, aft)) in self.pads.iter().enumerate() {
                let axis = Axis(ax);
                let dim = output.shape()[ax];
                {
                    let (mut pad, data) = output.view_mut().split_at(axis, bef);
                    for i in 0..bef {
                        let mut target = pad.slice_axis_mut(axis, Slice::from(i..i + 1));
                        let source_slice = match self.mode {
                            PadMode::Edge => 0,
                            PadMode::Reflect => bef - i,
                            _ => panic!(),
                        };
                        let source =
                            data.slice_axis(axis, Slice::from(source_slice..source_slice + 1));
                        target.assign(&source);
                    }
                }
                {
                    let (data, mut pad) = output.view_mut().split_at(axis, dim - aft);
                    for i in 0..aft {
                        let mut target = pad.slice_axis_mut(axis, Slice::from(i..i + 1));
                        let source_slice = match self.mode {
                            PadMode::Edge => dim - aft - 1,
                            PadMode::Reflect => dim - aft - 2 - i,
                            _ => panic!(),
                        };
                        let source =
                            data.slice_axis(axis, Slice::from(source_slice..source_slice + 1));
                        target.assign(&source);
                    }
                }
            }
        }
        let mut output = output.into_tensor();
        unsafe { output.set_datum_type(input_tensor.datum_type()) }
        Ok(output.into_tvalue())
    }
}

impl Op for Pad {
    fn name(&self) -> StaticName {
        "Pad".into()
    }

    fn info(&self) -> TractResult<Vec<String>> {
        Ok(vec![format!("Mode: {:?}, pads: {:?})", self.mode, self.pads,)])
    }

    op_as_typed_op!();
}

impl EvalOp for Pad {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let input = args_1!(inputs);
        Ok(tvec!(dispatch_numbers!(Self::eval_t(input.datum_type())(self, input))?))
    }
}

impl TypedOp for Pad {
    as_op!();

    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let mut fact = inputs[0].without_value();
        if self.pads.len() != fact.rank() {
            bail!("Inconsistent pad: input of rank {}, pads are: {:?}", fact.rank(), self.pads);
        }
        for (ix, (b, e)) in self.pads.iter().enumerate() {
            fact.shape.set(ix, fact.shape[ix].clone() + *b + *e);
        }
        Ok(tvec!(fact))
    }

    fn input_roi(
        &self,
        model: &TypedModel,
        node: &TypedNode,
    ) -> TractResult<Option<TVec<Option<TDim>>>> {
        let output_fact = model.outlet_fact(OutletId::new(node.id, 0))?;
        rule_if_some!(roi = &output_fact.region_of_interest);
        // For each padded axis, substitute 🎯axis → 🎯axis - before
        let mut input_roi = roi.clone();
        for (axis, &(before, _)) in self.pads.iter().enumerate() {
            if before == 0 {
                continue;
            }
            if let Some(sym) = input_roi
                .symbols()
                .into_iter()
                .find(|s| crate::ops::logic::sym_to_coord_axis(s) == Some(axis))
            {
                let shifted = TDim::Sym(sym.clone()) - TDim::Val(before as i64);
                input_roi = input_roi.substitute(&sym, &shifted).unwrap_or(input_roi);
            }
        }
        Ok(Some(tvec![Some(input_roi)]))
    }

    fn axes_mapping(
        &self,
        inputs: &[&TypedFact],
        outputs: &[&TypedFact],
    ) -> TractResult<AxesMapping> {
        let mut result = AxesMapping::disconnected(inputs, outputs)?;
        for (ix, pads) in self.pads.iter().enumerate() {
            if pads == &(0, 0) {
                result = result.linking((InOut::In(0), ix), (InOut::Out(0), ix))?;
            }
        }
        Ok(result)
    }

    fn change_axes(
        &self,
        model: &TypedModel,
        node: &TypedNode,
        io: InOut,
        change: &AxisOp,
    ) -> TractResult<Option<AxisChangeConsequence>> {
        let mut new_op = self.clone();
        if let (InOut::In(0), AxisOp::Rm(ix)) = (io, change)
            && new_op.pads.remove(*ix) == (0, 0)
        {
            return Ok(Some(AxisChangeConsequence::new(
                model,
                node,
                Some(Box::new(new_op)),
                change,
            )));
        }
        if let (InOut::In(0), AxisOp::Add(ix)) = (io, change) {
            new_op.pads.insert(*ix, (0, 0));
            return Ok(Some(AxisChangeConsequence::new(
                model,
                node,
                Some(Box::new(new_op)),
                change,
            )));
        }
        Ok(None)
    }

    fn declutter(
        &self,
        model: &TypedModel,
        node: &TypedNode,
    ) -> TractResult<Option<TypedModelPatch>> {
        if self.pads.iter().all(|p| p.0 == 0 && p.1 == 0) {
            TypedModelPatch::shunt_one_op(model, node)
        } else {
            Ok(None)
        }
    }
}
