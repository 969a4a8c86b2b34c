#!/usr/bin/env bash
# run_gemm.sh: runs bench_gemm once per graft ISA this CPU has, each against OpenBLAS on the same
# ISA in the same process: graft avx2 vs OpenBLAS's Haswell kernels, graft avx512 vs the AVX-512
# kernels OpenBLAS picks for itself (Cooperlake here), graft neon on aarch64.
#
# stdout gets only the JSON lines (also written to $BUILD/bench/gemm.jsonl), so that
# `make bench-gemm | grep '^{'` is exactly the data; progress and the closing markdown table go
# to stderr. It builds nothing (make bench-gemm does) and fails when any run fails, including
# graft's correctness check. BENCH_QUICK=1 makes the whole run take well under a minute.
set -euo pipefail

BUILD=${BUILD:-build}
BENCH="$BUILD/bench/bench_gemm"
OUT="$BUILD/bench/gemm.jsonl"

if [[ ! -x "$BENCH" ]]; then
    echo "run_gemm.sh: $BENCH not found; build it with 'make bench-gemm'" >&2
    exit 1
fi

quick_args=()
if [[ -n "${BENCH_QUICK:-}" && "${BENCH_QUICK}" != 0 ]]; then
    quick_args=(--quick)
fi

# The ISAs to run, by what the kernel reports in /proc/cpuinfo (it hides what the OS does not
# enable). bench_gemm would also refuse an unavailable ISA, but with an error, not a skip.
cpu_flags=" $(grep -m1 -E '^(flags|Features)' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
has_flags() {
    local f
    for f in "$@"; do
        [[ "$cpu_flags" == *" $f "* ]] || return 1
    done
}

: >"$OUT"
run() { # run ISA: one bench_gemm process, OpenBLAS's environment as the caller arranged it
    local isa=$1
    shift
    echo "run_gemm.sh: graft $isa ($*)" >&2
    "$@" "$BENCH" --isa "$isa" "${quick_args[@]}" | tee -a "$OUT"
}

ran=0
case "$(uname -m)" in
x86_64 | i?86)
    if has_flags avx2 fma; then
        # OpenBLAS's Haswell kernels are its AVX2 ones; keep a caller's choice of core.
        export OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-Haswell}
        run avx2 env OPENBLAS_CORETYPE="$OPENBLAS_CORETYPE"
        ran=$((ran + 1))
    else
        echo "run_gemm.sh: skipping avx2: CPU lacks AVX2/FMA" >&2
    fi
    if has_flags avx512f avx512vl avx512dq avx512bw; then
        # Without these, OpenBLAS detects the core and sizes its blocks for it.
        run avx512 env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE
        ran=$((ran + 1))
    else
        echo "run_gemm.sh: skipping avx512: CPU lacks AVX-512 F/VL/DQ/BW" >&2
    fi
    ;;
aarch64 | arm64)
    run neon env
    ran=$((ran + 1))
    ;;
*)
    run scalar env
    ran=$((ran + 1))
    ;;
esac

if ((ran == 0)); then
    run scalar env
fi

# The summary, from the JSON we just wrote. Each field is pulled out by name, so added fields
# or a different order do not break it.
awk '
function field(line, key,    m) {
    if (!match(line, "\"" key "\":(\"[^\"]*\"|[^,}]*)")) return "?"
    m = substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
    gsub(/"/, "", m)
    return m
}
BEGIN {
    print ""
    print "| case | threads | isa | graft GF/s | ref GF/s | ref | ratio | graft %peak | ref %peak |"
    print "|---|---:|---|---:|---:|---|---:|---:|---:|"
}
/^\{/ {
    printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", field($0, "case"),
        field($0, "threads"), field($0, "isa"), field($0, "graft"), field($0, "ref"),
        field($0, "ref_name"), field($0, "ratio"), field($0, "graft_pct_peak"),
        field($0, "ref_pct_peak")
}
' "$OUT" >&2
echo "run_gemm.sh: JSON lines in $OUT" >&2
