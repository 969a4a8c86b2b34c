#!/usr/bin/python3
"""
tests/models/gen_torchvision.py: the PyTorch references for graft's model runtime tests
(tests/models/check_models.c) and the ONNX files the model benchmark (bench/bench_models.c)
runs. Needs Debian's python3-torch 1.13, python3-torchvision 0.14, python3-onnx and
python3-numpy: run it with /usr/bin/python3, not a pyenv python.

For each torchvision classifier it builds the network with weights=None and torch.manual_seed(0)
(torchvision's own seeded random init), then draws the batch-norm scales and shifts from a
seeded generator and sets the running statistics from a seeded random batch (see
calibrate_batchnorm: at init every BatchNormalization is an identity, and some nets blow up).
In eval mode, a wrapper returns three named outputs:

  logits    the class scores (the network's own output)
  tap_mid   a block output in the middle of the network (a spatial NCHW tensor)
  features  the input of the final classifier layer: the vector graft taps by default (for
            squeezenet1_1, whose classifier is a 1x1 convolution, the spatial tensor it reads)

taken with forward hooks, so the network's own forward() runs unchanged. It exports the wrapper
with torch.onnx.export at opsets 13 and 17 (constant folding on, dynamic batch axis, input
"input"), checks both files with onnx.checker, and saves, for a seeded batch of 2 random NCHW
images at the training size (224, 299 for inception_v3):

  <model>.opset13.onnx, <model>.opset17.onnx
  <model>.input.npy                       float32 (2, 3, H, W)
  <model>.<output>.npy                    float32, one per output above
  <model>.<H>x<W>.input.npy, ...<output>.npy   the same at a second size, for the models of
                                          OTHER_SIZE (graft runs the 224 export at that size)
  <model>.stamp                           written last; names the script's hash

alexnet and vgg16 (FC_AS_CONV) classify with fully-connected layers on the flattened last map,
which only fits the trained size. At their larger second size the references are those of the
same network with its classifier as convolutions (CS231n, "converting FC layers to CONV
layers"), as graft runs it: the first Linear's weight viewed as (out, C, h, w), the others as
1x1 kernels, so logits and features are maps (N, K, a, b). torchvision's AdaptiveAvgPool2d
exports at 224 as an AveragePool with a 1x1 kernel (checked in the file), an identity at any
size, so the references leave it out, where PyTorch's adaptive pool would shrink the map back
to 6x6 or 7x7: they follow the ONNX graph, which is what graft runs.

The references are computed by the same PyTorch network in float64 (a copy converted with
.double()) and stored as float32, so they carry no float32 rounding of their own: a runtime's
difference from them is its own error. The float32 PyTorch output's distance from them is
printed beside, as the yardstick of what float32 rounding alone costs on each model.

Incremental: a model whose stamp names the current script's code (script_hash: comments and
docstrings left out) is skipped, so `make models` costs nothing the second time and
regenerates everything after a change to the code.

Usage: gen_torchvision.py OUTDIR [--models a,b,...] [--force] [--list]

Not here: pretrained weights (nothing is downloaded), running the ONNX files (the C tests do),
or the model-zoo networks of the issue (those come from libonnx-testdata / the shared dir).
"""
import argparse
import ast
import copy
import hashlib
import os
import sys
import time

# numpy, onnx, torch and torchvision are imported by _frameworks() on first use, so that an
# up-to-date `make models` costs no torch import (seconds on a busy machine).
np = onnx = torch = nn = tvm = None

OPSETS = (13, 17)
BATCH = 2
OUTPUTS = ("logits", "tap_mid", "features")
# Models whose references are also generated at a second input size (the opset-13 export is
# run there: the declared 224 input is overridden by the runtime).
OTHER_SIZE = {"resnet18": 160, "mobilenet_v2": 160, "squeezenet1_1": 160, "alexnet": 256,
              "vgg16": 256}
# Models whose classifier runs as convolutions at a larger size (see the docstring).
FC_AS_CONV = ("alexnet", "vgg16")


def last_linear(seq):
    """The last nn.Linear of a Sequential classifier (the class-score layer)."""
    linears = [m for m in seq.modules() if isinstance(m, nn.Linear)]
    return linears[-1]


