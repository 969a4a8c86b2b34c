#!/usr/bin/python3
"""
tests/finetune/gen_grads.py: PyTorch autograd references for graft's trainable top
(include/graft/finetune.h), checked by tests/finetune/check_torch_grads.c. Needs Debian's
python3-torch 1.13, python3-torchvision 0.14, python3-onnx and python3-numpy: run it with
/usr/bin/python3, not a pyenv python.

For each case below it builds a small seeded network whose last layer is an nn.Linear named
"fc", draws its batch-norm affine parameters and running statistics from a seeded generator
(so that no BatchNormalization is an identity), and writes into OUTDIR/<case>/:

  model.onnx        the network in eval mode, exported with do_constant_folding=False and
                    training=TrainingMode.PRESERVE: PyTorch's eval-mode peephole would fold
                    every BatchNorm into its Conv, and constant folding would rename weights;
                    this way every BatchNormalization stays a node of its own and the
                    initializer names are the state_dict names (checked here). Dynamic batch
                    axis, input "input", output "logits".
  input.npy         float32 (N, C, H, W)
  labels.npy        int64 (N), in [0, K)
  logits.npy        float32 (N, K)
  loss.npy          float32 (1): the mean loss
  grad.<name>.npy   float32, the gradient of the mean loss for every parameter of the
                    state_dict (fc.weight and fc.bias included: the C test puts fc's weights
                    into graft's new classifier and compares its gradients with these)
  input_grad.npy    float32 (N, C, H, W), the gradient with respect to the input
  freeze_grad.npy   float32, the gradient with respect to the freeze tensor (below): the
                    input gradient of the top graft builds with that freeze point
  fc.weight.npy, fc.bias.npy   the classifier's weights (K, D) and (K): the C test gives them
                    to graft's new classifier
  case.txt          "key value..." lines: onnx, N, C, H, W, K, loss (softmax | hinge),
                    smoothing, freeze (an ONNX tensor every path from the input to the
                    classifier goes through, checked here), params (every parameter but fc's,
                    count then names), after (those downstream of the freeze tensor: the ones
                    graft trains with that freeze point), opset
  stamp             written last; names the script's hash

Logits, loss and gradients come from a float64 copy of the network (model.double()) on the
float64 input, stored as float32: they carry no float32 rounding of their own, so graft's
difference from them is graft's error. Beside each case the script prints how far the float32
PyTorch gradients are from them (the yardstick of float32 rounding alone).

Cases: cnn (conv + BN + ReLU, MaxPool, an asymmetric dilated strided conv, a grouped conv,
AveragePool with padding left out of the count, 1x1 conv + ReLU6 (exported as Relu + Clip),
a padded MaxPool 3x3, global average pool, fc; H != W), mbv2 (a stem and torchvision's own
InvertedResidual, expand ratio 6, with its residual Add and again at stride 2, then
ReduceMean), branches (inception-like Concat of three branches with SiLU, Sigmoid, Tanh,
LeakyReLU, HardSigmoid and HardSwish; opset 17, where HardSwish is an operator), cnn_smooth
(cnn with label smoothing 0.1), cnn_hinge (cnn with torch.nn.MultiMarginLoss), avgpool_pad
(AveragePool with the padding counted, which PyTorch exports as Pad + AveragePool: its own
case, so that a missing Pad backward fails it alone), shuffle (ShuffleNetV2 blocks: channel
Slice and shuffle), lrn (AlexNet's Conv + ReLU + LRN + overlapping MaxPool, twice, LRN sizes
5 and 3, with alphas large enough to matter; ONNX LRN nodes) and lrn_even (the same with sizes
4 and 2, where ONNX's window is PyTorch's mirrored: see onnx_lrn_module).

Incremental like tests/models/gen_torchvision.py: a case whose stamp names the current
script's code is skipped.

Usage: gen_grads.py OUTDIR [--cases a,b] [--force] [--list]

Not here: running graft (the C test does), optimiser steps (graft_top_step is checked against
the formula and the export against ONNX Runtime and tests/finetune/torch_run_onnx.py).
"""
import argparse
import ast
import copy
import hashlib
import os
import sys
import time
import warnings

