//! The fuzz checks: decode a case, run the core's entry points, compare with the reference.

use std::mem::MaybeUninit;

use fastconv::direct::{self, ArrayRef, Orientation, Plan};
use fastconv::dispatch::{correlate_with, resolve, Computable, Request};
use fastconv::error::ConvError;
use fastconv::fft::domain::{ComplexDomain, RealDomain};
use fastconv::fft::layout::FftLayout;
use fastconv::fft::prepared::Prepared;
use fastconv::fft::{self, sizes};
use fastconv::geometry::{self, AxisGeometry, Mode};
use fastconv::method::{self, Kind, Method};
use fastconv::parallel;
use fastconv::simd::{supported_isas, Isa};
use num_complex::Complex;

use crate::input::Bytes;
use crate::reference::{self, Owned, RefElem};

/// An element type the fuzzer drives: the core's [`Computable`] plus what the checks need.
pub trait FuzzElem: Computable + RefElem {
    /// True for the integer type (exact; FFT methods refused).
    const INT: bool;
    /// Unit roundoff of the float type (0 for integers).
    const EPS: f64;
    /// A value from small integer parts (`im` ignored for real types).
    fn from_parts(re: i64, im: i64) -> Self;
    /// NaN, +inf or -inf (by `code % 3`), or a small value for integers.
    fn special(code: u8) -> Self;
    /// A value that marks an output element the core did not write.
    fn sentinel() -> Self;
    /// `(re, im)` as `f64` (`im` 0 for real types).
    fn parts(self) -> (f64, f64);
    /// Runs a prepared FFT convolution (`None` for integers, which have none).
    #[allow(clippy::too_many_arguments)]
    fn prepared(
        x: ArrayRef<'_, Self>,
        w: ArrayRef<'_, Self>,
        plan: Plan,
        layout: FftLayout,
        orient: Orientation,
        threads: usize,
        out: &mut [MaybeUninit<Self>],
    ) -> Option<Result<(), ConvError>>;
    /// Runs the real/complex FFT entry point with an arbitrary layout.
    #[allow(clippy::too_many_arguments)]
    fn raw_fft(
        plan: &Plan,
        layout: &FftLayout,
        x: ArrayRef<'_, Self>,
        w: ArrayRef<'_, Self>,
        orient: Orientation,
        threads: usize,
        out: &mut [MaybeUninit<Self>],
    ) -> Option<Result<(), ConvError>>;
}

macro_rules! float_elem {
    ($t:ty) => {
        impl FuzzElem for $t {
            const INT: bool = false;
            const EPS: f64 = <$t>::EPSILON as f64 / 2.0;
            fn from_parts(re: i64, _im: i64) -> Self {
                re as $t
            }
            fn special(code: u8) -> Self {
                [<$t>::NAN, <$t>::INFINITY, <$t>::NEG_INFINITY][usize::from(code % 3)]
            }
            fn sentinel() -> Self {
                <$t>::from_bits(<$t>::NAN.to_bits() ^ 0x5a)
            }
            fn parts(self) -> (f64, f64) {
                (f64::from(self), 0.0)
            }
            fn prepared(
                x: ArrayRef<'_, Self>,
                w: ArrayRef<'_, Self>,
                plan: Plan,
                layout: FftLayout,
                orient: Orientation,
                threads: usize,
                out: &mut [MaybeUninit<Self>],
            ) -> Option<Result<(), ConvError>> {
                let p = Prepared::new(x.shape, w, plan, layout, orient, RealDomain::<$t>::new);
                Some(p.and_then(|p| p.apply(x, threads, out)))
            }
            fn raw_fft(
                plan: &Plan,
                layout: &FftLayout,
                x: ArrayRef<'_, Self>,
                w: ArrayRef<'_, Self>,
                orient: Orientation,
                threads: usize,
                out: &mut [MaybeUninit<Self>],
            ) -> Option<Result<(), ConvError>> {
                Some(fft::correlate_real_into(
                    plan, layout, x, w, orient, threads, out,
                ))
            }
        }
    };
}
float_elem!(f32);
float_elem!(f64);