MODEL_NAMES = ["alexnet", "vgg16", "resnet18", "resnet50", "squeezenet1_1", "densenet121",
               "googlenet", "inception_v3", "mobilenet_v2", "mobilenet_v3_small",
               "mobilenet_v3_large", "shufflenet_v2_x1_0", "efficientnet_b0", "regnet_y_400mf",
               "mnasnet1_0"]
SPEC = None
Tapped = None


# name -> (constructor, input size, tap_mid module, features module). The features module's
# input (forward pre-hook) is the "features" output; tap_mid is the module's output.
def _spec():
    return {
        "alexnet": (lambda: tvm.alexnet(weights=None), 224,
                    lambda m: m.features[9], lambda m: m.classifier[6]),
        "vgg16": (lambda: tvm.vgg16(weights=None), 224,
                  lambda m: m.features[16], lambda m: m.classifier[6]),
        "resnet18": (lambda: tvm.resnet18(weights=None), 224,
                     lambda m: m.layer2, lambda m: m.fc),
        "resnet50": (lambda: tvm.resnet50(weights=None), 224,
                     lambda m: m.layer2, lambda m: m.fc),
        "squeezenet1_1": (lambda: tvm.squeezenet1_1(weights=None), 224,
                          lambda m: m.features[7], lambda m: m.classifier),
        "densenet121": (lambda: tvm.densenet121(weights=None), 224,
                        lambda m: m.features.transition2, lambda m: m.classifier),
        "googlenet": (lambda: tvm.googlenet(weights=None, aux_logits=False, init_weights=True,
                                            transform_input=False), 224,
                      lambda m: m.inception3b, lambda m: m.fc),
        "inception_v3": (lambda: tvm.inception_v3(weights=None, aux_logits=False,
                                                  init_weights=True, transform_input=False), 299,
                         lambda m: m.Mixed_5d, lambda m: m.fc),
        "mobilenet_v2": (lambda: tvm.mobilenet_v2(weights=None), 224,
                         lambda m: m.features[7], lambda m: last_linear(m.classifier)),
        "mobilenet_v3_small": (lambda: tvm.mobilenet_v3_small(weights=None), 224,
                               lambda m: m.features[4], lambda m: last_linear(m.classifier)),
        "mobilenet_v3_large": (lambda: tvm.mobilenet_v3_large(weights=None), 224,
                               lambda m: m.features[7], lambda m: last_linear(m.classifier)),
        "shufflenet_v2_x1_0": (lambda: tvm.shufflenet_v2_x1_0(weights=None), 224,
                               lambda m: m.stage3, lambda m: m.fc),
        "efficientnet_b0": (lambda: tvm.efficientnet_b0(weights=None), 224,
                            lambda m: m.features[4], lambda m: last_linear(m.classifier)),
        "regnet_y_400mf": (lambda: tvm.regnet_y_400mf(weights=None), 224,
                           lambda m: m.trunk_output.block2, lambda m: m.fc),
        "mnasnet1_0": (lambda: tvm.mnasnet1_0(weights=None), 224,
                       lambda m: m.layers[10], lambda m: last_linear(m.classifier)),
    }


def _frameworks():
    """Imports numpy, onnx, torch and torchvision once, and defines what depends on them."""
    global np, onnx, torch, nn, tvm, SPEC, Tapped
    if SPEC is not None:
        return
    import numpy as np
    import onnx
    import torch
    import torch.nn as nn
    import torchvision.models as tvm

    class Tapped(nn.Module):
        """The network, returning (logits, tap_mid, features) from forward hooks."""

        def __init__(self, net, mid_of, feat_of):
            super().__init__()
            self.net = net
            self._seen = {}
            mid_of(net).register_forward_hook(self._keep_mid)
            feat_of(net).register_forward_pre_hook(self._keep_features)

        def _keep_mid(self, module, inputs, output):
            self._seen["tap_mid"] = output

        def _keep_features(self, module, inputs):
            self._seen["features"] = inputs[0]

        def forward(self, x):
            self._seen.clear()
            logits = self.net(x)
            return logits, self._seen["tap_mid"], self._seen["features"]

    SPEC = _spec()
    assert list(SPEC) == MODEL_NAMES