np = onnx = torch = nn = None


def _frameworks():
    global np, onnx, torch, nn
    if torch is not None:
        return
    import numpy as np
    import onnx
    import torch
    import torch.nn as nn


# ---- the networks ------------------------------------------------------------------------


def make_cnn(K):
    class SmallCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(8)
            self.pool1 = nn.MaxPool2d(2)
            # Asymmetric kernel, stride 2, dilation along W only.
            self.conv2 = nn.Conv2d(8, 12, (5, 3), stride=2, padding=(2, 2), dilation=(1, 2))
            self.bn2 = nn.BatchNorm2d(12)
            self.conv3 = nn.Conv2d(12, 12, 3, padding=1, groups=2)
            self.pool2 = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)
            self.conv4 = nn.Conv2d(12, 16, 1)
            self.pool3 = nn.MaxPool2d(3, stride=1, padding=1)
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(16, K)
            self.freeze = nn.Identity()

        def forward(self, x):
            x = torch.relu(self.bn1(self.conv1(x)))
            x = self.freeze(self.pool1(x))
            x = torch.relu(self.bn2(self.conv2(x)))
            x = torch.relu(self.conv3(x))
            x = self.pool2(x)
            x = nn.functional.relu6(self.conv4(x))
            x = self.pool3(x)
            x = torch.flatten(self.gap(x), 1)
            return self.fc(x)

    return SmallCNN(), "pool1"


def make_avgpool_pad(K):
    """
    AvgPool2d with count_include_pad=True and padding: PyTorch exports it as a Pad node (zeros)
    before an AveragePool without pads, so this case needs a Pad that trains.
    """
    class AvgPoolPad(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 6, 3, padding=1)
            self.pool = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=True)
            self.conv2 = nn.Conv2d(6, 8, 3, padding=1)
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(8, K)
            self.freeze = nn.Identity()

        def forward(self, x):
            x = self.pool(torch.relu(self.freeze(self.conv1(x))))
            x = torch.relu(self.conv2(x))
            return self.fc(torch.flatten(self.gap(x), 1))

    return AvgPoolPad(), "conv1"


def make_mbv2(K):
    from torchvision.models.mobilenetv2 import InvertedResidual
    from torchvision.ops.misc import Conv2dNormActivation

    class SmallMobileNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = Conv2dNormActivation(3, 16, stride=1, norm_layer=nn.BatchNorm2d,
                                             activation_layer=nn.ReLU6)
            self.block1 = InvertedResidual(16, 16, stride=1, expand_ratio=6)
            self.block2 = InvertedResidual(16, 24, stride=2, expand_ratio=6)
            self.fc = nn.Linear(24, K)
            self.freeze = nn.Identity()

        def forward(self, x):
            x = self.block2(self.block1(self.freeze(self.stem(x))))
            return self.fc(x.mean((2, 3)))

    net = SmallMobileNetV2()
    assert net.block1.use_res_connect and not net.block2.use_res_connect
    return net, "stem"


