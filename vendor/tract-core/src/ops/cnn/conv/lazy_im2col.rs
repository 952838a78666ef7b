use crate::internal::*;
use crate::ops::matmul::pack::DynPackedExoticFact;
use std::fmt::{Debug, Display};
use std::ops::Range;
use tract_linalg::WeightType;
use tract_linalg::mmm::{MMMInputFormat, MMMInputValue, PackedMatrixStorage};
use tract_linalg::pack::{PackedFormat, PackingWriter};

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct LazyIm2colParams {
    pub packer: PackedFormat,
    pub n_byte_offsets: Vec<isize>,
    pub k_byte_offsets: Vec<isize>,
    /// Panels go out in the AMX bf16 kernel's B layout (`PackedBf16K2`: pairs of K rows
    /// interleaved, bf16, K padded to the kernel's 32-deep step) instead of `packer`'s, which
    /// then only gives the panel width (16, the kernel's tile).
    pub bf16_k2: bool,
    /// Where the convolution pads its input and the gathers read the border as zeros instead
    /// of a padded copy: the offsets then point into the unpadded input, those of border
    /// taps outside it (never dereferenced).
    pub implicit_padding: Option<ImplicitPadding>,
}

/// The geometry a gather needs to tell a border tap (a zero) from an input pixel, for a 2D
/// channels-first input of one image.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct ImplicitPadding {
    /// Rows and columns of the unpadded input.
    pub input_hw: [usize; 2],
    /// Columns of the output (column `n` of the matrix product is output pixel
    /// `(n / output_width, n % output_width)`).
    pub output_width: usize,
    pub strides: [usize; 2],
    pub dilations: [usize; 2],
    /// Zero rows above and columns left of the input.
    pub pad_before: [usize; 2],
    pub kernel_hw: [usize; 2],
}

impl ImplicitPadding {
    /// Byte offsets of each output pixel's top-left tap (`n`) and of each input channel and
    /// tap relative to it (`k`, channel-major then row-major taps, the kernel's order), in
    /// the unpadded input; a border tap's sum points outside it.
    pub fn byte_offsets(
        &self,
        channels: usize,
        output_height: usize,
        size_of: isize,
    ) -> (Vec<isize>, Vec<isize>) {
        let [h, w] = self.input_hw;
        let (w_i, plane) = (w as isize, (h * w) as isize);
        let mut n_offsets = Vec::with_capacity(output_height * self.output_width);
        for oy in 0..output_height {
            for ox in 0..self.output_width {
                let [iy, ix] = self.top_left(oy, ox);
                n_offsets.push((iy * w_i + ix) * size_of);
            }
        }
        let [kh, kw] = self.kernel_hw;
        let [dy, dx] = self.dilations;
        let mut k_offsets = Vec::with_capacity(channels * kh * kw);
        for c in 0..channels {
            for ky in 0..kh {
                for kx in 0..kw {
                    k_offsets.push((c as isize * plane + (ky * dy) as isize * w_i + (kx * dx) as isize) * size_of);
                }
            }
        }
        (n_offsets, k_offsets)
    }

    /// Input row and column of output pixel `(oy, ox)`'s top-left tap (negative in the
    /// padding).
    fn top_left(&self, oy: usize, ox: usize) -> [isize; 2] {
        [
            (oy * self.strides[0]) as isize - self.pad_before[0] as isize,
            (ox * self.strides[1]) as isize - self.pad_before[1] as isize,
        ]
    }

    /// Whether every tap of every output pixel in `columns` is inside the input.
    fn all_inside(&self, columns: Range<usize>) -> bool {
        let ow = self.output_width;
        let (first, last) = (columns.start, columns.end - 1);
        let [top, _] = self.top_left(first / ow, 0);
        let [bottom, _] = self.top_left(last / ow, 0);
        let reach = |axis: usize| ((self.kernel_hw[axis] - 1) * self.dilations[axis]) as isize;
        let rows_inside = top >= 0 && bottom + reach(0) < self.input_hw[0] as isize;
        // Within one output row the columns run from the first's to the last's; across rows
        // they cover the row's whole width.
        let (left_ox, right_ox) =
            if first / ow == last / ow { (first % ow, last % ow) } else { (0, ow - 1) };
        let [_, left] = self.top_left(0, left_ox);
        let [_, right] = self.top_left(0, right_ox);
        rows_inside && left >= 0 && right + reach(1) < self.input_hw[1] as isize
    }

