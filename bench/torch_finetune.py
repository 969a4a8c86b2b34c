#!/usr/bin/python3
"""
bench/torch_finetune.py: the PyTorch side of bench/bench_finetune.c (which starts it, once per
thread count and round). Debian's /usr/bin/python3 with python3-torch 1.13 and
python3-torchvision.

Fine-tunes the top of torchvision's mobilenet_v2 the way a PyTorch user would: the network of
tests/models/gen_torchvision.py's build() (the seeded weights the ONNX file graft loads
holds), its classifier's Linear replaced by a new one of --classes outputs, requires_grad
False on every parameter before features.<--first-trained> (features.16: the last two
inverted-residual blocks, features.18 and the classifier train), model.eval() (frozen batch
norm statistics and no dropout, as graft's default), torch.optim.SGD(lr 0.01, momentum 0.9)
over the trainable parameters, torch.set_num_threads(--threads). One timed step is
zero_grad, forward of the whole network on the batch, cross-entropy, backward, step: autograd
records nothing before the first trainable layer, so the frozen part runs as plain inference.

Input: the deterministic batch of bench/torch_bench.py ((i * 7919) % 2000 / 1000 - 1), labels
i % classes. Output lines, as bench_finetune.c parses them:
  BENCHRESULT load <seconds>, BENCHRESULT t <seconds> per timed step (wall clock) and
  BENCHRESULT cpu <seconds> after it (the process's CPU time in that step: on a loaded
  machine the steadier figure for one thread),
  BENCHRESULT loss <first step's loss> <last step's loss>

Not here: data loading, augmentation, channels_last or TorchScript, any tuning.
"""
import argparse
import os
import sys
import time

import torch
import torch.nn as nn

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "models"))
import gen_torchvision  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--first-trained", type=int, default=16,
                    help="index of the first features block that trains")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    wrapped, _ = gen_torchvision.build("mobilenet_v2")
    net = wrapped.net
    torch.manual_seed(0)
    net.classifier[1] = nn.Linear(net.classifier[1].in_features, args.classes)
    trained = tuple(f"features.{i}." for i in range(args.first_trained, len(net.features)))
    trained += ("classifier.",)
    params = []
    for name, p in net.named_parameters():
        p.requires_grad = name.startswith(trained)
        if p.requires_grad:
            params.append(p)
    net.eval()
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    print(f"BENCHRESULT load {time.perf_counter() - t0}", flush=True)

    N, S = args.batch, args.size
    i = torch.arange(N * 3 * S * S, dtype=torch.int64)
    x = (((i * 7919) % 2000).to(torch.float64) / 1000 - 1).to(torch.float32).reshape(N, 3, S, S)
    y = torch.arange(N, dtype=torch.int64) % args.classes
    loss_fn = nn.CrossEntropyLoss()
    losses = []

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss))

    for _ in range(args.warmup):
        step()
    for _ in range(args.reps):
        a, c = time.perf_counter(), time.process_time()
        step()
        b, d = time.perf_counter(), time.process_time()
        print(f"BENCHRESULT t {b - a}\nBENCHRESULT cpu {d - c}", flush=True)
    print(f"BENCHRESULT loss {losses[0]} {losses[-1]}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
