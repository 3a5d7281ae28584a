//! Fuzz target `conv`: the neural-network convolution core (`fastconv::nn::geometry`,
//! `fastconv::nn::conv`, `fastconv::nn::unfold`) against naive float64 loops written here from
//! torch's definitions.
//!
//! A case decodes 1 to 3 spatial axes (input size, kernel, stride, asymmetric padding,
//! dilation), batch, channels and groups: mostly small values, sometimes wild ones
//! ([`Bytes::wild_size`]) that must be refused (`Err`) or accepted with exact sizes, never
//! panic. Valid small shapes (at most [`SMALL_MACS`] multiply-adds) run every entry point on 1
//! and 3 threads (bitwise identical) and are checked element by element; rare big shapes
//! (above the core's parallel threshold, at most [`BIG_MACS`]) check the thread invariance
//! and a sample of elements. Buffers of the wrong length must be refused.

use fastconv::nn::conv::{conv_forward, conv_grad_input, conv_grad_weight};
use fastconv::nn::geometry::{ConvShape, Window};
use fastconv::nn::unfold::{columns_len, fold, unfold};

use crate::input::Bytes;
use crate::nn_common::{
    assert_close, assert_same_bits, product, rare, values, wrong_len, NnFloat, Ref, ValueKind,
};

/// The most multiply-adds (per pass) of a case checked in full against the reference.
pub const SMALL_MACS: usize = 20_000;
/// The most multiply-adds of a big case (thread invariance and sampled elements only).
pub const BIG_MACS: usize = 6_000_000;
/// The most elements of any buffer of a small case.
const SMALL_BUF: usize = 1 << 16;
/// The most elements of any buffer of a big case.
const BIG_BUF: usize = 1 << 23;
/// Elements sampled per output in a big case.
const SAMPLES: usize = 24;
/// Set to skip the forward pass of depthwise shapes with empty input planes (a spatial size
/// 0 covered by padding). The `chunks_exact(0)` panic this target found there is fixed (such
/// windows read only padding: each output is its bias), so nothing is skipped.
const SKIP_EMPTY_DEPTHWISE: bool = false;

/// One spatial axis as decoded.
#[derive(Clone, Copy, Debug)]
struct Axis {
    size: usize,
    kernel: usize,
    stride: usize,
    pad: (usize, usize),
    dilation: usize,
}

/// A decoded case.
#[derive(Debug)]
struct Case {
    axes: Vec<Axis>,
    batch: usize,
    cin: usize,
    cout: usize,
    groups: usize,
    big: bool,
}

/// The window as this module computes it, padded to three axes with leading unit axes.
#[derive(Debug)]
struct Geo {
    s: [usize; 3],
    k: [usize; 3],
    st: [usize; 3],
    pb: [usize; 3],
    pa: [usize; 3],
    d: [usize; 3],
    o: [usize; 3],
    s_len: usize,
    k_len: usize,
    o_len: usize,
}

/// Row-major index of `idx` in `dims`.
fn flat(idx: [usize; 3], dims: [usize; 3]) -> usize {
    (idx[0] * dims[1] + idx[1]) * dims[2] + idx[2]
}

/// The multi-index of `f` in `dims`.
fn unflat(f: usize, dims: [usize; 3]) -> [usize; 3] {
    [
        f / (dims[1] * dims[2]),
        (f / dims[2]) % dims[1],
        f % dims[2],
    ]
}