    /// Input row and column kernel tap `tap` (row-major) of output pixel `(oy, ox)` reads.
    #[inline]
    fn tap_input(&self, oy: usize, ox: usize, tap: usize) -> [isize; 2] {
        let kw = self.kernel_hw[1];
        let [iy, ix] = self.top_left(oy, ox);
        [
            iy + ((tap / kw) * self.dilations[0]) as isize,
            ix + ((tap % kw) * self.dilations[1]) as isize,
        ]
    }

    /// Whether tap `k` of output pixel `n` reads the input (else it is a zero of the border).
    #[inline]
    fn inside(&self, n: usize, k: usize) -> bool {
        let tap = k % (self.kernel_hw[0] * self.kernel_hw[1]);
        let [iy, ix] = self.tap_input(n / self.output_width, n % self.output_width, tap);
        (iy as usize) < self.input_hw[0] && (ix as usize) < self.input_hw[1]
    }
}

/// The AMX bf16 kernel steps through K 32 bf16 at a time, reading B by whole steps.
const BF16_K_STEP: usize = 32;

impl MMMInputFormat for LazyIm2colParams {
    fn r(&self) -> usize {
        self.packer.r
    }

    fn precursor(&self) -> WeightType {
        self.packer.precursor()
    }

    fn prepare_tensor(&self, _t: &Tensor, _k_axis: usize, _mn_axis: usize) -> TractResult<Tensor> {
        bail!("Unexpected call to prepare_tensor on LazyIm2Col")
    }

    fn k_alignment(&self) -> usize {
        1
    }

    fn mem_size(&self, k: TDim, mn: TDim) -> TDim {
        k * mn * self.packer.dt.size_of()
    }

    fn extract_at_mn_f16(
        &self,
        _data: &tract_linalg::mmm::EagerPackedInput,
        _mn: usize,
        _slice: &mut [f16],
    ) -> TractResult<()> {
        unimplemented!()
    }
    fn extract_at_mn_f32(
        &self,
        _data: &tract_linalg::mmm::EagerPackedInput,
        _mn: usize,
        _slice: &mut [f32],
    ) -> TractResult<()> {
        unimplemented!()
    }

    fn prepare_one_view(
        &self,
        _t: &TensorView,
        _k_axis: usize,
        _mn_axis: usize,
    ) -> TractResult<Box<dyn MMMInputValue>> {
        bail!("Unexpected call to prepare_one_view on LazyIm2Col")
    }

    fn prepare_one(
        &self,
        _t: &Tensor,
        _k_axis: usize,
        _mn_axis: usize,
    ) -> TractResult<Box<dyn MMMInputValue>> {
        bail!("Unexpected call to prepare_one on LazyIm2Col")
    }
}

impl Display for LazyIm2colParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LazyIm2Col")
    }
}