macro_rules! complex_elem {
    ($t:ty) => {
        impl FuzzElem for Complex<$t> {
            const INT: bool = false;
            const EPS: f64 = <$t>::EPSILON as f64 / 2.0;
            fn from_parts(re: i64, im: i64) -> Self {
                Complex::new(re as $t, im as $t)
            }
            fn special(code: u8) -> Self {
                let v = [<$t>::NAN, <$t>::INFINITY, <$t>::NEG_INFINITY][usize::from(code % 3)];
                if code & 4 == 0 {
                    Complex::new(v, 1.0)
                } else {
                    Complex::new(0.0, v)
                }
            }
            fn sentinel() -> Self {
                let s = <$t>::from_bits(<$t>::NAN.to_bits() ^ 0x5a);
                Complex::new(s, s)
            }
            fn parts(self) -> (f64, f64) {
                (f64::from(self.re), f64::from(self.im))
            }
            fn prepared(
                x: ArrayRef<'_, Self>,
                w: ArrayRef<'_, Self>,
                plan: Plan,
                layout: FftLayout,
                orient: Orientation,
                threads: usize,
                out: &mut [MaybeUninit<Self>],
            ) -> Option<Result<(), ConvError>> {
                let p = Prepared::new(x.shape, w, plan, layout, orient, ComplexDomain::<$t>::new);
                Some(p.and_then(|p| p.apply(x, threads, out)))
            }
            fn raw_fft(
                plan: &Plan,
                layout: &FftLayout,
                x: ArrayRef<'_, Self>,
                w: ArrayRef<'_, Self>,
                orient: Orientation,
                threads: usize,
                out: &mut [MaybeUninit<Self>],
            ) -> Option<Result<(), ConvError>> {
                Some(fft::correlate_complex_into(
                    plan, layout, x, w, orient, threads, out,
                ))
            }
        }
    };
}
complex_elem!(f32);
complex_elem!(f64);

impl FuzzElem for i64 {
    const INT: bool = true;
    const EPS: f64 = 0.0;
    fn from_parts(re: i64, _im: i64) -> Self {
        re
    }
    fn special(code: u8) -> Self {
        [i64::MIN, i64::MAX, -1][usize::from(code % 3)]
    }
    fn sentinel() -> Self {
        i64::MIN + 0x5a5a
    }
    fn parts(self) -> (f64, f64) {
        (self as f64, 0.0)
    }
    fn prepared(
        _: ArrayRef<'_, Self>,
        _: ArrayRef<'_, Self>,
        _: Plan,
        _: FftLayout,
        _: Orientation,
        _: usize,
        _: &mut [MaybeUninit<Self>],
    ) -> Option<Result<(), ConvError>> {
        None
    }
    fn raw_fft(
        _: &Plan,
        _: &FftLayout,
        _: ArrayRef<'_, Self>,
        _: ArrayRef<'_, Self>,
        _: Orientation,
        _: usize,
        _: &mut [MaybeUninit<Self>],
    ) -> Option<Result<(), ConvError>> {
        None
    }
}

/// Per-axis bounds on the convolved lengths `(n, k)` by rank, so that a case stays within a
/// few million reference multiply-adds.
const LIMITS: [(usize, usize); 3] = [(2048, 300), (40, 12), (10, 5)];

/// One decoded case.
struct Case<T> {
    x: Owned<T>,
    w: Owned<T>,
    nb: usize,
    mode: u8,
    flip: bool,
    conj: bool,
    threads: usize,
    isa: Isa,
    /// Whether inputs may hold NaN/inf (integers: extreme values).
    specials: bool,
}

const MODES: [Mode; 4] = [Mode::Full, Mode::Same, Mode::SameLowCentre, Mode::Valid];

