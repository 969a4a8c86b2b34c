#!/usr/bin/env bash
# run.sh FAMILY [ARGS...]: runs bench/bench_FAMILY once per graft ISA this CPU has, each against
# its reference library held to the same ISA, in the same process:
#   gemm  OpenBLAS: graft avx2 vs its Haswell kernels (OPENBLAS_CORETYPE=Haswell), graft avx512
#         vs the AVX-512 kernels it picks for itself (Cooperlake here);
#   conv  oneDNN: graft avx2 vs ONEDNN_MAX_CPU_ISA=AVX2, graft avx512 vs oneDNN uncapped (its
#         thread count is set by bench_conv itself).
#   models  ONNX Runtime and PyTorch, each in its own process (bench_models starts them): only
#         graft's best ISA runs, as the references pick their own.
# graft neon runs on aarch64. ARGS go to every run (e.g. --cases, --batch).
#
# stdout gets only the JSON lines (also written to $BUILD/bench/FAMILY.jsonl), so that
# `make bench-FAMILY | grep '^{'` is exactly the data; progress and the closing markdown table
# go to stderr. It builds nothing (make bench-FAMILY does) and fails when any run fails,
# including graft's correctness check. BENCH_QUICK=1 runs fewer repetitions.
set -euo pipefail

FAMILY=${1:?usage: run.sh gemm|conv|models [ARGS...]}
shift
bench_args=("$@")
BUILD=${BUILD:-build}
BENCH="$BUILD/bench/bench_$FAMILY"
OUT="$BUILD/bench/$FAMILY.jsonl"
me="run.sh $FAMILY"

case "$FAMILY" in
gemm)
    # Keep a caller's choice of core; without both variables OpenBLAS detects the core and
    # sizes its blocks for it.
    env_avx2=(OPENBLAS_CORETYPE="${OPENBLAS_CORETYPE:-Haswell}")
    env_avx512=(-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)
    columns="case threads isa graft ref ref_name ratio graft_pct_peak ref_pct_peak"
    ;;
conv)
    # Keep a caller's cap; DNNL_MAX_CPU_ISA is the older name oneDNN 2.x still reads.
    env_avx2=(-u DNNL_MAX_CPU_ISA ONEDNN_MAX_CPU_ISA="${ONEDNN_MAX_CPU_ISA:-AVX2}")
    env_avx512=(-u ONEDNN_MAX_CPU_ISA -u DNNL_MAX_CPU_ISA)
    columns="case threads isa algo ref_impl graft ref ratio graft_gflop_s ref_gflop_s"
    columns="$columns graft_gbps mem_gbps"
    ;;
models)
    columns="case threads ref_name graft ref ratio graft_rss_mb ref_rss_mb graft_act_mb"
    env_avx2=()
    env_avx512=()
    best_only=1
    ;;
*)
    echo "$me: unknown family (gemm, conv or models)" >&2
    exit 2
    ;;
esac

if [[ ! -x "$BENCH" ]]; then
    echo "$me: $BENCH not found; build it with 'make bench-$FAMILY'" >&2
    exit 1
fi

quick_args=()
if [[ -n "${BENCH_QUICK:-}" && "${BENCH_QUICK}" != 0 ]]; then
    quick_args=(--quick)
fi

# The ISAs to run, by what the kernel reports in /proc/cpuinfo (it hides what the OS does not
# enable). The bench would also refuse an unavailable ISA, but with an error, not a skip.
cpu_flags=" $(grep -m1 -E '^(flags|Features)' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
has_flags() {
    local f
    for f in "$@"; do
        [[ "$cpu_flags" == *" $f "* ]] || return 1
    done
}

: >"$OUT"
run() { # run ISA ENV...: one bench process, the reference's environment as given
    local isa=$1
    shift
    echo "$me: graft $isa (env $*)" >&2
    env "$@" "$BENCH" --isa "$isa" "${quick_args[@]}" "${bench_args[@]}" | tee -a "$OUT"
}

ran=0
case "$(uname -m)" in
x86_64 | i?86)
    if [[ -n "${best_only:-}" ]] && has_flags avx512f avx512vl avx512dq avx512bw; then
        echo "$me: avx2 left out: only the best ISA runs for $FAMILY" >&2
    elif has_flags avx2 fma; then
        run avx2 "${env_avx2[@]}"
        ran=$((ran + 1))
    else
        echo "$me: skipping avx2: CPU lacks AVX2/FMA" >&2
    fi
    if has_flags avx512f avx512vl avx512dq avx512bw; then
        run avx512 "${env_avx512[@]}"
        ran=$((ran + 1))
    else
        echo "$me: skipping avx512: CPU lacks AVX-512 F/VL/DQ/BW" >&2
    fi
    ;;
aarch64 | arm64)
    run neon
    ran=$((ran + 1))
    ;;
esac
if ((ran == 0)); then
    run scalar
fi

# The summary, from the JSON just written. Each field is pulled out by name, so added fields
# or a different order do not break it; a field a line lacks shows empty.
awk -v columns="$columns" '
function field(line, key,    m) {
    if (!match(line, "\"" key "\":(\"[^\"]*\"|[^,}]*)")) return ""
    m = substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
    gsub(/"/, "", m)
    return m
}
BEGIN {
    n = split(columns, col, " ")
    head = "|"; rule = "|"
    for (i = 1; i <= n; i++) { head = head " " col[i] " |"; rule = rule "---|" }
    print ""; print head; print rule
}
/^\{/ {
    row = "|"
    for (i = 1; i <= n; i++) row = row " " field($0, col[i]) " |"
    print row
}
' "$OUT" >&2
echo "$me: JSON lines in $OUT (ratio > 1 means graft is faster)" >&2