impl ExoticFact for LazyIm2colParams {
    fn buffer_sizes(&self) -> TVec<TDim> {
        tvec!(MMMInputFormat::mem_size(
            self,
            self.k_byte_offsets.len().to_dim(),
            self.n_byte_offsets.len().to_dim(),
        ))
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub struct LazyIm2Col {
    pub params: Arc<LazyIm2colParams>,
    /// Number of groups for grouped convolution (1 if ungrouped). The output is then a
    /// `[1, group]`-batched packed tensor; each group reads from a different slice of the
    /// input via a per-group offset of `g * ci_per_group * c_stride * size_of`.
    pub group: usize,
    /// Byte stride between consecutive groups in the input tensor's flat byte buffer.
    /// Equal to `ci_per_group * c_stride * size_of(input)`. Unused (0) when `group == 1`.
    pub group_stride_bytes: isize,
}

impl Op for LazyIm2Col {
    fn name(&self) -> StaticName {
        "LazyIm2col".into()
    }

    op_as_typed_op!();
}

impl EvalOp for LazyIm2Col {
    op_out_of_plan!();

    fn eval(&self, _ctx: &EvalContext, inputs: TVec<TValue>) -> TractResult<TVec<TValue>> {
        let tensor = args_1!(inputs);
        let dt = tensor.datum_type();
        let mut values: TVec<Box<dyn MMMInputValue>> = TVec::with_capacity(self.group);
        for g in 0..self.group {
            let group_offset_bytes = g as isize * self.group_stride_bytes;
            values.push(Box::new(LazyIm2colInput {
                tensor: tensor.clone(),
                im2col: self.params.clone(),
                group_offset_bytes,
            }));
        }
        let output = PackedMatrixStorage::new_batched(&[1, self.group], values).into_tensor(dt);
        Ok(tvec!(output.into_tvalue()))
    }
}

impl TypedOp for LazyIm2Col {
    fn output_facts(&self, inputs: &[&TypedFact]) -> TractResult<TVec<TypedFact>> {
        let exotic_fact = DynPackedExoticFact {
            k: self.params.k_byte_offsets.len().to_dim(),
            mn: self.params.n_byte_offsets.len().to_dim(),
            packers: vec![Box::new(self.params.packer.clone()) as Box<dyn MMMInputFormat>],
        };
        Ok(tvec!(inputs[0].datum_type.fact([1, self.group]).with_exotic_fact(exotic_fact)))
    }

    as_op!();
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct LazyIm2colInput {
    tensor: TValue,
    im2col: Arc<LazyIm2colParams>,
    /// Per-group base byte offset added to every gather. For group g this is
    /// `g * ci_per_group * c_stride * size_of(input)`. Zero for ungrouped convs.
    group_offset_bytes: isize,
}

impl Display for LazyIm2colInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl Hash for LazyIm2colInput {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        (self.tensor.as_bytes(), &self.im2col, self.group_offset_bytes).hash(state);
    }
}

unsafe impl Send for LazyIm2colInput {}
unsafe impl Sync for LazyIm2colInput {}

impl LazyIm2colInput {
    fn input_8n<T: Datum + Copy>(
        &self,
        writer: &mut impl PackingWriter<T>,
        k_range: Range<isize>,
        n: isize,
    ) {
        let k_byte_offsets = self.im2col.k_byte_offsets.as_ptr();
        let n_byte_offsets = self.im2col.n_byte_offsets.as_ptr();
        unsafe {
            let ptr = self.tensor.as_ptr_unchecked::<u8>().offset(self.group_offset_bytes);
            let o1 = *n_byte_offsets.offset(n);
            let o2 = *n_byte_offsets.offset(n + 1);
            let o3 = *n_byte_offsets.offset(n + 2);
            let o4 = *n_byte_offsets.offset(n + 3);
            let o5 = *n_byte_offsets.offset(n + 4);
            let o6 = *n_byte_offsets.offset(n + 5);
            let o7 = *n_byte_offsets.offset(n + 6);
            let o8 = *n_byte_offsets.offset(n + 7);
            for k in k_range.start..k_range.end {
                let ptr = ptr.offset(*k_byte_offsets.offset(k));
                let v1 = *(ptr.offset(o1) as *const T);
                let v2 = *(ptr.offset(o2) as *const T);
                let v3 = *(ptr.offset(o3) as *const T);
                let v4 = *(ptr.offset(o4) as *const T);
                let v5 = *(ptr.offset(o5) as *const T);
                let v6 = *(ptr.offset(o6) as *const T);
                let v7 = *(ptr.offset(o7) as *const T);
                let v8 = *(ptr.offset(o8) as *const T);
                writer.write(v1);
                writer.write(v2);
                writer.write(v3);
                writer.write(v4);
                writer.write(v5);
                writer.write(v6);
                writer.write(v7);
                writer.write(v8);
            }
        }
    }

    fn input_6n<T: Datum + Copy>(
        &self,
        writer: &mut impl PackingWriter<T>,
        k_range: Range<isize>,
        n: isize,
    ) {
        unsafe {
            let ptr = self.tensor.as_ptr_unchecked::<u8>().offset(self.group_offset_bytes);
            let k_byte_offsets = self.im2col.k_byte_offsets.as_ptr();
            let n_byte_offsets = self.im2col.n_byte_offsets.as_ptr();
            let o1 = *n_byte_offsets.offset(n);
            let o2 = *n_byte_offsets.offset(n + 1);
            let o3 = *n_byte_offsets.offset(n + 2);
            let o4 = *n_byte_offsets.offset(n + 3);
            let o5 = *n_byte_offsets.offset(n + 4);
            let o6 = *n_byte_offsets.offset(n + 5);
            for k in k_range.start..k_range.end {
                let ptr = ptr.offset(*k_byte_offsets.offset(k));
                let v1 = *(ptr.offset(o1) as *const T);
                let v2 = *(ptr.offset(o2) as *const T);
                let v3 = *(ptr.offset(o3) as *const T);
                let v4 = *(ptr.offset(o4) as *const T);
                let v5 = *(ptr.offset(o5) as *const T);
                let v6 = *(ptr.offset(o6) as *const T);
                writer.write(v1);
                writer.write(v2);
                writer.write(v3);
                writer.write(v4);
                writer.write(v5);
                writer.write(v6);
            }
        }
    }

    fn input_4n<T: Datum + Copy>(
        &self,
        writer: &mut impl PackingWriter<T>,
        k_range: Range<isize>,
        n: isize,
    ) {
        unsafe {
            let ptr = self.tensor.as_ptr_unchecked::<u8>().offset(self.group_offset_bytes);
            let k_byte_offsets = self.im2col.k_byte_offsets.as_ptr();
            let n_byte_offsets = self.im2col.n_byte_offsets.as_ptr();
            let o1 = *n_byte_offsets.offset(n);
            let o2 = *n_byte_offsets.offset(n + 1);
            let o3 = *n_byte_offsets.offset(n + 2);
            let o4 = *n_byte_offsets.offset(n + 3);
            for k in k_range.start..k_range.end {
                let ptr = ptr.offset(*k_byte_offsets.offset(k));
                let v1 = *(ptr.offset(o1) as *const T);
                let v2 = *(ptr.offset(o2) as *const T);
                let v3 = *(ptr.offset(o3) as *const T);
                let v4 = *(ptr.offset(o4) as *const T);
                writer.write(v1);
                writer.write(v2);
                writer.write(v3);
                writer.write(v4);
            }
        }
    }

    fn input_2n<T: Datum + Copy>(
        &self,
        writer: &mut impl PackingWriter<T>,
        k_range: Range<isize>,
        n: isize,
    ) {
        unsafe {
            let ptr = self.tensor.as_ptr_unchecked::<u8>().offset(self.group_offset_bytes);
            let k_byte_offsets = self.im2col.k_byte_offsets.as_ptr();
            let n_byte_offsets = self.im2col.n_byte_offsets.as_ptr();
            let o1 = *n_byte_offsets.offset(n);
            let o2 = *n_byte_offsets.offset(n + 1);
            for k in k_range.start..k_range.end {
                let ptr = ptr.offset(*k_byte_offsets.offset(k));
                let v1 = *(ptr.offset(o1) as *const T);
                let v2 = *(ptr.offset(o2) as *const T);
                writer.write(v1);
                writer.write(v2);
            }
        }
    }

    fn write<T: Datum + Copy>(
        &self,
        writer: &mut impl PackingWriter<T>,
        k_range: std::ops::Range<isize>,
        mn_range: std::ops::Range<isize>,
    ) {
        let mn_end = mn_range.end.min(self.im2col.n_byte_offsets.len() as isize);
        let n_range = mn_range.start..mn_end;
        match n_range.len() {
            8 => return self.input_8n(writer, k_range, n_range.start),
            6 => return self.input_6n(writer, k_range, n_range.start),
            4 => return self.input_4n(writer, k_range, n_range.start),
            2 => return self.input_2n(writer, k_range, n_range.start),
            _ => (),
        }
        unsafe {
            let ptr = self.tensor.as_ptr_unchecked::<u8>().offset(self.group_offset_bytes);
            let k_byte_offsets = self.im2col.k_byte_offsets.as_ptr();
            let n_byte_offsets = self.im2col.n_byte_offsets.as_ptr();
            for k in k_range.start..k_range.end {
                let ptr = ptr.offset(*k_byte_offsets.offset(k));
                let mut n = n_range.start;
                while n + 8 <= n_range.end {
                    let o1 = *n_byte_offsets.offset(n);
                    let o2 = *n_byte_offsets.offset(n + 1);
                    let o3 = *n_byte_offsets.offset(n + 2);
                    let o4 = *n_byte_offsets.offset(n + 3);
                    let o5 = *n_byte_offsets.offset(n + 4);
                    let o6 = *n_byte_offsets.offset(n + 5);
                    let o7 = *n_byte_offsets.offset(n + 6);
                    let o8 = *n_byte_offsets.offset(n + 7);
                    let v1 = *(ptr.offset(o1) as *const T);
                    let v2 = *(ptr.offset(o2) as *const T);
                    let v3 = *(ptr.offset(o3) as *const T);
                    let v4 = *(ptr.offset(o4) as *const T);
                    let v5 = *(ptr.offset(o5) as *const T);
                    let v6 = *(ptr.offset(o6) as *const T);
                    let v7 = *(ptr.offset(o7) as *const T);
                    let v8 = *(ptr.offset(o8) as *const T);
                    writer.write(v1);
                    writer.write(v2);
                    writer.write(v3);
                    writer.write(v4);
                    writer.write(v5);
                    writer.write(v6);
                    writer.write(v7);
                    writer.write(v8);
                    n += 8;
                }
                while n + 6 <= n_range.end {
                    let o1 = *n_byte_offsets.offset(n);
                    let o2 = *n_byte_offsets.offset(n + 1);
                    let o3 = *n_byte_offsets.offset(n + 2);
                    let o4 = *n_byte_offsets.offset(n + 3);
                    let o5 = *n_byte_offsets.offset(n + 4);
                    let o6 = *n_byte_offsets.offset(n + 5);
                    let v1 = *(ptr.offset(o1) as *const T);
                    let v2 = *(ptr.offset(o2) as *const T);
                    let v3 = *(ptr.offset(o3) as *const T);
                    let v4 = *(ptr.offset(o4) as *const T);
                    let v5 = *(ptr.offset(o5) as *const T);
                    let v6 = *(ptr.offset(o6) as *const T);
                    writer.write(v1);
                    writer.write(v2);
                    writer.write(v3);
                    writer.write(v4);
                    writer.write(v5);
                    writer.write(v6);
                    n += 6;
                }
                while n + 4 <= n_range.end {
                    let o1 = *n_byte_offsets.offset(n);
                    let o2 = *n_byte_offsets.offset(n + 1);
                    let o3 = *n_byte_offsets.offset(n + 2);
                    let o4 = *n_byte_offsets.offset(n + 3);
                    let v1 = *(ptr.offset(o1) as *const T);
                    let v2 = *(ptr.offset(o2) as *const T);
                    let v3 = *(ptr.offset(o3) as *const T);
                    let v4 = *(ptr.offset(o4) as *const T);
                    writer.write(v1);
                    writer.write(v2);
                    writer.write(v3);
                    writer.write(v4);
                    n += 4;
                }
                while n < n_range.end {
                    let o1 = *n_byte_offsets.offset(n);
                    let v1 = *(ptr.offset(o1) as *const T);
                    writer.write(v1);
                    n += 1;
                }
            }
        }
    }
}

impl MMMInputValue for LazyIm2colInput {
    fn scratch_panel_buffer_layout(&self) -> Option<std::alloc::Layout> {
        let k = self.im2col.k_byte_offsets.len();
        // The bf16 panel holds K padded to the step, in half the bytes of as many f32.
        let k = if self.im2col.bf16_k2 { k.next_multiple_of(BF16_K_STEP) } else { k };
        Some(self.im2col.packer.single_panel_layout(k, self.tensor.datum_type().size_of()))
    }

    fn panel_bytes(&self, i: usize, buffer: Option<*mut u8>) -> TractResult<*const u8> {
        Ok(dispatch_copy!(Self::do_panel(self.tensor.datum_type())(self, i, buffer)))
    }

    fn k(&self) -> usize {
        self.im2col.k_byte_offsets.len()
    }

    fn mn(&self) -> usize {
        self.im2col.n_byte_offsets.len()
    }

    fn format(&self) -> &dyn MMMInputFormat {
        &*self.im2col
    }

    fn exotic_fact(&self) -> &dyn ExoticFact {
        &*self.im2col
    }
    fn extract_at_mn_f16(&self, _mn: usize, _slice: &mut [f16]) -> TractResult<()> {
        unimplemented!()
    }
    fn extract_at_mn_f32(&self, _mn: usize, _slice: &mut [f32]) -> TractResult<()> {
        unimplemented!()
    }
}

impl LazyIm2colInput {
    fn do_panel<T: Datum + Copy>(&self, i: usize, buffer: Option<*mut u8>) -> *const u8 {
        let r = self.im2col.packer.r;
        let mn_start = i * r;
        let mn_end = (mn_start + self.im2col.packer.r).min(self.im2col.n_byte_offsets.len());
        let k = self.im2col.k_byte_offsets.len();
        let mn_range = mn_start as isize..mn_end as isize;
        let k_range = 0..k as isize;
        let packed = buffer.unwrap();
        if let Some(padding) = &self.im2col.implicit_padding
            && !padding.all_inside(mn_start..mn_end)
        {
            // Only f32 inputs are wired with implicit padding (conv.rs).
            debug_assert!(size_of::<T>() == 4);
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx512bw") {
                // SAFETY: the CPU has AVX-512, checked just above.
                unsafe { self.gather_border_panel_avx512(padding, packed, mn_start, mn_end) };
                return packed;
            }
            unsafe { self.gather_border_panel(padding, packed, mn_start, mn_end) };
            return packed;
        }
        if self.im2col.bf16_k2 {
            // Wired only for the AMX kernel's 16-wide f32 panels (conv.rs).
            debug_assert!(r == BF16_PANEL_R && size_of::<T>() == 4);
            #[cfg(target_arch = "x86_64")]
            if std::is_x86_feature_detected!("avx512bw") {
                // SAFETY: the CPU has AVX-512 (every AMX-BF16 CPU does), checked just above.
                unsafe { self.gather_bf16_k2_panel_avx512(packed, mn_start, mn_end) };
                return packed;
            }
            unsafe { self.gather_bf16_k2_panel(packed, mn_start, mn_end) };
            return packed;
        }
        if !self.im2col.bf16_k2 && mn_range.len() == r && r <= MAX_HOISTED_R {
            unsafe { self.gather_full_panel::<T>(packed as *mut T, mn_start) };
            return packed;
        }
        if mn_range.len() == r && mn_start.is_multiple_of(r) {
            let mut writer = self.im2col.packer.write_single_panel_with_k_outer(packed as *mut T);
            self.write(&mut writer, k_range, mn_range);
        } else {
            let mut writer = self.im2col.packer.write_with_k_outer(
                packed as *mut T,
                k_range.len(),
                mn_range.len(),
            );
            self.write(&mut writer, k_range, mn_range);
        }
        packed
    }
}

/// Widest panel [`LazyIm2colInput::gather_full_panel`] takes (kernels' nr are 1 to 16 here).
const MAX_HOISTED_R: usize = 32;

impl LazyIm2colInput {
    /// A whole panel (all `r` columns present) in the plain K-major layout (`k` rows of `r`),
    /// with the column offsets read once for the panel instead of once per row, and each row
    /// copied as one block where its columns are consecutive pixels (stride 1), or read at a
    /// fixed step (stride 2). The generic writer path re-reads the offsets for every row.
    unsafe fn gather_full_panel<T: Datum + Copy>(&self, packed: *mut T, mn_start: usize) {
        let r = self.im2col.packer.r;
        let size = size_of::<T>() as isize;
        let cols = &self.im2col.n_byte_offsets[mn_start..mn_start + r];
        let step = if r > 1 { cols[1] - cols[0] } else { size };
        let regular = cols.iter().enumerate().all(|(n, &o)| o == cols[0] + step * n as isize);
        let base = unsafe { self.tensor.as_ptr_unchecked::<u8>().offset(self.group_offset_bytes) };
        for (kk, &k_offset) in self.im2col.k_byte_offsets.iter().enumerate() {
            let row = unsafe { base.offset(k_offset) };
            let out = unsafe { std::slice::from_raw_parts_mut(packed.add(kk * r), r) };
            if regular && step == size {
                let src = unsafe { std::slice::from_raw_parts(row.offset(cols[0]) as *const T, r) };
                out.copy_from_slice(src);
            } else if regular {
                let first = unsafe { row.offset(cols[0]) };
                for (n, value) in out.iter_mut().enumerate() {
                    *value = unsafe { (first.offset(step * n as isize) as *const T).read_unaligned() };
                }
            } else {
                for (value, &col) in out.iter_mut().zip(cols) {
                    *value = unsafe { (row.offset(col) as *const T).read_unaligned() };
                }
            }
        }
    }
}

/// Columns of the AMX bf16 kernel's B panel (its tile is 16 wide).
const BF16_PANEL_R: usize = 16;

impl LazyIm2colInput {
    /// [`Self::gather_bf16_k2_panel`] compiled for AVX-512, so that its 16-column loops (the
    /// loads, the rounding, the pair interleave) become single 512-bit instructions; the crate
    /// itself is built for baseline x86_64, where they vectorise four lanes at a time.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    unsafe fn gather_bf16_k2_panel_avx512(&self, packed: *mut u8, mn_start: usize, mn_end: usize) {
        unsafe { self.gather_bf16_k2_panel(packed, mn_start, mn_end) }
    }

