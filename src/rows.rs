//! The (input row, kernel row) pairs that reach one output row of an N-D correlation.
//!
//! An output row is fixed by its batch index and its indices on the leading convolved axes; the
//! kernel rows that reach it are those whose leading taps land inside the input. They are
//! listed in lexicographic tap order, the one summation order every kernel follows.

use crate::direct::{ArrayRef, Plan};
use crate::geometry::{c_strides, AxisGeometry};
use crate::simd::RowPair;

/// Reusable buffers for listing the pairs of one output row after another.
pub struct RowPairs<'a, T> {
    plan: &'a Plan,
    x: ArrayRef<'a, T>,
    w: ArrayRef<'a, T>,
    x_strides: Vec<usize>,
    w_strides: Vec<usize>,
    /// Sizes of the axes a row index runs over: batch axes, then leading output axes.
    row_dims: Vec<usize>,
    idx: Vec<usize>,
    taps: Vec<usize>,
    ranges: Vec<(usize, usize)>,
    pairs: Vec<RowPair<'a, T>>,
}

impl<'a, T> RowPairs<'a, T> {
    /// Buffers for rows of `plan` over inputs `x` and (oriented) kernel `w`.
    pub fn new(plan: &'a Plan, x: ArrayRef<'a, T>, w: ArrayRef<'a, T>) -> Self {
        let nd = plan.axes.len();
        let lead = &plan.axes[..nd.saturating_sub(1)];
        let row_dims: Vec<usize> = plan
            .batch
            .iter()
            .copied()
            .chain(lead.iter().map(|g| g.m))
            .collect();
        RowPairs {
            plan,
            x,
            w,
            x_strides: c_strides(x.shape),
            w_strides: c_strides(w.shape),
            idx: vec![0; row_dims.len()],
            row_dims,
            taps: Vec::with_capacity(nd),
            ranges: Vec::with_capacity(nd),
            pairs: Vec::new(),
        }
    }

    /// The geometry of the last (row) axis.
    pub fn last_axis(&self) -> AxisGeometry {
        self.plan.axes[self.plan.axes.len() - 1]
    }

    /// The pairs that reach output row `r`, in lexicographic tap order.
    pub fn pairs(&mut self, r: usize) -> &[RowPair<'a, T>] {
        let nb = self.plan.batch.len();
        let nd = self.plan.axes.len();
        let lead = &self.plan.axes[..nd - 1];
        let mut rem = r;
        for d in (0..self.row_dims.len()).rev() {
            self.idx[d] = rem % self.row_dims[d];
            rem /= self.row_dims[d];
        }
        let (mut xoff, mut woff) = (0usize, 0usize);
        for d in 0..nb {
            if self.x.shape[d] != 1 {
                xoff += self.idx[d] * self.x_strides[d];
            }
            if self.w.shape[d] != 1 {
                woff += self.idx[d] * self.w_strides[d];
            }
        }
        self.ranges.clear();
        self.ranges
            .extend(lead.iter().zip(&self.idx[nb..]).map(|(g, &i)| g.taps(i)));
        self.pairs.clear();
        if self.ranges.iter().any(|&(a, b)| a >= b) {
            return &self.pairs;
        }
        let g_last = lead.len();
        let (n_last, k_last) = (self.plan.axes[g_last].n, self.plan.axes[g_last].k);
        self.taps.clear();
        self.taps.extend(self.ranges.iter().map(|&(a, _)| a));
        loop {
            let (mut xo, mut wo) = (xoff, woff);
            for (d, (&j, g)) in self.taps.iter().zip(lead).enumerate() {
                let xi = (g.start + (self.idx[nb + d] + j) as isize) as usize;
                xo += xi * self.x_strides[nb + d];
                wo += j * self.w_strides[nb + d];
            }
            self.pairs
                .push((&self.x.data[xo..xo + n_last], &self.w.data[wo..wo + k_last]));
            if !advance(&mut self.taps, &self.ranges) {
                return &self.pairs;
            }
        }
    }
}

/// Steps an odometer over the leading taps; false once it has wrapped around.
fn advance(taps: &mut [usize], ranges: &[(usize, usize)]) -> bool {
    for d in (0..taps.len()).rev() {
        taps[d] += 1;
        if taps[d] < ranges[d].1 {
            return true;
        }
        taps[d] = ranges[d].0;
    }
    false
}