impl Geo {
    /// What `Window::new` must return: `None` for an error. Valid when kernel, stride and
    /// dilation are positive, the padded size `S + before + after` is at most `isize::MAX`,
    /// the dilated kernel `d (K - 1) + 1` fits in `usize` and is at most the padded size, and
    /// the element counts of input, kernel and output fit in `usize`; then
    /// `O = (padded - span) / stride + 1` (computed here in `u128`).
    fn expect(axes: &[Axis]) -> Option<Geo> {
        let mut g = Geo {
            s: [1; 3],
            k: [1; 3],
            st: [1; 3],
            pb: [0; 3],
            pa: [0; 3],
            d: [1; 3],
            o: [1; 3],
            s_len: 0,
            k_len: 0,
            o_len: 0,
        };
        let lead = 3 - axes.len();
        for (i, a) in axes.iter().enumerate() {
            if a.kernel == 0 || a.stride == 0 || a.dilation == 0 {
                return None;
            }
            let padded = a.size as u128 + a.pad.0 as u128 + a.pad.1 as u128;
            let span = a.dilation as u128 * (a.kernel as u128 - 1) + 1;
            if padded > isize::MAX as u128 || span > usize::MAX as u128 || padded < span {
                return None;
            }
            let x = lead + i;
            g.s[x] = a.size;
            g.k[x] = a.kernel;
            g.st[x] = a.stride;
            (g.pb[x], g.pa[x]) = a.pad;
            g.d[x] = a.dilation;
            g.o[x] = usize::try_from((padded - span) / a.stride as u128 + 1).ok()?;
        }
        g.s_len = product(&g.s)?;
        g.k_len = product(&g.k)?;
        g.o_len = product(&g.o)?;
        Some(g)
    }

    /// The input position output `o` reads with kernel offset `k`, if inside the input.
    fn read(&self, o: [usize; 3], k: [usize; 3]) -> Option<[usize; 3]> {
        let mut pos = [0; 3];
        for a in 0..3 {
            let p = (o[a] * self.st[a] + k[a] * self.d[a]) as i128 - self.pb[a] as i128;
            if p < 0 || p >= self.s[a] as i128 {
                return None;
            }
            pos[a] = p as usize;
        }
        Some(pos)
    }

    /// The output position whose kernel offset `k` reads input position `i`, if any.
    fn reader(&self, i: [usize; 3], k: [usize; 3]) -> Option<[usize; 3]> {
        let mut o = [0; 3];
        for a in 0..3 {
            let num = (i[a] + self.pb[a]) as i128 - (k[a] * self.d[a]) as i128;
            let st = self.st[a] as i128;
            if num < 0 || num % st != 0 || num / st >= self.o[a] as i128 {
                return None;
            }
            o[a] = (num / st) as usize;
        }
        Some(o)
    }
}

fn decode(b: &mut Bytes<'_>) -> Case {
    let big = rare(b, 256);
    let wild = !big && rare(b, 12);
    let nd = if big { b.range(1, 2) } else { b.range(1, 3) };
    let (smax, kmax) = match (big, nd) {
        (true, 1) => (4096, 9),
        (true, _) => (96, 5),
        (false, 1) => (24, 5),
        (false, 2) => (9, 3),
        (false, _) => (6, 3),
    };
    let mut axes: Vec<Axis> = (0..nd)
        .map(|_| {
            // Zero kernels, strides and dilations (errors) about once in 32 each.
            let nonzero = |b: &mut Bytes<'_>, hi: usize| {
                if rare(b, 32) {
                    0
                } else {
                    b.range(1, hi)
                }
            };
            Axis {
                size: b.range(0, smax),
                kernel: nonzero(b, kmax),
                stride: nonzero(b, 3),
                pad: (b.below(3), b.below(3)),
                dilation: nonzero(b, 3),
            }
        })
        .collect();
    let (mut batch, mut cin, mut cout, mut groups);
    if big {
        batch = b.range(1, 4);
        groups = b.range(1, 2);
        cin = groups * b.range(1, 16);
        cout = groups * b.range(1, 16);
    } else if rare(b, 16) {
        // Channels that groups may not divide.
        batch = b.below(3);
        cin = b.below(7);
        cout = b.below(7);
        groups = b.below(4);
    } else {
        batch = b.below(3);
        groups = b.range(1, 3);
        cin = groups * b.below(3);
        cout = groups * b.below(3);
    }
    if wild {
        for v in [&mut batch, &mut cin, &mut cout, &mut groups] {
            if rare(b, 3) {
                *v = b.wild_size();
            }
        }
        for a in &mut axes {
            for v in [
                &mut a.size,
                &mut a.kernel,
                &mut a.stride,
                &mut a.pad.0,
                &mut a.pad.1,
                &mut a.dilation,
            ] {
                if rare(b, 4) {
                    *v = b.wild_size();
                }
            }
        }
    }
    Case {
        axes,
        batch,
        cin,
        cout,
        groups,
        big,
    }
}

