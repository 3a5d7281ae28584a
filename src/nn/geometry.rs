//! The shapes of a neural-network convolution: the sliding window over 1 to 3 spatial axes
//! ([`Window`]), the channels and groups around it ([`ConvShape`]), and overflow-checked
//! element counts.
//!
//! Every window is stored with exactly three axes: a convolution with fewer spatial axes gets
//! leading axes of size 1 (kernel 1, stride 1, dilation 1, no padding), so every loop in the
//! module is written once, for three axes.

use crate::error::{ConvError, Result};

/// The number of axes a [`Window`] stores (the most spatial axes a convolution may have).
pub const AXES: usize = 3;

/// The product of `sizes`, or [`ConvError::Memory`] naming `what` when it overflows `usize`.
///
/// # Errors
/// [`ConvError::Memory`] on overflow.
pub fn checked_product(sizes: &[usize], what: &str) -> Result<usize> {
    sizes
        .iter()
        .try_fold(1usize, |acc, &s| acc.checked_mul(s))
        .ok_or_else(|| ConvError::Memory(format!("the {what} is too large ({sizes:?})")))
}

/// The sliding window of a convolution over its spatial axes, padded to [`AXES`] axes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// The number of real spatial axes (1 to 3); they are the last `ndim` of each array.
    pub ndim: usize,
    /// Spatial input size S per axis.
    pub input: [usize; AXES],
    /// Kernel size K per axis.
    pub kernel: [usize; AXES],
    /// Stride per axis (at least 1).
    pub stride: [usize; AXES],
    /// Zeros added before the input per axis.
    pub pad_before: [usize; AXES],
    /// Zeros added after the input per axis.
    pub pad_after: [usize; AXES],
    /// Dilation per axis (at least 1).
    pub dilation: [usize; AXES],
    /// Output size O = (S + before + after - dilation * (K - 1) - 1) / stride + 1 per axis.
    pub output: [usize; AXES],
    /// prod(S): the elements of one input plane.
    pub input_len: usize,
    /// prod(K): the kernel offsets of one channel.
    pub kernel_len: usize,
    /// prod(O): the output positions of one plane.
    pub output_len: usize,
    /// [`Window::reaches`] of every kernel offset, when there are at most
    /// [`REACH_TABLE_MAX`] of them (looked up by the im2col loops for every row).
    reach_table: Vec<[AxisReach; AXES]>,
}

/// The most kernel offsets whose reaches a [`Window`] keeps in a table.
pub const REACH_TABLE_MAX: usize = 1 << 16;

/// The output positions of one axis at which one kernel offset reads inside the input:
/// `o` in `lo..hi` reads input index `o * stride + offset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AxisReach {
    /// First output index that reads inside the input.
    pub lo: usize,
    /// One past the last output index that reads inside the input (`hi >= lo`).
    pub hi: usize,
    /// The input index read by output index 0 (may be negative: padding).
    pub offset: isize,
}