fn decode<T: FuzzElem>(b: &mut Bytes<'_>) -> Case<T> {
    let nconv = b.range(1, 3);
    let nb = b.below(3);
    let (nmax, kmax) = LIMITS[nconv - 1];
    let (mut xs, mut ws) = (Vec::new(), Vec::new());
    for _ in 0..nb {
        let size = b.range(0, 3);
        let (p, q) = match b.u8() % 4 {
            0 => (size, 1),
            1 => (1, size),
            _ => (size, size),
        };
        xs.push(p);
        ws.push(q);
    }
    for _ in 0..nconv {
        // Zero lengths about one case in 32 per axis.
        let zero = b.one_in(32);
        xs.push(if zero && b.bool() {
            0
        } else {
            b.range(1, nmax)
        });
        ws.push(if zero { 0 } else { b.range(1, kmax) });
    }
    let mode = b.u8() % 4;
    let flip = b.bool();
    let conj = b.bool();
    let threads = b.range(1, 3);
    let isas = supported_isas();
    let isa = isas[b.below(isas.len())];
    let specials = b.one_in(8);
    let x = values(b, xs, specials);
    let w = values(b, ws, specials);
    Case {
        x,
        w,
        nb,
        mode,
        flip,
        conj,
        threads,
        isa,
        specials,
    }
}

/// Values from the remaining bytes: small integers in `-16..16` (every float sum is then
/// exact), with NaN/inf (or extreme integers) at some positions when `specials`.
fn values<T: FuzzElem>(b: &mut Bytes<'_>, shape: Vec<usize>, specials: bool) -> Owned<T> {
    let len: usize = shape.iter().product();
    let data = (0..len)
        .map(|_| {
            let (r, i) = (b.u8(), b.u8());
            if specials && r >= 250 {
                T::special(i)
            } else {
                T::from_parts(i64::from(r as i8 >> 3), i64::from(i as i8 >> 3))
            }
        })
        .collect();
    Owned { data, shape }
}

fn array<T>(a: &Owned<T>) -> ArrayRef<'_, T> {
    ArrayRef {
        data: &a.data,
        shape: &a.shape,
    }
}

/// Calls `f` with an output buffer of `len` elements pre-set to the sentinel and returns the
/// elements after `f` returned `Ok`.
fn with_out<T: FuzzElem>(
    len: usize,
    f: impl FnOnce(&mut [MaybeUninit<T>]) -> Option<Result<(), ConvError>>,
) -> Option<Result<Vec<T>, ConvError>> {
    let mut out = vec![MaybeUninit::new(T::sentinel()); len];
    let res = f(&mut out)?;
    Some(res.map(|()| {
        out.into_iter()
            // SAFETY: every element was initialised with the sentinel above, and the core only
            // ever writes valid values of `T` into the buffer.
            .map(|v| {
                #[allow(unsafe_code)]
                // SAFETY: see above.
                unsafe {
                    v.assume_init()
                }
            })
            .collect()
    }))
}

/// 0 finite, 1 NaN, 2 +inf, 3 -inf, per part.
fn class(v: f64) -> u8 {
    if v.is_nan() {
        1
    } else if v == f64::INFINITY {
        2
    } else if v == f64::NEG_INFINITY {
        3
    } else {
        0
    }
}

/// Direct results: bit-for-bit the reference on finite inputs (all sums are exact), the same
/// NaN/inf pattern otherwise (which terms give NaN or inf does not depend on their order).
fn assert_exact<T: FuzzElem>(what: &str, got: &[T], want: &[T], specials: bool) {
    assert_eq!(got.len(), want.len(), "{what}: output length");
    for (i, (&g, &r)) in got.iter().zip(want).enumerate() {
        if T::INT || !specials {
            assert!(g == r, "{what}: element {i}: got {g:?}, want {r:?}");
        } else {
            let ((gr, gi), (rr, ri)) = (g.parts(), r.parts());
            assert_eq!(
                (class(gr), class(gi)),
                (class(rr), class(ri)),
                "{what}: element {i}: got {g:?}, want {r:?}"
            );
            if class(rr) == 0 && class(ri) == 0 {
                assert!(g == r, "{what}: element {i}: got {g:?}, want {r:?}");
            }
        }
    }
}