/// Calls `Window::new` with the case's per-axis lists.
fn window(axes: &[Axis]) -> fastconv::error::Result<Window> {
    let col = |f: fn(&Axis) -> usize| axes.iter().map(f).collect::<Vec<_>>();
    let pads: Vec<(usize, usize)> = axes.iter().map(|a| a.pad).collect();
    Window::new(
        &col(|a| a.size),
        &col(|a| a.kernel),
        &col(|a| a.stride),
        &pads,
        &col(|a| a.dilation),
    )
}

/// Fuzz target `conv`: see the module documentation.
pub fn run_conv(data: &[u8]) {
    let mut b = Bytes::new(data);
    if b.bool() {
        conv_case::<f32>(&mut b);
    } else {
        conv_case::<f64>(&mut b);
    }
}

fn conv_case<T: NnFloat>(b: &mut Bytes<'_>) {
    let case = decode(b);
    let kind = ValueKind::decode(b, false);
    let seed = b.u64();
    let threads = [1, 3];

    // Per-axis lists of different lengths, or no axis at all: refused.
    if rare(b, 32) {
        let mut axes = case.axes.clone();
        let pads: Vec<(usize, usize)> = axes.iter().map(|a| a.pad).collect();
        let col = |f: fn(&Axis) -> usize, axes: &[Axis]| axes.iter().map(f).collect::<Vec<_>>();
        let mut dil = col(|a| a.dilation, &axes);
        dil.push(1);
        let res = Window::new(
            &col(|a| a.size, &axes),
            &col(|a| a.kernel, &axes),
            &col(|a| a.stride, &axes),
            &pads,
            &dil,
        );
        assert!(
            res.is_err(),
            "Window::new accepted lists of different lengths"
        );
        axes.clear();
        assert!(window(&axes).is_err(), "Window::new accepted no axis");
    }

    let got = window(&case.axes);
    let want = Geo::expect(&case.axes);
    let (w, g) = match (got, want) {
        (Err(_), None) => return,
        (Ok(w), None) => panic!("Window::new accepted {case:?}: {w:?}"),
        (Err(e), Some(g)) => panic!("Window::new refused {case:?} ({g:?}): {e}"),
        (Ok(w), Some(g)) => (w, g),
    };
    assert_eq!(w.ndim, case.axes.len(), "Window::ndim");
    let fields = [
        (w.input, g.s),
        (w.kernel, g.k),
        (w.stride, g.st),
        (w.pad_before, g.pb),
        (w.pad_after, g.pa),
        (w.dilation, g.d),
        (w.output, g.o),
    ];
    for (i, (a, e)) in fields.iter().enumerate() {
        assert_eq!(a, e, "Window field {i} of {case:?}");
    }
    assert_eq!(
        (w.input_len, w.kernel_len, w.output_len),
        (g.s_len, g.k_len, g.o_len),
        "Window lengths of {case:?}"
    );

    unfold_checks::<T>(b, &case, &w, &g, kind, seed);

    let shape = ConvShape::new(case.batch, case.cin, case.cout, case.groups, w.clone());
    let expect = expect_shape(&case, &g);
    let shape = match (shape, expect) {
        (Err(_), None) => return,
        (Ok(s), None) => panic!("ConvShape::new accepted {case:?}: {s:?}"),
        (Err(e), Some(l)) => panic!("ConvShape::new refused {case:?} ({l:?}): {e}"),
        (Ok(s), Some(l)) => {
            assert_eq!(
                [s.col_rows, s.input_len, s.weight_len, s.output_len],
                l,
                "ConvShape lengths of {case:?}"
            );
            s
        }
    };
    let [_, in_len, w_len, out_len] = [
        shape.col_rows,
        shape.input_len,
        shape.weight_len,
        shape.output_len,
    ];
    let macs = product(&[case.batch, case.cout, g.o_len, shape.col_rows]);
    let (mac_cap, buf_cap) = if case.big {
        (BIG_MACS, BIG_BUF)
    } else {
        (SMALL_MACS, SMALL_BUF)
    };
    let runnable = macs.is_some_and(|m| m <= mac_cap)
        && [in_len, w_len, out_len, case.cout]
            .iter()
            .all(|&l| l <= buf_cap);
    if !runnable {
        // Empty buffers for a shape too large to allocate: refused unless all are empty.
        let all_empty = in_len == 0 && w_len == 0 && out_len == 0;
        let (e, mut m) = (Vec::<T>::new(), Vec::<T>::new());
        for t in threads {
            let r = [
                conv_forward(&shape, &e, &e, None, &mut m, t).is_ok(),
                conv_grad_input(&shape, &e, &e, &mut m, t).is_ok(),
                conv_grad_weight(&shape, &e, &e, &mut m, None, t).is_ok(),
            ];
            assert_eq!(r, [all_empty; 3], "empty buffers for {case:?}");
        }
        return;
    }

    let cipg = case.cin / case.groups;
    let copg = case.cout / case.groups;
    let skip_forward =
        SKIP_EMPTY_DEPTHWISE && g.s_len == 0 && case.groups > 1 && cipg <= 2 && copg <= 4;
    let x: Vec<T> = values(b, in_len, kind, seed);
    let wt: Vec<T> = values(b, w_len, kind, seed ^ 1);
    let bias: Option<Vec<T>> = b.bool().then(|| values(b, case.cout, kind, seed ^ 2));
    let go: Vec<T> = values(b, out_len, kind, seed ^ 3);
    let pick = Pick::new(case.big, seed);

    // Forward, with the output pre-set to NaN so that an element left unwritten shows.
    let forward = |t: usize| {
        let mut out = vec![T::of(f64::NAN); out_len];
        conv_forward(&shape, &x, &wt, bias.as_deref(), &mut out, t).expect("conv_forward");
        out
    };
    let (one, three) = if skip_forward {
        (Vec::new(), Vec::new())
    } else {
        (forward(1), forward(3))
    };
    assert_same_bits("conv_forward", &one, &three);
    pick.check("conv_forward", &one, kind.rough, |f| {
        let (n, co, o) = (
            f / (case.cout * g.o_len),
            (f / g.o_len) % case.cout,
            f % g.o_len,
        );
        let grp = co / copg;
        let o = unflat(o, g.o);
        let mut r = Ref::default();
        if let Some(bias) = &bias {
            r.add(bias[co].f());
        }
        for ci in 0..cipg {
            for kf in 0..g.k_len {
                if let Some(pos) = g.read(o, unflat(kf, g.k)) {
                    let xv = x[(n * case.cin + grp * cipg + ci) * g.s_len + flat(pos, g.s)];
                    let wv = wt[(co * cipg + ci) * g.k_len + kf];
                    r.add(xv.f() * wv.f());
                }
            }
        }
        r
    });

    // Gradient with respect to the input.
    let grad_input = |t: usize| {
        let mut gi = vec![T::of(f64::NAN); in_len];
        conv_grad_input(&shape, &go, &wt, &mut gi, t).expect("conv_grad_input");
        gi
    };
    let (one, three) = (grad_input(1), grad_input(3));
    assert_same_bits("conv_grad_input", &one, &three);
    pick.check("conv_grad_input", &one, kind.rough, |f| {
        let (n, c, i) = (
            f / (case.cin * g.s_len),
            (f / g.s_len) % case.cin,
            f % g.s_len,
        );
        let (grp, ci) = (c / cipg, c % cipg);
        let i = unflat(i, g.s);
        let mut r = Ref::default();
        for co in grp * copg..(grp + 1) * copg {
            for kf in 0..g.k_len {
                if let Some(o) = g.reader(i, unflat(kf, g.k)) {
                    let gv = go[(n * case.cout + co) * g.o_len + flat(o, g.o)];
                    let wv = wt[(co * cipg + ci) * g.k_len + kf];
                    r.add(gv.f() * wv.f());
                }
            }
        }
        r
    });

    // Gradient with respect to the weight, and of the bias (summed in the same pass).
    let grad_weight = |t: usize| {
        let mut gw = vec![T::of(f64::NAN); w_len];
        let mut gb = vec![T::of(f64::NAN); case.cout];
        conv_grad_weight(&shape, &go, &x, &mut gw, Some(&mut gb), t).expect("conv_grad_weight");
        let mut alone = vec![T::of(f64::NAN); w_len];
        conv_grad_weight(&shape, &go, &x, &mut alone, None, t).expect("conv_grad_weight");
        assert_same_bits("conv_grad_weight with and without the bias", &gw, &alone);
        (gw, gb)
    };
    let ((one, bias_one), (three, bias_three)) = (grad_weight(1), grad_weight(3));
    assert_same_bits("conv_grad_weight", &one, &three);
    assert_same_bits("conv_grad_weight bias", &bias_one, &bias_three);
    pick.check("conv_grad_weight", &one, kind.rough, |f| {
        let (co, ci, kf) = (f / (cipg * g.k_len), (f / g.k_len) % cipg, f % g.k_len);
        let grp = co / copg;
        let k = unflat(kf, g.k);
        let mut r = Ref::default();
        for n in 0..case.batch {
            for of in 0..g.o_len {
                if let Some(pos) = g.read(unflat(of, g.o), k) {
                    let gv = go[(n * case.cout + co) * g.o_len + of];
                    let xv = x[(n * case.cin + grp * cipg + ci) * g.s_len + flat(pos, g.s)];
                    r.add(gv.f() * xv.f());
                }
            }
        }
        r
    });
    pick.check("conv_grad_weight bias", &bias_one, kind.rough, |co| {
        let mut r = Ref::default();
        for n in 0..case.batch {
            for of in 0..g.o_len {
                r.add(go[(n * case.cout + co) * g.o_len + of].f());
            }
        }
        r
    });

    // Buffers of the wrong length: refused.
    if !case.big {
        let t = threads[b.below(2)];
        let which = b.below(4);
        let len =
            |b: &mut Bytes<'_>, i: usize, l: usize| if which == i { wrong_len(b, l) } else { l };
        let (xl, wl, ol, bl) = (
            len(b, 0, in_len),
            len(b, 1, w_len),
            len(b, 2, out_len),
            len(b, 3, case.cout),
        );
        let (xx, ww, bb) = (
            vec![T::of(0.0); xl],
            vec![T::of(0.0); wl],
            vec![T::of(0.0); bl],
        );
        let mut oo = vec![T::of(0.0); ol];
        let res = conv_forward(&shape, &xx, &ww, Some(&bb), &mut oo, t);
        assert!(
            res.is_err(),
            "conv_forward accepted a buffer of the wrong length"
        );
        if which < 3 {
            let res = conv_grad_input(&shape, &oo, &ww, &mut xx.clone(), t);
            assert!(
                res.is_err(),
                "conv_grad_input accepted a buffer of the wrong length"
            );
            let res = conv_grad_weight(&shape, &oo, &xx, &mut ww.clone(), None, t);
            assert!(
                res.is_err(),
                "conv_grad_weight accepted a buffer of the wrong length"
            );
        }
    }
}