    /// Gathers the f32 panel of columns `mn_start..mn_end` straight into the AMX bf16 B layout
    /// in one pass: K rows taken in pairs, each pair 16 columns of two bf16 (row `2j`, then
    /// `2j + 1`), rounded to nearest even, K zero-padded to the 32-deep step. The 16 column
    /// offsets are read once for the whole panel rather than once per row, and where the
    /// columns are consecutive input pixels (a stride-1 convolution away from a row end) each
    /// row is one contiguous load; every other pixel (stride 2) is one load of twice the
    /// width. Columns past `mn_end` repeat the last one (their results are discarded).
    #[inline(always)]
    unsafe fn gather_bf16_k2_panel(&self, packed: *mut u8, mn_start: usize, mn_end: usize) {
        const R: usize = BF16_PANEL_R;
        let k_offsets = &self.im2col.k_byte_offsets;
        let n_offsets = &self.im2col.n_byte_offsets[mn_start..mn_end];
        let mut cols = [0isize; R];
        for (n, col) in cols.iter_mut().enumerate() {
            *col = n_offsets[n.min(n_offsets.len() - 1)];
        }
        let full = n_offsets.len() == R;
        let contiguous = full && cols.iter().enumerate().all(|(n, &o)| o == cols[0] + 4 * n as isize);
        // A stride-2 convolution reads every other pixel of a row: one 32-wide load, even lanes.
        let every_other =
            full && cols.iter().enumerate().all(|(n, &o)| o == cols[0] + 8 * n as isize);
        let base = unsafe { self.tensor.as_ptr_unchecked::<u8>().offset(self.group_offset_bytes) };
        let k = k_offsets.len();
        let out = packed as *mut [u32; R];
        let row = |kk: usize| -> [u32; R] {
            if kk >= k {
                return [0; R];
            }
            let p = unsafe { base.offset(k_offsets[kk]) };
            let mut bits = [0u32; R];
            if contiguous {
                let src = unsafe { p.offset(cols[0]) } as *const [u32; R];
                bits = unsafe { src.read_unaligned() };
            } else if every_other {
                // 2R - 1 lanes: the last column is the last one read, nothing past it.
                let src = unsafe { p.offset(cols[0]) } as *const [u32; 2 * R - 1];
                let wide = unsafe { src.read_unaligned() };
                for n in 0..R {
                    bits[n] = wide[2 * n];
                }
            } else {
                for n in 0..R {
                    bits[n] = unsafe { (p.offset(cols[n]) as *const u32).read_unaligned() };
                }
            }
            bits
        };
        for j in 0..k.next_multiple_of(BF16_K_STEP) / 2 {
            unsafe { out.add(j).write_unaligned(bf16_pair(row(2 * j), row(2 * j + 1))) };
        }
    }
}

