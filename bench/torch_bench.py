#!/usr/bin/python3
"""
bench/torch_bench.py: the PyTorch side of bench_models (bench/bench_models.c starts it, one
process per model, batch and thread count, so that its peak RSS is its own). Debian's
/usr/bin/python3 with python3-torch 1.13 and python3-torchvision.

Builds the same network the ONNX file holds: tests/models/gen_torchvision.py's build() (the
torchvision model with torch.manual_seed(0) and its batch-norm calibration), in eval mode; runs
the plain torchvision module (not the export wrapper) under torch.inference_mode() in eager
mode, NCHW, with torch.set_num_threads(--threads): what a PyTorch user gets without tuning.
Input, warm-up, timing and output lines are those of bench/ort_bench.js:
  BENCHRESULT load <seconds>, BENCHRESULT t <seconds> per timed run,
  BENCHRESULT logits <K> <sum |row 0|> <v0> ... <v15>

Not here: TorchScript, channels_last or oneDNN graph modes (not the default path), statistics.
"""
import argparse
import os
import sys
import time

import torch

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "models"))
import gen_torchvision  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True, help="torchvision model name")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--min-reps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=2)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    wrapped, _ = gen_torchvision.build(args.name)
    net = wrapped.net.eval()
    print(f"BENCHRESULT load {time.perf_counter() - t0}", flush=True)

    N, S = args.batch, args.size
    count = N * 3 * S * S
    i = torch.arange(count, dtype=torch.int64)
    # In float64, then rounded once, as the C and JavaScript sides do.
    x = (((i * 7919) % 2000).to(torch.float64) / 1000 - 1).to(torch.float32).reshape(N, 3, S, S)
    del i
    with torch.inference_mode():
        out = None
        for _ in range(args.warmup):
            a = time.perf_counter()
            out = net(x)
            if time.perf_counter() - a > 1.0:  # one long run warms up enough
                break
        start = time.perf_counter()
        rep = 0
        while True:
            a = time.perf_counter()
            out = net(x)
            b = time.perf_counter()
            print(f"BENCHRESULT t {b - a}", flush=True)
            rep += 1
            if rep >= args.min_reps and b - start >= args.seconds:
                break
    row = out[0]
    first = " ".join(f"{float(v):.9g}" for v in row[:16])
    print(f"BENCHRESULT logits {row.numel()} {float(row.abs().sum())} {first}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