fn norm2<T: FuzzElem>(v: &[T]) -> f64 {
    v.iter()
        .map(|&e| {
            let (a, b) = e.parts();
            a * a + b * b
        })
        .sum::<f64>()
        .sqrt()
}

/// FFT results: within `64 * eps * log2(N) * ||x||_2 * ||w||_2` of the reference (four times
/// the normwise bound the Python tests assert), with `N` the transform size.
fn assert_close<T: FuzzElem>(what: &str, got: &[T], want: &[T], x: &[T], w: &[T], n: usize) {
    assert_eq!(got.len(), want.len(), "{what}: output length");
    let log = (n.max(2) as f64).log2();
    let tol = 64.0 * T::EPS * log * norm2(x) * norm2(w) + 1e-30;
    for (i, (&g, &r)) in got.iter().zip(want).enumerate() {
        let ((gr, gi), (rr, ri)) = (g.parts(), r.parts());
        let err = (gr - rr).abs().max((gi - ri).abs());
        assert!(
            err <= tol,
            "{what}: element {i}: got {g:?}, want {r:?} (error {err:e} > {tol:e})"
        );
    }
}

/// Decodes a method: direct, whole FFT, overlap-save with fuzzed or default tiles, or what
/// `resolve` picks for 'auto' / 'fft_any'.
fn pick_method<T: FuzzElem>(b: &mut Bytes<'_>, plan: &Plan, case: &Case<T>) -> Method {
    match b.u8() % 6 {
        0 => Method::Direct,
        1 => Method::Fft,
        2 => Method::OverlapSave(Vec::new()),
        3 => Method::OverlapSave(plan.axes.iter().map(|g| b.range(1, g.m + 2)).collect()),
        4 => resolve(&Request::Auto, plan, &case.x.data, &case.w.data, case.isa, 2),
        _ => resolve(&Request::AnyFft, plan, &case.x.data, &case.w.data, case.isa, 2),
    }
}

/// The layout `correlate_with` builds for `method` (`None` for direct).
fn layout_of(method: &Method, plan: &Plan, real: bool) -> Option<FftLayout> {
    match method {
        Method::Direct => None,
        Method::Fft => Some(FftLayout::whole(&plan.axes, real)),
        Method::OverlapSave(block) => {
            let block = if block.is_empty() {
                method::overlap_save_block(plan)
            } else {
                block.clone()
            };
            Some(FftLayout::overlap_save(&plan.axes, &block, real).expect("valid block"))
        }
    }
}

/// Shapes the core must refuse: mismatched ranks, batch sizes that do not broadcast, or a
/// buffer whose length does not match its shape.
fn corrupt<T: FuzzElem>(b: &mut Bytes<'_>, case: &mut Case<T>) {
    match b.u8() % 3 {
        0 => case.w.shape.push(1),
        1 if case.nb > 0 => {
            case.x.shape[0] = 2;
            case.w.shape[0] = 3;
        }
        _ => {
            case.x.data.push(T::from_parts(1, 0));
        }
    }
}