impl Window {
    /// Checks and completes a window from per-axis arguments (all of one length, 1 to 3).
    ///
    /// # Errors
    /// [`ConvError::Value`] for inconsistent lengths, zero strides, dilations or kernel sizes,
    /// and for a kernel span larger than the padded input; [`ConvError::Memory`] when a size
    /// overflows.
    pub fn new(
        input: &[usize],
        kernel: &[usize],
        stride: &[usize],
        padding: &[(usize, usize)],
        dilation: &[usize],
    ) -> Result<Self> {
        let ndim = input.len();
        if !(1..=AXES).contains(&ndim) {
            return Err(ConvError::value(format!(
                "a convolution needs 1 to 3 spatial axes, got {ndim}"
            )));
        }
        let lengths = [kernel.len(), stride.len(), padding.len(), dilation.len()];
        if lengths.iter().any(|&l| l != ndim) {
            return Err(ConvError::value(format!(
                "kernel_size, stride, padding and dilation need one entry per spatial axis \
                 ({ndim}), got {lengths:?}"
            )));
        }
        if stride.contains(&0) || dilation.contains(&0) {
            return Err(ConvError::value(format!(
                "stride and dilation must be positive, got stride={stride:?} dilation={dilation:?}"
            )));
        }
        if kernel.contains(&0) {
            return Err(ConvError::value(format!(
                "kernel sizes must be positive, got {kernel:?}"
            )));
        }
        let lead = AXES - ndim;
        let mut w = Window {
            ndim,
            input: [1; AXES],
            kernel: [1; AXES],
            stride: [1; AXES],
            pad_before: [0; AXES],
            pad_after: [0; AXES],
            dilation: [1; AXES],
            output: [1; AXES],
            input_len: 0,
            kernel_len: 0,
            output_len: 0,
            reach_table: Vec::new(),
        };
        let too_large = || ConvError::Memory("the padded input size overflows".into());
        for a in 0..ndim {
            let ax = lead + a;
            w.input[ax] = input[a];
            w.kernel[ax] = kernel[a];
            w.stride[ax] = stride[a];
            (w.pad_before[ax], w.pad_after[ax]) = padding[a];
            w.dilation[ax] = dilation[a];
            let padded = input[a]
                .checked_add(padding[a].0)
                .and_then(|s| s.checked_add(padding[a].1))
                .filter(|&s| s <= isize::MAX as usize)
                .ok_or_else(too_large)?;
            let span = dilation[a]
                .checked_mul(kernel[a] - 1)
                .and_then(|s| s.checked_add(1))
                .ok_or_else(too_large)?;
            if padded < span {
                return Err(ConvError::value(format!(
                    "the output size would be below 1 on spatial axis {a}: input size {} with \
                     padding ({}, {}) is {padded}, less than the dilated kernel size {span} \
                     (kernel {}, dilation {})",
                    input[a], padding[a].0, padding[a].1, kernel[a], dilation[a]
                )));
            }
            w.output[ax] = (padded - span) / stride[a] + 1;
        }
        w.input_len = checked_product(&w.input, "input size")?;
        w.kernel_len = checked_product(&w.kernel, "kernel size")?;
        w.output_len = checked_product(&w.output, "output size")?;
        if w.kernel_len <= REACH_TABLE_MAX {
            w.reach_table = (0..w.kernel_len).map(|k| w.compute_reaches(k)).collect();
        }
        Ok(w)
    }

    /// The real spatial axes of a three-axis array (the last `ndim` entries).
    pub fn spatial<'a>(&self, sizes: &'a [usize; AXES]) -> &'a [usize] {
        &sizes[AXES - self.ndim..]
    }

    /// True when the column matrix is the input itself: kernel 1, stride 1, no padding.
    pub fn is_pointwise(&self) -> bool {
        self.kernel_len == 1
            && self.stride.iter().all(|&s| s == 1)
            && self
                .pad_before
                .iter()
                .chain(&self.pad_after)
                .all(|&p| p == 0)
    }

    /// Splits a kernel offset index (row-major over the kernel) into per-axis indices.
    pub fn kernel_index(&self, k: usize) -> [usize; AXES] {
        let [_, k1, k2] = self.kernel;
        [k / (k1 * k2), (k / k2) % k1, k % k2]
    }

    /// Where kernel index `k` along `axis` reads inside the input.
    pub fn reach(&self, axis: usize, k: usize) -> AxisReach {
        // Sizes were checked to fit in isize when the window was built.
        let stride = self.stride[axis] as isize;
        let offset = (k * self.dilation[axis]) as isize - self.pad_before[axis] as isize;
        let size = self.input[axis] as isize;
        let out = self.output[axis] as isize;
        // o * stride + offset >= 0  <=>  o >= ceil(-offset / stride)
        let lo = if offset >= 0 {
            0
        } else {
            (-offset + stride - 1) / stride
        };
        // o * stride + offset <= size - 1  <=>  o <= floor((size - 1 - offset) / stride)
        let last = size - 1 - offset;
        let hi = if last < 0 {
            0
        } else {
            (last / stride + 1).min(out)
        };
        let lo = lo.min(hi);
        AxisReach {
            lo: lo as usize,
            hi: hi as usize,
            offset,
        }
    }

    /// [`Window::reach`] on every axis for the kernel offset with flat index `k`.
    #[inline]
    pub fn reaches(&self, k: usize) -> [AxisReach; AXES] {
        match self.reach_table.get(k) {
            Some(r) => *r,
            None => self.compute_reaches(k),
        }
    }

    fn compute_reaches(&self, k: usize) -> [AxisReach; AXES] {
        let idx = self.kernel_index(k);
        [0, 1, 2].map(|a| self.reach(a, idx[a]))
    }
}