def calibrate_batchnorm(model, size, seed):
    """
    Draws every BatchNorm2d's affine parameters from a seeded generator, then sets its running
    statistics from one training-mode pass over a seeded random batch. torchvision's init
    leaves them at 1/0 and 0/1, which keeps each BN an identity (a wrong fold of the statistics
    would pass unnoticed) and lets deep nets drift to huge values (inception_v3's logits reach
    1e12, where float32 itself cannot meet a 1e-4 tolerance). Calibrated, every activation stays
    near unit scale. The statistics are not perturbed afterwards: each layer's would then no
    longer match what the layers before it produce, and the mismatch compounds with depth.

    The shifts (beta) centre on +0.5, so about 30% of the units a ReLU follows are cut, not
    half: a random BN+ReLU network with beta = 0 is chaotic (rounding errors grow about 1.5x
    per layer), and on inception_v3 float32 PyTorch itself then misses the float64 logits by
    1.6x the test's tolerance; at +0.5 it uses a quarter of it.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    if not bns:
        return
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in bns:
            C = m.num_features
            m.reset_running_stats()
            m.momentum = None  # cumulative average: one batch gives exactly its statistics
            m.weight.copy_(0.8 + 0.4 * torch.rand(C, generator=g))
            m.bias.copy_(0.5 + 0.1 * torch.randn(C, generator=g))
        x = torch.randn(4, 3, size, size, generator=g)
        model.train()
        model(x)
        for m in bns:
            m.momentum = 0.1
    model.eval()


def build(name):
    """The wrapped network in eval mode, seeded; and its training input size."""
    _frameworks()
    ctor, size, mid_of, feat_of = SPEC[name]
    torch.manual_seed(0)
    net = ctor()
    model = Tapped(net, mid_of, feat_of)
    calibrate_batchnorm(model, size, 1)
    return model.eval(), size


def make_input(size, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(BATCH, 3, size, size, generator=g)


# The tolerance the C test applies: |got - ref| <= ATOL + RTOL * |ref|.
RTOL = ATOL = 1e-4


def reference(model, model64, x):
    """
    float64 outputs (as float32 arrays) and, per output, the float32 run's worst difference
    from them as a fraction of the test's tolerance (above 1: float32 PyTorch would fail).
    model and model64 are the float32 and float64 networks, or any callables standing for them.
    """
    with torch.no_grad():
        out32 = model(x)
        out64 = model64(x.double())
    refs, diffs = {}, {}
    for name, a, b in zip(OUTPUTS, out32, out64):
        refs[name] = b.float().numpy()
        diffs[name] = float(((a.double() - b).abs() / (ATOL + RTOL * b.abs())).max())
    return refs, diffs


def fc_as_conv(model, name):
    """
    The forward of the Tapped `model` (either precision) with its classifier's Linear layers
    as convolutions: (logits, tap_mid, features), the first two spatial maps.
    """
    import torch.nn.functional as F
    net = model.net
    kh, kw = net.avgpool.output_size
    feat_mod = SPEC[name][3](net)

    def forward(x):
        model._seen.clear()
        y = net.features(x)  # the tap_mid hook fires in here
        first, features = True, None
        for mod in net.classifier:
            if mod is feat_mod:
                features = y
            if isinstance(mod, nn.Linear):
                k = (kh, kw) if first else (1, 1)
                y = F.conv2d(y, mod.weight.reshape(mod.out_features, -1, *k), mod.bias)
                first = False
            else:
                y = mod(y)  # ReLU, and Dropout (an identity in eval mode)
        return y, model._seen["tap_mid"], features
    return forward


def check_identity_avgpool(path):
    """Asserts that the export's avgpool is an AveragePool with a 1x1 kernel, stride 1, no pads."""
    m = onnx.load(path, load_external_data=False)
    pools = [n for n in m.graph.node if n.op_type == "AveragePool"]
    assert len(pools) == 1, f"{path}: {len(pools)} AveragePool nodes"
    a = {x.name: onnx.helper.get_attribute_value(x) for x in pools[0].attribute}
    assert list(a.get("kernel_shape", [])) == [1, 1], f"{path}: avgpool kernel {a}"
    assert list(a.get("strides", [1, 1])) == [1, 1] and not any(a.get("pads", [])), a