fn correlate_case<T: FuzzElem>(b: &mut Bytes<'_>, real: bool) {
    let mut case: Case<T> = decode(b);
    let corrupted = b.one_in(16);
    if corrupted {
        corrupt(b, &mut case);
    }
    let mode = MODES[usize::from(case.mode)];
    let orient = Orientation {
        flip: case.flip,
        conj: case.conj,
    };
    let (x, w) = (array(&case.x), array(&case.w));
    let direct_res = direct::correlate_on(case.isa, x, w, case.nb, mode, orient, case.threads);
    let empty = case.x.shape[case.nb..]
        .iter()
        .chain(&case.w.shape[case.nb..])
        .any(|&d| d == 0);
    let plan = Plan::new(&case.x.shape, &case.w.shape, case.nb, mode);
    if corrupted || empty {
        assert!(
            direct_res.is_err(),
            "accepted bad shapes: {case_shapes:?}",
            case_shapes = (&case.x.shape, &case.w.shape, case.x.data.len())
        );
        if let Ok(plan) = plan {
            // A valid plan with a mismatched buffer: every method must refuse it.
            let method = pick_method(b, &plan, &case);
            let res = with_out::<T>(plan.out_len(), |out| {
                Some(correlate_with(
                    &method,
                    case.isa,
                    &plan,
                    x,
                    w,
                    orient,
                    case.threads,
                    out,
                ))
            });
            assert!(
                matches!(res, Some(Err(_))),
                "{method:?} accepted a bad buffer"
            );
        }
        return;
    }
    let plan = plan.expect("valid shapes give a plan");
    let want = reference::correlate(&case.x, &case.w, case.nb, case.mode, case.flip, case.conj);
    assert_eq!(plan.out_shape(), want.shape, "output shape");
    let (got, shape) = direct_res.expect("direct accepts valid shapes");
    assert_eq!(shape, want.shape, "direct output shape");
    assert_exact("direct", &got, &want.data, case.specials);

    let method = pick_method(b, &plan, &case);
    let run = |threads: usize| {
        with_out::<T>(plan.out_len(), |out| {
            Some(correlate_with(
                &method, case.isa, &plan, x, w, orient, threads, out,
            ))
        })
        .expect("always runs")
    };
    let res = run(case.threads);
    let layout = layout_of(&method, &plan, real);
    match (&method, res) {
        (Method::Direct, res) => {
            let got = res.expect("direct accepts valid shapes");
            assert_exact("correlate_with direct", &got, &want.data, case.specials);
        }
        (_, Err(e)) => assert!(T::INT, "{method:?} refused valid float input: {e}"),
        (_, Ok(got)) => {
            assert!(!T::INT, "{method:?} accepted integers");
            let layout = layout.expect("FFT layout");
            let n: usize = layout.f.iter().product();
            if !case.specials {
                assert_close("fft", &got, &want.data, &case.x.data, &case.w.data, n);
                // Every FFT layout is documented as thread-count invariant: bit for bit.
                let other = run(if case.threads == 1 { 3 } else { 1 }).expect("ran once");
                let bits = |v: &[T]| {
                    v.iter()
                        .map(|e| e.parts())
                        .map(|(a, b)| (a.to_bits(), b.to_bits()))
                        .collect::<Vec<_>>()
                };
                assert!(
                    bits(&got) == bits(&other),
                    "{method:?}: result depends on the thread count"
                );
            }
            let prepared = with_out::<T>(plan.out_len(), |out| {
                T::prepared(x, w, plan.clone(), layout, orient, case.threads, out)
            });
            let got = prepared
                .expect("float")
                .expect("prepared accepts a valid layout");
            if !case.specials {
                assert_close("prepared", &got, &want.data, &case.x.data, &case.w.data, n);
            }
        }
    }
}

/// The FFT entry point with a layout made of fuzzed numbers: it must refuse or compute, never
/// panic (the values are not checked: such a layout is no convolution).
fn raw_layout<T: FuzzElem>(
    b: &mut Bytes<'_>,
    plan: &Plan,
    x: ArrayRef<'_, T>,
    w: ArrayRef<'_, T>,
    orient: Orientation,
    threads: usize,
) {
    let d = plan.axes.len();
    let field = |b: &mut Bytes<'_>| (0..d).map(|_| b.below(80)).collect::<Vec<usize>>();
    let layout = FftLayout {
        f: field(b),
        tile: field(b),
        extract: field(b),
        base: field(b).into_iter().map(|v| v as isize - 40).collect(),
    };
    let _ = with_out::<T>(plan.out_len(), |out| {
        T::raw_fft(plan, &layout, x, w, orient, threads, out)
    });
}

