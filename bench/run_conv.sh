#!/usr/bin/env bash
# run_conv.sh: runs bench_conv once per graft ISA this CPU has, each against oneDNN capped to the
# same ISA in the same process: graft avx2 vs oneDNN with ONEDNN_MAX_CPU_ISA=AVX2, graft avx512
# vs whatever oneDNN picks for itself (its AVX-512 kernels here), graft neon on aarch64.
# oneDNN's thread count is set by bench_conv itself (omp_set_num_threads, per thread count).
#
# stdout gets only the JSON lines (also written to $BUILD/bench/conv.jsonl), so that
# `make bench-conv | grep '^{'` is exactly the data; progress and the closing markdown table go
# to stderr. Arguments are passed on to every bench_conv run (e.g. --cases, --batch). It builds
# nothing (make bench-conv does) and fails when any run fails, including graft's correctness
# check. BENCH_QUICK=1 makes the whole run take about two minutes.
set -euo pipefail

BUILD=${BUILD:-build}
BENCH="$BUILD/bench/bench_conv"
OUT="$BUILD/bench/conv.jsonl"

if [[ ! -x "$BENCH" ]]; then
    echo "run_conv.sh: $BENCH not found; build it with 'make bench-conv'" >&2
    exit 1
fi

quick_args=()
if [[ -n "${BENCH_QUICK:-}" && "${BENCH_QUICK}" != 0 ]]; then
    quick_args=(--quick)
fi

# The ISAs to run, by what the kernel reports in /proc/cpuinfo (it hides what the OS does not
# enable). bench_conv would also refuse an unavailable ISA, but with an error, not a skip.
cpu_flags=" $(grep -m1 -E '^(flags|Features)' /proc/cpuinfo 2>/dev/null | cut -d: -f2) "
has_flags() {
    local f
    for f in "$@"; do
        [[ "$cpu_flags" == *" $f "* ]] || return 1
    done
}

: >"$OUT"
run() { # run ISA ENV...: one bench_conv process, oneDNN's environment as given
    local isa=$1
    shift
    echo "run_conv.sh: graft $isa ($*)" >&2
    "$@" "$BENCH" --isa "$isa" "${quick_args[@]}" "${bench_args[@]}" | tee -a "$OUT"
}
bench_args=("$@")

ran=0
case "$(uname -m)" in
x86_64 | i?86)
    if has_flags avx2 fma; then
        # Keep a caller's cap; DNNL_MAX_CPU_ISA is the older name oneDNN 2.x still reads.
        run avx2 env -u DNNL_MAX_CPU_ISA ONEDNN_MAX_CPU_ISA="${ONEDNN_MAX_CPU_ISA:-AVX2}"
        ran=$((ran + 1))
    else
        echo "run_conv.sh: skipping avx2: CPU lacks AVX2/FMA" >&2
    fi
    if has_flags avx512f avx512vl avx512dq avx512bw; then
        # Uncapped: oneDNN takes the best kernels it has for this CPU.
        run avx512 env -u ONEDNN_MAX_CPU_ISA -u DNNL_MAX_CPU_ISA
        ran=$((ran + 1))
    else
        echo "run_conv.sh: skipping avx512: CPU lacks AVX-512 F/VL/DQ/BW" >&2
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
# or a different order do not break it; fields a line lacks (GB/s outside depthwise) show "".
awk '
function field(line, key,    m) {
    if (!match(line, "\"" key "\":(\"[^\"]*\"|[^,}]*)")) return ""
    m = substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
    gsub(/"/, "", m)
    return m
}
BEGIN {
    print ""
    print "| case | threads | isa | algo | ref impl | graft ms | ref ms | ratio | graft GF/s |" \
          " ref GF/s | graft GB/s | mem GB/s |"
    print "|---|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
}
/^\{/ {
    printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
        field($0, "case"), field($0, "threads"), field($0, "isa"), field($0, "algo"),
        field($0, "ref_impl"), field($0, "graft"), field($0, "ref"), field($0, "ratio"),
        field($0, "graft_gflop_s"), field($0, "ref_gflop_s"), field($0, "graft_gbps"),
        field($0, "mem_gbps")
}
' "$OUT" >&2
echo "run_conv.sh: JSON lines in $OUT (ratio = ref / graft: > 1 means graft is faster)" >&2