/// A convolution's batch, channels and groups around its [`Window`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConvShape {
    /// Batch size N.
    pub batch: usize,
    /// Input channels C_in.
    pub in_channels: usize,
    /// Output channels C_out.
    pub out_channels: usize,
    /// Groups (divides both channel counts).
    pub groups: usize,
    /// The spatial window.
    pub window: Window,
    /// Rows of one group's column matrix: C_in / groups * prod(K).
    pub col_rows: usize,
    /// Elements of the input (N, C_in, *S).
    pub input_len: usize,
    /// Elements of the weight (C_out, C_in / groups, *K).
    pub weight_len: usize,
    /// Elements of the output (N, C_out, *O).
    pub output_len: usize,
}

impl ConvShape {
    /// Checks the channel/group arithmetic and the element counts.
    ///
    /// # Errors
    /// [`ConvError::Value`] when `groups` is zero or does not divide both channel counts;
    /// [`ConvError::Memory`] when an element count overflows.
    pub fn new(
        batch: usize,
        in_channels: usize,
        out_channels: usize,
        groups: usize,
        window: Window,
    ) -> Result<Self> {
        if groups == 0
            || !in_channels.is_multiple_of(groups)
            || !out_channels.is_multiple_of(groups)
        {
            return Err(ConvError::value(format!(
                "groups={groups} must be positive and divide in_channels={in_channels} and \
                 out_channels={out_channels}"
            )));
        }
        let col_rows = checked_product(&[in_channels / groups, window.kernel_len], "weight")?;
        let input_len = checked_product(&[batch, in_channels, window.input_len], "input")?;
        let weight_len = checked_product(&[out_channels, col_rows], "weight")?;
        let output_len = checked_product(&[batch, out_channels, window.output_len], "output")?;
        Ok(ConvShape {
            batch,
            in_channels,
            out_channels,
            groups,
            window,
            col_rows,
            input_len,
            weight_len,
            output_len,
        })
    }

    /// Input channels per group.
    pub fn in_per_group(&self) -> usize {
        self.in_channels / self.groups
    }

    /// Output channels per group.
    pub fn out_per_group(&self) -> usize {
        self.out_channels / self.groups
    }

    /// The input's shape (N, C_in, *S).
    pub fn input_shape(&self) -> Vec<usize> {
        let w = &self.window;
        [self.batch, self.in_channels]
            .into_iter()
            .chain(w.spatial(&w.input).iter().copied())
            .collect()
    }

    /// The weight's shape (C_out, C_in / groups, *K).
    pub fn weight_shape(&self) -> Vec<usize> {
        let w = &self.window;
        [self.out_channels, self.in_per_group()]
            .into_iter()
            .chain(w.spatial(&w.kernel).iter().copied())
            .collect()
    }

    /// The output's shape (N, C_out, *O).
    pub fn output_shape(&self) -> Vec<usize> {
        let w = &self.window;
        [self.batch, self.out_channels]
            .into_iter()
            .chain(w.spatial(&w.output).iter().copied())
            .collect()
    }

    /// Multiply-adds of one pass (forward, or either gradient): N * C_out * prod(O) * rows.
    pub fn macs(&self) -> usize {
        self.batch
            .saturating_mul(self.out_channels)
            .saturating_mul(self.window.output_len)
            .saturating_mul(self.col_rows)
    }
}

/// Checks that a buffer holds exactly `expected` elements.
///
/// # Errors
/// [`ConvError::Value`] naming `what` otherwise.
pub fn check_len(what: &str, len: usize, expected: usize) -> Result<()> {
    if len == expected {
        Ok(())
    } else {
        Err(ConvError::value(format!(
            "{what} holds {len} elements, expected {expected}"
        )))
    }
}