/// What `ConvShape::new` must give: `None` for an error, else `[col_rows, input_len,
/// weight_len, output_len]`.
fn expect_shape(case: &Case, g: &Geo) -> Option<[usize; 4]> {
    let groups = case.groups;
    if groups == 0 || !case.cin.is_multiple_of(groups) || !case.cout.is_multiple_of(groups) {
        return None;
    }
    let col_rows = product(&[case.cin / groups, g.k_len])?;
    Some([
        col_rows,
        product(&[case.batch, case.cin, g.s_len])?,
        product(&[case.cout, col_rows])?,
        product(&[case.batch, case.cout, g.o_len])?,
    ])
}

/// Which elements of an output are checked: all of a small case, a sample of a big one.
struct Pick {
    big: bool,
    seed: u64,
}

impl Pick {
    fn new(big: bool, seed: u64) -> Self {
        Pick { big, seed }
    }

    /// Compares the chosen elements of `got` with `reference(index)`.
    fn check<T: NnFloat>(
        &self,
        what: &str,
        got: &[T],
        rough: bool,
        reference: impl Fn(usize) -> Ref,
    ) {
        let idx: Vec<usize> = if !self.big || got.len() <= SAMPLES {
            (0..got.len()).collect()
        } else {
            (0..SAMPLES as u64)
                .map(|j| {
                    (self
                        .seed
                        .wrapping_add(j)
                        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                        >> 17) as usize
                        % got.len()
                })
                .collect()
        };
        let g: Vec<T> = idx.iter().map(|&i| got[i]).collect();
        let want: Vec<Ref> = idx.iter().map(|&i| reference(i)).collect();
        assert_close(what, &g, &want, rough);
    }
}