/// Two K rows of a 16-wide panel (f32 bits) as the AMX B layout's pair row: each column's
/// bf16 of the first row in the low half, of the second in the high half.
#[inline(always)]
fn bf16_pair(low: [u32; BF16_PANEL_R], high: [u32; BF16_PANEL_R]) -> [u32; BF16_PANEL_R] {
    let mut pair = [0u32; BF16_PANEL_R];
    for n in 0..BF16_PANEL_R {
        pair[n] = bf16_rne(low[n]) | (bf16_rne(high[n]) << 16);
    }
    pair
}

/// f32 bits to bf16 bits, round to nearest even, NaN kept quiet (as VCVTNEPS2BF16).
/// Branch-free so that the loops over a panel's 16 columns vectorise.
#[inline(always)]
fn bf16_rne(bits: u32) -> u32 {
    let rounded = bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16;
    let quiet_nan = (bits >> 16) | 0x40;
    if bits & 0x7fff_ffff > 0x7f80_0000 { quiet_nan } else { rounded }
}

impl LazyIm2colInput {
    /// [`Self::gather_border_panel`] compiled for AVX-512 (see
    /// [`Self::gather_bf16_k2_panel_avx512`]).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vl")]
    unsafe fn gather_border_panel_avx512(
        &self,
        padding: &ImplicitPadding,
        packed: *mut u8,
        mn_start: usize,
        mn_end: usize,
    ) {
        unsafe { self.gather_border_panel(padding, packed, mn_start, mn_end) }
    }

