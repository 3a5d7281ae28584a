#!/usr/bin/env bash
# Runs the fastconv fuzz targets for a bounded time on a stable Rust toolchain.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# SECONDS (default 60) is the total time, shared evenly by the targets (default: all of
# them: correlate, layout, conv, pool and plan). Needs only cargo and a C++ compiler
# (libfuzzer-sys builds libFuzzer from source); nothing is installed. The targets are built
# as cargo-fuzz would build them (sanitizer-coverage instrumentation, `--cfg fuzzing`, debug
# assertions and overflow checks) but without a sanitizer, which needs nightly:
# `-Cpasses=sancov-module` and `-Cllvm-args` are stable flags. With cargo-fuzz and nightly
# installed, `cargo fuzz run correlate` works on the same crate.
#
# A finding stops the run: libFuzzer prints the panic and writes the input to
# fuzz/artifacts/TARGET/; rerun it with `fuzz/target/<triple>/release/TARGET FILE`, shrink it
# with `-minimize_crash=1 -runs=10000 FILE`. The corpus grows in fuzz/corpus/TARGET (ignored by
# git); delete it for a cold start. Extra libFuzzer flags: FUZZ_FLAGS="-jobs=2 ...".
set -euo pipefail
cd "$(dirname "$0")"

seconds="${1:-60}"
shift || true
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=(correlate layout conv pool plan)
fi

triple="$(rustc -vV | sed -n 's/^host: //p')"
# Coverage feedback as cargo-fuzz configures it (inline 8-bit counters, PC table, comparison
# tracing, stack depth); `--target` keeps the flags off build scripts and proc macros.
export RUSTFLAGS="${RUSTFLAGS:-} --cfg fuzzing -Cpasses=sancov-module \
-Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
-Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares \
-Cllvm-args=-sanitizer-coverage-stack-depth -Cdebug-assertions -Coverflow-checks"
cargo build --locked --release --target "$triple" --bins

per=$(( seconds / ${#targets[@]} ))
per=$(( per > 0 ? per : 1 ))
status=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    echo "== fuzzing $t for ${per}s"
    # -max_len keeps inputs (and the corpus) small; -timeout flags hangs; -rss_limit_mb and
    # -malloc_limit_mb flag runaway memory (a case never needs more than a few MiB).
    # shellcheck disable=SC2086
    "target/$triple/release/$t" "corpus/$t" -max_total_time="$per" -max_len=4096 \
        -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=1024 -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" ${FUZZ_FLAGS:-} || status=$?
    if [ "$status" -ne 0 ]; then
        echo "fuzz target $t found a problem (exit $status); see fuzz/artifacts/$t/" >&2
        exit "$status"
    fi
done