/// `unfold` and `fold` of `case.batch` images of `case.cin` channels through window `w`.
fn unfold_checks<T: NnFloat>(
    b: &mut Bytes<'_>,
    case: &Case,
    w: &Window,
    g: &Geo,
    kind: ValueKind,
    seed: u64,
) {
    let (n, c) = (case.batch, case.cin);
    let want_cols = product(&[n, c, g.k_len, g.o_len]);
    let got_cols = columns_len(n, c, w).ok();
    assert_eq!(got_cols, want_cols, "columns_len of {case:?}");
    let in_len = product(&[n, c, g.s_len]);
    let cap = if case.big { BIG_BUF } else { SMALL_BUF };
    let (Some(in_len), Some(cols)) = (in_len, want_cols) else {
        let (e, mut m) = (Vec::<T>::new(), Vec::<T>::new());
        assert!(
            unfold(n, c, w, &e, &mut m, 1).is_err(),
            "unfold of {case:?}"
        );
        assert!(fold(n, c, w, &e, &mut m, 1).is_err(), "fold of {case:?}");
        return;
    };
    if in_len > cap || cols > cap || (!case.big && cols > SMALL_MACS) {
        let all_empty = in_len == 0 && cols == 0;
        let (e, mut m) = (Vec::<T>::new(), Vec::<T>::new());
        assert_eq!(
            unfold(n, c, w, &e, &mut m, 3).is_ok(),
            all_empty,
            "unfold of {case:?}"
        );
        assert_eq!(
            fold(n, c, w, &e, &mut m, 3).is_ok(),
            all_empty,
            "fold of {case:?}"
        );
        return;
    }
    let x: Vec<T> = values(b, in_len, kind, seed ^ 4);
    let run_unfold = |t: usize| {
        let mut out = vec![T::of(f64::NAN); cols];
        unfold(n, c, w, &x, &mut out, t).expect("unfold");
        out
    };
    let (one, three) = (run_unfold(1), run_unfold(3));
    assert_same_bits("unfold", &one, &three);
    let pick = Pick::new(case.big, seed);
    // A copy: exact, tolerance 0 (one term).
    pick.check("unfold", &one, false, |f| {
        let (plane, row, o) = (
            f / (g.k_len * g.o_len),
            (f / g.o_len) % g.k_len,
            f % g.o_len,
        );
        let mut r = Ref::default();
        if let Some(pos) = g.read(unflat(o, g.o), unflat(row, g.k)) {
            r.add(x[plane * g.s_len + flat(pos, g.s)].f());
        }
        r
    });

    let cols_in: Vec<T> = values(b, cols, kind, seed ^ 5);
    let run_fold = |t: usize| {
        let mut out = vec![T::of(f64::NAN); in_len];
        fold(n, c, w, &cols_in, &mut out, t).expect("fold");
        out
    };
    let (one, three) = (run_fold(1), run_fold(3));
    assert_same_bits("fold", &one, &three);
    pick.check("fold", &one, kind.rough, |f| {
        let (plane, i) = (f / g.s_len, f % g.s_len);
        let i = unflat(i, g.s);
        let mut r = Ref::default();
        for kf in 0..g.k_len {
            if let Some(o) = g.reader(i, unflat(kf, g.k)) {
                r.add(cols_in[(plane * g.k_len + kf) * g.o_len + flat(o, g.o)].f());
            }
        }
        r
    });

    if !case.big {
        let (xl, cl) = if b.bool() {
            (wrong_len(b, in_len), cols)
        } else {
            (in_len, wrong_len(b, cols))
        };
        let (xx, mut cc) = (vec![T::of(0.0); xl], vec![T::of(0.0); cl]);
        assert!(
            unfold(n, c, w, &xx, &mut cc, 1).is_err(),
            "unfold accepted a wrong length"
        );
        let mut xx = xx;
        assert!(
            fold(n, c, w, &cc, &mut xx, 1).is_err(),
            "fold accepted a wrong length"
        );
    }
}