    /// A panel with taps in the implicit padding: each K row is gathered with the border read
    /// as zeros, then written in the panel's layout (the f32 K-major rows of `r`, or the AMX
    /// bf16 pairs of rows). Columns past `mn_end` are zeros (their results are discarded).
    #[inline(always)]
    unsafe fn gather_border_panel(
        &self,
        padding: &ImplicitPadding,
        packed: *mut u8,
        mn_start: usize,
        mn_end: usize,
    ) {
        let r = self.im2col.packer.r;
        let k = self.im2col.k_byte_offsets.len();
        let rows = BorderRows::new(self, padding, mn_start, mn_end);
        if self.im2col.bf16_k2 {
            // Wired only for the AMX kernel's 16-wide panels (conv.rs).
            const R: usize = BF16_PANEL_R;
            let out = packed as *mut [u32; R];
            let (mut low, mut high) = ([0f32; R], [0f32; R]);
            let mut taps = rows.taps();
            for j in 0..k.next_multiple_of(BF16_K_STEP) / 2 {
                unsafe {
                    rows.row(2 * j, taps.next(), &mut low);
                    rows.row(2 * j + 1, taps.next(), &mut high);
                }
                let pair = bf16_pair(low.map(f32::to_bits), high.map(f32::to_bits));
                unsafe { out.add(j).write_unaligned(pair) };
            }
        } else {
            let mut taps = rows.taps();
            for kk in 0..k {
                let row = unsafe { std::slice::from_raw_parts_mut((packed as *mut f32).add(kk * r), r) };
                unsafe { rows.row(kk, taps.next(), row) };
            }
        }
    }
}