/// Fuzz target `layout`: the FFT entry points (`fft::correlate_real_into` and
/// `fft::correlate_complex_into`, public) handed a layout of fuzzed numbers with valid shapes.
pub fn run_layout(data: &[u8]) {
    let mut b = Bytes::new(data);
    let kind = b.u8() % 4;
    match kind {
        0 => layout_case::<f32>(&mut b),
        1 => layout_case::<f64>(&mut b),
        2 => layout_case::<Complex<f32>>(&mut b),
        _ => layout_case::<Complex<f64>>(&mut b),
    }
}

fn layout_case<T: FuzzElem>(b: &mut Bytes<'_>) {
    let case: Case<T> = decode(b);
    let mode = MODES[usize::from(case.mode)];
    let Ok(plan) = Plan::new(&case.x.shape, &case.w.shape, case.nb, mode) else {
        return;
    };
    let orient = Orientation {
        flip: case.flip,
        conj: case.conj,
    };
    raw_layout(
        b,
        &plan,
        array(&case.x),
        array(&case.w),
        orient,
        case.threads,
    );
}

/// Fuzz target `correlate`: small arrays of every dtype through every method, checked against
/// the reference.
pub fn run_correlate(data: &[u8]) {
    let mut b = Bytes::new(data);
    match b.u8() % 5 {
        0 => correlate_case::<f32>(&mut b, true),
        1 => correlate_case::<f64>(&mut b, true),
        2 => correlate_case::<Complex<f32>>(&mut b, false),
        3 => correlate_case::<Complex<f64>>(&mut b, false),
        _ => correlate_case::<i64>(&mut b, false),
    }
}

/// Set to skip lengths above 2^63 in [`run_plan`]'s `fast_real_len` call: the overflow this
/// target found there is fixed (the length saturates), so nothing is skipped.
const SKIP_FAST_REAL_LEN_OVERFLOW: bool = false;

/// Set to skip geometries with lengths near `isize::MAX` in [`run_plan`]: the panics this
/// target found there are fixed (`AxisGeometry::new` refuses axes above 2^61), so nothing
/// is skipped.
const SKIP_HUGE_AXIS: bool = false;