def export(model, x, path, opset):
    dyn = {"input": {0: "N"}}
    dyn.update({o: {0: "N"} for o in OUTPUTS})
    with torch.no_grad():
        torch.onnx.export(model, x, path, opset_version=opset, do_constant_folding=True,
                          input_names=["input"], output_names=list(OUTPUTS), dynamic_axes=dyn)
    onnx.checker.check_model(path)  # a path, so models over 2 GB would also pass through


def script_hash():
    """
    A hash of this script's code: its syntax tree without docstrings (comments are not in
    it, nor are line numbers), so editing the prose does not regenerate gigabytes of models
    and any change to what the code does does.
    """
    with open(os.path.abspath(__file__), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:16]


def save(path, array):
    np.save(path + ".tmp.npy", np.ascontiguousarray(array, dtype=np.float32))
    os.replace(path + ".tmp.npy", path)


def generate(name, outdir, stamp):
    t0 = time.time()
    model, size = build(name)
    model64 = copy.deepcopy(model).double()
    x = make_input(size, 1234)
    base = os.path.join(outdir, name)
    for opset in OPSETS:
        tmp = f"{base}.opset{opset}.tmp.onnx"
        export(model, x, tmp, opset)
        os.replace(tmp, f"{base}.opset{opset}.onnx")
    refs, diffs = reference(model, model64, x)
    save(base + ".input.npy", x.numpy())
    for o in OUTPUTS:
        save(f"{base}.{o}.npy", refs[o])
    lines = [f"{name}: {size}x{size}: " + ", ".join(
        f"{o} {tuple(refs[o].shape)} |max| {np.abs(refs[o]).max():.3g} "
        f"f32 uses {diffs[o]:.2g} of tol" for o in OUTPUTS)]
    if name in OTHER_SIZE:
        s = OTHER_SIZE[name]
        x2 = make_input(s, 4321)
        if name in FC_AS_CONV:
            check_identity_avgpool(f"{base}.opset13.onnx")
            refs2, diffs2 = reference(fc_as_conv(model, name), fc_as_conv(model64, name), x2)
        else:
            refs2, diffs2 = reference(model, model64, x2)
        save(f"{base}.{s}x{s}.input.npy", x2.numpy())
        for o in OUTPUTS:
            save(f"{base}.{s}x{s}.{o}.npy", refs2[o])
        lines.append(f"{name}: {s}x{s}: " + ", ".join(
            f"{o} {tuple(refs2[o].shape)} f32 uses {diffs2[o]:.2g} of tol" for o in OUTPUTS))
    # A new file, not a rewrite in place: a copy of the models directory made of hard links
    # must not see its stamps change.
    with open(base + ".stamp.tmp", "w") as f:
        f.write(stamp + "\n")
    os.replace(base + ".stamp.tmp", base + ".stamp")
    for line in lines:
        print(line)
    print(f"{name}: done in {time.time() - t0:.1f} s", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", nargs="?")
    ap.add_argument("--models", help="comma-separated subset (default: all)")
    ap.add_argument("--force", action="store_true", help="regenerate even when up to date")
    ap.add_argument("--list", action="store_true", help="print the model names and exit")
    args = ap.parse_args()
    if args.list:
        print("\n".join(MODEL_NAMES))
        return 0
    if not args.outdir:
        ap.error("OUTDIR is required")
    names = MODEL_NAMES
    if args.models:
        names = [n for n in args.models.split(",") if n]
        unknown = [n for n in names if n not in MODEL_NAMES]
        if unknown:
            ap.error(f"unknown model(s) {', '.join(unknown)}; --list names them")
    os.makedirs(args.outdir, exist_ok=True)
    stamp = script_hash()
    for name in names:
        stamp_path = os.path.join(args.outdir, name + ".stamp")
        if not args.force and os.path.exists(stamp_path):
            with open(stamp_path) as f:
                if f.read().strip() == stamp:
                    continue
        _frameworks()
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        generate(name, args.outdir, stamp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