/// The K rows of one panel that reaches into the implicit padding.
struct BorderRows<'a> {
    input: &'a LazyIm2colInput,
    padding: &'a ImplicitPadding,
    mn_start: usize,
    mn_end: usize,
    /// Where the panel's columns are consecutive pixels of one output row (all panels but
    /// those that wrap a row end): for each kernel tap, whether its input row is inside, and
    /// the run of columns whose input column is inside.
    one_output_row: Option<Vec<(bool, Range<usize>)>>,
}

impl<'a> BorderRows<'a> {
    fn new(input: &'a LazyIm2colInput, padding: &'a ImplicitPadding, mn_start: usize, mn_end: usize) -> Self {
        let ow = padding.output_width;
        let one_output_row = (mn_start / ow == (mn_end - 1) / ow).then(|| {
            let [kh, kw] = padding.kernel_hw;
            let step = padding.strides[1] as isize;
            let width = padding.input_hw[1] as isize;
            let len = mn_end - mn_start;
            (0..kh * kw)
                .map(|tap| {
                    // Column n reads input column ix0 + n * step.
                    let [iy, ix0] = padding.tap_input(mn_start / ow, mn_start % ow, tap);
                    let row_inside = iy >= 0 && iy < padding.input_hw[0] as isize;
                    let first = if ix0 >= 0 { 0 } else { (-ix0 + step - 1) / step };
                    let end = if ix0 >= width { 0 } else { (width - ix0 + step - 1) / step };
                    (row_inside, (first as usize).min(len)..(end as usize).min(len))
                })
                .collect()
        });
        BorderRows { input, padding, mn_start, mn_end, one_output_row }
    }