/// Fuzz target `plan`: shapes of any size (no data is allocated for them) through planning,
/// the cost model, layouts and validation; nothing may panic or overflow, and an entry point
/// handed buffers that do not match the shapes must refuse them.
pub fn run_plan(data: &[u8]) {
    let mut b = Bytes::new(data);
    // Parsers.
    let _ = Mode::parse(&b.name(&["full", "same", "valid", "same_low_centre"]));
    let _ = Request::parse(&b.name(&["auto", "direct", "fft", "fft_any", "oa"]), None);
    let _ = Isa::parse(&b.name(&["scalar", "avx2", "avx512"]));
    let _ = parallel::resolve_workers(Some(b.wild_size()));
    let _ = sizes::fast_len(b.wild_size());
    let n = b.wild_size();
    // Fixed bug (found by this target): `fast_real_len(n)` computes `2 * fast_len(ceil(n / 2))`
    // unchecked, which overflows for n > 2^63 (a panic with overflow checks, 0 without). Such
    // lengths are skipped while `SKIP_FAST_REAL_LEN_OVERFLOW` is true.
    if !SKIP_FAST_REAL_LEN_OVERFLOW || n <= 1 << 63 {
        let _ = sizes::fast_real_len(n);
    }

    // One axis of any size.
    let (n, k) = (b.wild_size(), b.wild_size());
    let mode = MODES[b.below(4)];
    // Fixed bugs (found by this target): `AxisGeometry::new` accepts an input or output length
    // above `isize::MAX` (only `k` is checked), and `interior` then panics in `clamp` (min >
    // max); `taps` overflows `n - (start + i)` when `n + k/2` passes `isize::MAX` (mode
    // `same`). Such geometries are skipped while `SKIP_HUGE_AXIS` is true.
    let huge = |g: &AxisGeometry| {
        g.m > isize::MAX as usize || g.n.checked_add(g.k).is_none_or(|s| s > isize::MAX as usize)
    };
    if let Some(g) = AxisGeometry::new(n, k, mode)
        .ok()
        .filter(|g| !SKIP_HUGE_AXIS || !huge(g))
    {
        let (lo, hi) = g.interior();
        assert!(lo <= hi && hi <= g.m, "interior {lo}..{hi} of {g:?}");
        for i in [
            0,
            g.m / 2,
            g.m.saturating_sub(1),
            b.wild_size() % g.m.max(1),
        ] {
            let (a, c) = g.taps(i);
            assert!(a <= c && c <= g.k, "taps {a}..{c} of {g:?} at {i}");
        }
    }

    // Whole shapes of any size: numpy allows arrays of up to isize::MAX elements, so those are
    // the shapes Python can hand over (others must be refused, not panic, all the same).
    let nd = b.range(1, 4);
    let nb = b.below(nd + 1);
    let xs: Vec<usize> = (0..nd).map(|_| b.wild_size()).collect();
    let mut ws: Vec<usize> = (0..nd).map(|_| b.wild_size()).collect();
    if b.one_in(8) {
        ws.pop();
    }
    let _ = geometry::checked_size(&xs);
    let _ = geometry::broadcast_batch(&xs[..nb.min(ws.len())], &ws[..nb.min(ws.len())]);
    let Ok(plan) = Plan::new(&xs, &ws, nb, mode) else {
        return;
    };
    let _ = (plan.out_shape(), plan.out_len(), plan.work());
    assert!(
        plan.fits(&xs, &ws),
        "a plan must fit the shapes it was made for"
    );
    let threads = b.range(1, 64);
    for isa in supported_isas() {
        for kind in [Kind::F32, Kind::F64, Kind::C64, Kind::C128, Kind::I64] {
            let _ = method::choose(&plan, kind, isa, threads);
            let _ = method::estimate(&plan, kind, isa, threads);
        }
    }
    let block = method::overlap_save_block(&plan);
    for real in [true, false] {
        let whole = FftLayout::whole(&plan.axes, real);
        let _ = whole.tiles_per_axis(&plan.axes);
        if let Ok(os) = FftLayout::overlap_save(&plan.axes, &block, real) {
            let _ = os.tiles_per_axis(&plan.axes);
        }
    }
    // Tiny buffers for huge shapes: refused before anything is allocated or read.
    let (xd, wd) = (vec![1.0f32; b.below(4)], vec![1.0f32; b.below(4)]);
    let fits =
        geometry::checked_size(&xs) == Ok(xd.len()) && geometry::checked_size(&ws) == Ok(wd.len());
    if fits {
        return;
    }
    let x = ArrayRef {
        data: &xd,
        shape: &xs,
    };
    let w = ArrayRef {
        data: &wd,
        shape: &ws,
    };
    let orient = Orientation {
        flip: b.bool(),
        conj: false,
    };
    let isa = supported_isas()[0];
    for request in [Request::Auto, Request::AnyFft] {
        let _ = resolve(&request, &plan, &xd, &wd, isa, 2);
    }
    for method in [Method::Direct, Method::Fft, Method::OverlapSave(block)] {
        let mut out: Vec<MaybeUninit<f32>> = vec![MaybeUninit::new(0.0); b.below(4)];
        let res = correlate_with(&method, isa, &plan, x, w, orient, threads, &mut out);
        assert!(
            res.is_err(),
            "{method:?} accepted buffers that do not match the shapes"
        );
    }
    let res = direct::correlate_on(isa, x, w, nb, mode, orient, threads);
    assert!(
        res.is_err(),
        "direct::correlate accepted buffers that do not match the shapes"
    );
}