def make_branches(K):
    class Branches(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
            self.stem_bn = nn.BatchNorm2d(8)
            self.a = nn.Conv2d(8, 6, 1)
            self.b = nn.Conv2d(8, 6, 3, padding=1, bias=False)
            self.b_bn = nn.BatchNorm2d(6)
            self.c_pool = nn.MaxPool2d(3, stride=1, padding=1)
            self.c = nn.Conv2d(8, 4, 1)
            self.mix = nn.Conv2d(16, 10, 1)
            self.down = nn.Conv2d(10, 12, 3, stride=2, padding=1)
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(12, K)
            self.freeze = nn.Identity()

        def forward(self, x):
            x = self.freeze(nn.functional.silu(self.stem_bn(self.stem(x))))
            a = torch.sigmoid(self.a(x))
            b = torch.tanh(self.b_bn(self.b(x)))
            c = nn.functional.hardsigmoid(self.c(self.c_pool(x)))
            x = torch.cat([a, b, c], 1)
            x = nn.functional.leaky_relu(self.mix(x), 0.1)
            x = nn.functional.hardswish(self.down(x))
            return self.fc(torch.flatten(self.gap(x), 1))

    return Branches(), "stem_silu"


def make_shuffle(K):
    from torchvision.models.shufflenetv2 import InvertedResidual

    class SmallShuffleNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Conv2d(3, 16, 3, padding=1, bias=False)
            self.stem_bn = nn.BatchNorm2d(16)
            self.stem_act = nn.ReLU()
            self.block1 = InvertedResidual(16, 16, 1)  # chunk (a channel Slice) + shuffle
            self.block2 = InvertedResidual(16, 32, 2)  # two branches + shuffle
            self.fc = nn.Linear(32, K)
            self.freeze = nn.Identity()

        def forward(self, x):
            x = self.freeze(self.stem_act(self.stem_bn(self.stem(x))))
            x = self.block2(self.block1(x))
            return self.fc(x.mean((2, 3)))

    return SmallShuffleNet(), "stem_act"


def onnx_lrn_module(size, alpha, beta, k):
    """
    ONNX's LRN as a module: torch.nn.LocalResponseNorm itself for an odd size, where the two
    windows agree; for an even size PyTorch pads size // 2 channels before c and
    (size - 1) // 2 after, ONNX floor((size - 1) / 2) before and ceil((size - 1) / 2) after,
    the mirror image, so it runs PyTorch's on the channels reversed. torch.onnx would trace
    local_response_norm into a Pad / AvgPool subgraph; under export this writes one LRN node.
    """
    class LRNNode(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, size, alpha, beta, k):
            return nn.functional.local_response_norm(x, size, alpha, beta, k)

        @staticmethod
        def symbolic(g, x, size, alpha, beta, k):
            # torch 1.13 hands a Function's symbolic the raw graph, whose op() it calls
            # deprecated; it is the documented way to write a custom node in this version.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                return g.op("LRN", x, size_i=size, alpha_f=alpha, beta_f=beta, bias_f=k)

    class OnnxLRN(nn.Module):
        def __init__(self):
            super().__init__()
            self.lrn = nn.LocalResponseNorm(size, alpha, beta, k)

        def forward(self, x):
            if torch.onnx.is_in_onnx_export():
                return LRNNode.apply(x, size, alpha, beta, k)
            if size % 2:
                return self.lrn(x)
            return self.lrn(x.flip(1)).flip(1)

    return OnnxLRN()


def lrn_reference(x, size, alpha, beta, k):
    """ONNX LRN from the operator's definition, in numpy float64 (the check of the above)."""
    C = x.shape[1]
    y = np.empty_like(x)
    for c in range(C):
        first = max(0, c - (size - 1) // 2)
        last = min(C - 1, c + -(-(size - 1) // 2))
        s = (x[:, first:last + 1] ** 2).sum(axis=1)
        y[:, c] = x[:, c] / (k + alpha / size * s) ** beta
    return y


def make_lrn(K, sizes=(5, 3)):
    """
    AlexNet's pattern, small: Conv + ReLU + LRN + overlapping MaxPool, twice, with LRN sizes
    `sizes`. The alphas are far above AlexNet's 1e-4, so that the normalisation, and its
    cross-channel term above all, moves the gradients (by about half of their largest value
    here); 10 and 12 channels leave vector tails. The freeze tensor is the first ReLU's output:
    the partial top starts with an LRN, so the gradient at the freeze tensor comes out of one.
    """
    class SmallAlexNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 10, 3, padding=1)
            self.relu1 = nn.ReLU()
            self.lrn1 = onnx_lrn_module(sizes[0], 0.5, 0.75, 2.0)
            self.pool1 = nn.MaxPool2d(3, stride=2)
            self.conv2 = nn.Conv2d(10, 12, 3, padding=1)
            self.lrn2 = onnx_lrn_module(sizes[1], 1.0, 0.75, 1.0)
            self.pool2 = nn.MaxPool2d(2)
            self.conv3 = nn.Conv2d(12, 16, 1)
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(16, K)
            self.freeze = nn.Identity()

        def forward(self, x):
            x = self.freeze(self.relu1(self.conv1(x)))
            x = self.pool1(self.lrn1(x))
            x = self.pool2(self.lrn2(torch.relu(self.conv2(x))))
            x = torch.relu(self.conv3(x))
            return self.fc(torch.flatten(self.gap(x), 1))

    g = torch.Generator().manual_seed(0)
    for size, alpha, beta, k in ((5, 0.5, 0.75, 2.0), (4, 1.0, 0.75, 1.0), (2, 3.0, 1.5, 0.5)):
        x = torch.randn(2, 7, 3, 4, generator=g, dtype=torch.float64) * 2
        got = onnx_lrn_module(size, alpha, beta, k)(x).numpy()
        want = lrn_reference(x.numpy(), size, alpha, beta, k)
        if not np.allclose(got, want, rtol=1e-12, atol=0):
            raise SystemExit(f"gen_grads: the LRN module is not ONNX's LRN at size {size}")
    return SmallAlexNet(), "relu1"


def make_lrn_even(K):
    """
    make_lrn with even sizes, where ONNX's window is PyTorch's mirrored. ONNX Runtime's CPU LRN
    refuses even sizes, so the export check runs this one through graft and PyTorch only.
    """
    return make_lrn(K, (4, 2))


# name -> (constructor, N, H, W, K, loss, smoothing, opset, seed)
CASES = {
    "cnn": (make_cnn, 3, 20, 18, 5, "softmax", 0.0, 13, 11),
    "mbv2": (make_mbv2, 3, 12, 12, 4, "softmax", 0.0, 13, 12),
    "branches": (make_branches, 2, 10, 12, 6, "softmax", 0.0, 17, 13),
    "cnn_smooth": (make_cnn, 3, 20, 18, 5, "softmax", 0.1, 13, 11),
    "cnn_hinge": (make_cnn, 3, 20, 18, 5, "hinge", 0.0, 13, 11),
    "avgpool_pad": (make_avgpool_pad, 2, 11, 9, 3, "softmax", 0.0, 13, 14),
    "shuffle": (make_shuffle, 2, 12, 10, 4, "softmax", 0.0, 13, 15),
    "lrn": (make_lrn, 3, 15, 13, 5, "softmax", 0.0, 13, 16),
    "lrn_even": (make_lrn_even, 3, 13, 15, 5, "softmax", 0.0, 13, 17),
}


def randomize(model, seed):
    """
    Seeded weights, then every BatchNorm2d's affine parameters and running statistics drawn
    away from the identity (scales 0.6..1.4, shifts and means around 0.1-0.3, variances
    0.5..1.5): a BN that graft mistook for an identity, or whose statistics it applied the
    wrong way round, changes the numbers.
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                bound = 1.0 / max(1, m.weight[0].numel()) ** 0.5
                m.weight.copy_((torch.rand(m.weight.shape, generator=g) * 2 - 1) * 2 * bound)
                if m.bias is not None:
                    m.bias.copy_((torch.rand(m.bias.shape, generator=g) * 2 - 1) * bound)
            if isinstance(m, nn.BatchNorm2d):
                C = m.num_features
                m.weight.copy_(0.6 + 0.8 * torch.rand(C, generator=g))
                m.bias.copy_(0.2 + 0.2 * torch.randn(C, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(C, generator=g))
                m.running_var.copy_(0.5 + torch.rand(C, generator=g))
    return model.eval()


# ---- the ONNX side -----------------------------------------------------------------------


def export(model, x, path, opset):
    with torch.no_grad():
        torch.onnx.export(model, x, path, opset_version=opset, do_constant_folding=False,
                          training=torch.onnx.TrainingMode.PRESERVE, input_names=["input"],
                          output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    onnx.checker.check_model(path)
    return onnx.load(path)


def check_names(proto, model):
    """The initializers must be the state_dict's tensors under their own names."""
    inits = {i.name for i in proto.graph.initializer}
    wanted = {k for k in model.state_dict() if not k.endswith("num_batches_tracked")}
    missing = sorted(wanted - inits)
    if missing:
        raise SystemExit(f"gen_grads: state_dict tensors not ONNX initializers: {missing}; "
                         f"initializers: {sorted(inits)}")
    bns = [n for n in proto.graph.node if n.op_type == "BatchNormalization"]
    want_bns = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    if len(bns) != want_bns:
        raise SystemExit(f"gen_grads: {len(bns)} BatchNormalization nodes, {want_bns} expected")


def module_output(proto, scope):
    """The output of the last node of module `scope` (ONNX node names are /scope/...)."""
    prefix = "/" + scope.replace(".", "/") + "/"
    names = [n.output[0] for n in proto.graph.node if n.name.startswith(prefix)]
    if not names:
        raise SystemExit(f"gen_grads: no node under {prefix}")
    return names[-1]


def graph_after(proto, freeze):
    """
    Checks that every path from the graph input to the output passes through `freeze`, and
    returns the initializers the nodes downstream of it read. Constant nodes count as
    initializers (they depend on nothing).
    """
    inits = {i.name for i in proto.graph.initializer}
    consts = set()
    for n in proto.graph.node:
        if n.op_type == "Constant":
            consts.update(n.output)
    # Values that depend on the graph input without passing through freeze.
    tainted = {i.name for i in proto.graph.input} - inits
    down = {freeze}
    used = []
    for n in proto.graph.node:
        ins = [i for i in n.input if i]
        if any(i in down for i in ins):
            bad = [i for i in ins if i in tainted and i != freeze]
            if bad:
                raise SystemExit(f"gen_grads: {freeze} does not cut the graph: node {n.name} "
                                 f"also reads {bad}")
            down.update(n.output)
            used += [i for i in ins if i in inits and i not in used]
        elif any(i in tainted for i in ins):
            tainted.update(n.output)
    outs = [o.name for o in proto.graph.output]
    if any(o not in down for o in outs):
        raise SystemExit(f"gen_grads: the output does not depend on {freeze}")
    return used


# ---- generating a case -------------------------------------------------------------------


def criterion(kind, smoothing):
    if kind == "hinge":
        return nn.MultiMarginLoss()
    return nn.CrossEntropyLoss(label_smoothing=smoothing)


def grads(model, x, labels, crit):
    """Logits, loss, parameter gradients, input gradient and freeze-tensor gradient."""
    x = x.clone().requires_grad_(True)
    seen = []

    def keep(module, inputs, output):
        output.retain_grad()
        seen.append(output)

    hook = model.freeze.register_forward_hook(keep)
    model.zero_grad()
    logits = model(x)
    hook.remove()
    loss = crit(logits, labels)
    loss.backward()
    g = {k: p.grad.detach().clone() for k, p in model.named_parameters()}
    return logits.detach(), loss.detach(), g, x.grad.detach(), seen[0].grad.detach()


def save(path, array, dtype=None):
    dtype = dtype or np.float32
    np.save(path + ".tmp.npy", np.ascontiguousarray(array, dtype=dtype))
    os.replace(path + ".tmp.npy", path)


def generate(name, outdir, stamp):
    ctor, N, H, W, K, kind, smoothing, opset, seed = CASES[name]
    t0 = time.time()
    torch.manual_seed(seed)
    model, freeze_scope = ctor(K)
    randomize(model, seed)
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    g = torch.Generator().manual_seed(1000 + seed)
    x = torch.randn(N, 3, H, W, generator=g)
    labels = torch.randint(0, K, (N,), generator=g)

    tmp = os.path.join(d, "model.tmp.onnx")
    proto = export(model, x, tmp, opset)
    check_names(proto, model)
    if freeze_scope == "stem_silu":  # silu exports as Sigmoid + Mul: the Mul's output
        freeze = [n.output[0] for n in proto.graph.node if n.op_type == "Mul"][0]
    else:
        freeze = module_output(proto, freeze_scope)
    after = graph_after(proto, freeze)
    os.replace(tmp, os.path.join(d, "model.onnx"))

    crit = criterion(kind, smoothing)
    model64 = copy.deepcopy(model).double()
    logits, loss, pgrad, xgrad, fgrad = grads(model64, x.double(), labels, crit)
    _, loss32, pgrad32, xgrad32, _ = grads(model, x, labels, crit)

    save(os.path.join(d, "input.npy"), x.numpy())
    save(os.path.join(d, "labels.npy"), labels.numpy(), np.int64)
    save(os.path.join(d, "logits.npy"), logits.numpy())
    save(os.path.join(d, "loss.npy"), np.array(loss.item()))
    save(os.path.join(d, "input_grad.npy"), xgrad.numpy())
    save(os.path.join(d, "freeze_grad.npy"), fgrad.numpy())
    save(os.path.join(d, "fc.weight.npy"), model.fc.weight.detach().numpy())
    save(os.path.join(d, "fc.bias.npy"), model.fc.bias.detach().numpy())
    worst, worst_name = 0.0, ""
    for k, v in pgrad.items():
        save(os.path.join(d, f"grad.{k}.npy"), v.numpy())
        scale = float(v.abs().max()) or 1.0
        e = float((pgrad32[k].double() - v).abs().max()) / scale
        if e > worst:
            worst, worst_name = e, k
    params = [k for k, _ in model.named_parameters() if not k.startswith("fc.")]
    after_params = [k for k in after if k in dict(model.named_parameters())
                    and not k.startswith("fc.")]
    lines = [f"onnx model.onnx", f"opset {opset}", f"N {N}", "C 3", f"H {H}", f"W {W}",
             f"K {K}", f"loss {kind}", f"smoothing {smoothing}", f"freeze {freeze}",
             f"params {len(params)} {' '.join(params)}",
             f"after {len(after_params)} {' '.join(after_params)}"]
    with open(os.path.join(d, "case.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    with open(os.path.join(d, "stamp"), "w") as f:
        f.write(stamp + "\n")
    print(f"{name}: N {N} {H}x{W} K {K} {kind} smoothing {smoothing} loss {loss.item():.6f}; "
          f"{len(pgrad)} parameters, {len(after_params)} after freeze {freeze}; float32 "
          f"PyTorch's worst gradient error {worst:.2g} of max|grad| ({worst_name}), input "
          f"{float((xgrad32.double() - xgrad).abs().max() / xgrad.abs().max()):.2g}; "
          f"{time.time() - t0:.1f} s", flush=True)


def script_hash():
    """Hash of the code without docstrings, as tests/models/gen_torchvision.py's."""
    with open(os.path.abspath(__file__), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return hashlib.sha256(ast.dump(tree).encode()).hexdigest()[:16]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("outdir", nargs="?")
    ap.add_argument("--cases", help="comma-separated subset (default: all)")
    ap.add_argument("--force", action="store_true", help="regenerate even when up to date")
    ap.add_argument("--list", action="store_true", help="print the case names and exit")
    args = ap.parse_args()
    if args.list:
        print("\n".join(CASES))
        return 0
    if not args.outdir:
        ap.error("OUTDIR is required")
    names = list(CASES)
    if args.cases:
        names = [n for n in args.cases.split(",") if n]
        unknown = [n for n in names if n not in CASES]
        if unknown:
            ap.error(f"unknown case(s) {', '.join(unknown)}; --list names them")
    stamp = script_hash()
    for name in names:
        stamp_path = os.path.join(args.outdir, name, "stamp")
        if not args.force and os.path.exists(stamp_path):
            with open(stamp_path) as f:
                if f.read().strip() == stamp:
                    continue
        _frameworks()
        torch.set_num_threads(1)
        generate(name, args.outdir, stamp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