    /// The kernel tap of each K row in turn (K runs over channels, then taps).
    fn taps(&self) -> std::iter::Cycle<Range<usize>> {
        let [kh, kw] = self.padding.kernel_hw;
        (0..kh * kw).cycle()
    }

    /// K row `kk` (kernel tap `tap`, from [`Self::taps`]; `None` past K) into `row`: zeros
    /// for taps in the border, for `kk` past K and for columns past the panel's end.
    #[inline(always)]
    unsafe fn row(&self, kk: usize, tap: Option<usize>, row: &mut [f32]) {
        let k_offsets = &self.input.im2col.k_byte_offsets;
        let (Some(tap), true) = (tap, kk < k_offsets.len()) else {
            row.fill(0.0);
            return;
        };
        let tensor = unsafe { self.input.tensor.as_ptr_unchecked::<u8>() };
        // The address of column mn_start's tap may lie outside the input (in the padding):
        // wrapping arithmetic computes it without claiming it is in bounds; only the inside
        // columns are read.
        let base = tensor.wrapping_offset(self.input.group_offset_bytes + k_offsets[kk]);
        let n_offsets = &self.input.im2col.n_byte_offsets;
        match &self.one_output_row {
            Some(taps) => {
                let (row_inside, columns) = &taps[tap];
                if !row_inside {
                    row.fill(0.0);
                    return;
                }
                row[..columns.start].fill(0.0);
                row[columns.end..].fill(0.0);
                let step = self.padding.strides[1];
                let first = (base.wrapping_offset(n_offsets[self.mn_start]) as *const f32)
                    .wrapping_add(columns.start * step);
                unsafe { read_run(first, step, &mut row[columns.clone()]) };
            }
            None => {
                row.fill(0.0);
                for (value, n) in row.iter_mut().zip(self.mn_start..self.mn_end) {
                    if self.padding.inside(n, kk) {
                        *value = unsafe { (base.wrapping_offset(n_offsets[n]) as *const f32).read_unaligned() };
                    }
                }
            }
        }
    }
}

/// `out.len()` f32 values from `first` on, `step` apart: one block copy at step 1, one load of
/// the whole span for a full 16-wide panel at step 2 (as the interior gathers do).
#[inline(always)]
unsafe fn read_run(first: *const f32, step: usize, out: &mut [f32]) {
    const R: usize = BF16_PANEL_R;
    if step == 1 && out.len() == R {
        // A fixed-size load (one vector), where a run of unknown length would call memcpy.
        let run = unsafe { (first as *const [f32; R]).read_unaligned() };
        out.copy_from_slice(&run);
    } else if step == 1 {
        out.copy_from_slice(unsafe { std::slice::from_raw_parts(first, out.len()) });
    } else if step == 2 && out.len() == R {
        // 2R - 1 values: the last one read is the last column's, nothing past it.
        let wide = unsafe { (first as *const [f32; 2 * R - 1]).read_unaligned() };
        for (n, value) in out.iter_mut().enumerate() {
            *value = wide[2 * n];
        }
    } else {
        for (n, value) in out.iter_mut().enumerate() {
            *value = unsafe { first.add(n * step).read_unaligned() };
        }
    }
}
