#!/usr/bin/python3
"""
tests/finetune/torch_run_onnx.py: a small ONNX interpreter on torch.nn.functional, float32,
so that the network graft_top_export_onnx() writes can be run by an implementation that
shares no code with graft's (tests/finetune/check_torch_grads.c's export check). Debian's
/usr/bin/python3 with python3-torch and python3-onnx.

It evaluates the graph's nodes in file order (ONNX requires topological order) on an input
.npy and writes the requested output as float32 .npy. Operators: Conv, BatchNormalization
(inference), Relu, Clip, LeakyRelu, Sigmoid, Tanh, HardSigmoid, HardSwish, Mul, Add, Sub,
Div, Concat, MaxPool, AveragePool, GlobalAveragePool, ReduceMean, Flatten, Reshape, Gemm,
MatMul, Identity, Dropout, Pad (constant), Softmax, Constant, Cast, Shape, Gather, Unsqueeze,
Squeeze, LRN (what the exported top and the trunks of the test networks hold). Anything else is
an error naming the op, never a silent guess.

Usage: torch_run_onnx.py MODEL INPUT.npy OUTPUT.npy [OUTPUT_NAME]
(OUTPUT_NAME: a graph output or any intermediate tensor; default the first graph output.)

Not here: auto_pad other than NOTSET, ceil_mode, training-mode BatchNormalization, opset
differences beyond where an attribute moved to an input (Clip, ReduceMean, Squeeze).
"""
import math
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch
import torch.nn.functional as F


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def sym_pads(pads, op):
    """ONNX pads (begin..., end...) -> torch's symmetric padding, or an asymmetric F.pad."""
    k = len(pads) // 2
    begin, end = pads[:k], pads[k:]
    if list(begin) == list(end):
        return list(begin), None
    # F.pad takes the last dimension first: (W_begin, W_end, H_begin, H_end).
    fpad = []
    for d in reversed(range(k)):
        fpad += [begin[d], end[d]]
    return [0] * k, fpad


def conv(x, w, b, a):
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise SystemExit(f"torch_run_onnx: Conv auto_pad {a['auto_pad']} unsupported")
    k = w.dim() - 2
    pad, fpad = sym_pads(a.get("pads", [0] * 2 * k), "Conv")
    if fpad:
        x = F.pad(x, fpad)
    return F.conv2d(x, w, b, stride=a.get("strides", [1] * k), padding=pad,
                    dilation=a.get("dilations", [1] * k), groups=a.get("group", 1))


def pool(x, a, kind):
    if a.get("ceil_mode", 0) or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise SystemExit(f"torch_run_onnx: {kind} with ceil_mode/auto_pad unsupported")
    ks = a["kernel_shape"]
    st = a.get("strides", [1] * len(ks))
    pad, fpad = sym_pads(a.get("pads", [0] * 2 * len(ks)), kind)
    if kind == "MaxPool":
        if fpad:
            x = F.pad(x, fpad, value=float("-inf"))
        return F.max_pool2d(x, ks, st, pad, dilation=a.get("dilations", [1] * len(ks)))
    include = bool(a.get("count_include_pad", 0))
    if fpad:
        if not include:
            raise SystemExit("torch_run_onnx: asymmetric AveragePool pads without "
                             "count_include_pad unsupported")
        x = F.pad(x, fpad)
    # torch caps the padding at half the kernel; ONNX does not, but exporters stay within it.
    return F.avg_pool2d(x, ks, st, pad, count_include_pad=include)


def lrn(x, a):
    """
    ONNX LRN from the operator's definition: channel c's window is [c - floor((size - 1) / 2),
    c + ceil((size - 1) / 2)], which for an even size is not F.local_response_norm's (that one
    puts the extra channel before c), so it is written out here.
    """
    size = a["size"]
    before, after = math.floor((size - 1) / 2), math.ceil((size - 1) / 2)
    C = x.shape[1]
    sq = F.pad(x * x, (0, 0, 0, 0, before, after))  # (N, before + C + after, H, W)
    s = sum(sq[:, j:j + C] for j in range(size))
    return x / (a.get("bias", 1.0) + a.get("alpha", 1e-4) / size * s) ** a.get("beta", 0.75)


def run(model_path, x, want):
    proto = onnx.load(model_path)
    env = {}
    for init in proto.graph.initializer:
        env[init.name] = torch.from_numpy(onnx.numpy_helper.to_array(init).copy())
    inputs = [i.name for i in proto.graph.input if i.name not in env]
    env[inputs[0]] = torch.from_numpy(x)
    for node in proto.graph.node:
        a = attrs(node)
        ins = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Conv":
            y = conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)
        elif op == "BatchNormalization":
            if a.get("training_mode", 0):
                raise SystemExit("torch_run_onnx: training-mode BatchNormalization")
            y = F.batch_norm(ins[0], ins[3], ins[4], ins[1], ins[2], False, 0.0,
                             a.get("epsilon", 1e-5))
        elif op == "Relu":
            y = F.relu(ins[0])
        elif op == "Clip":
            lo = ins[1] if len(ins) > 1 and ins[1] is not None else a.get("min")
            hi = ins[2] if len(ins) > 2 and ins[2] is not None else a.get("max")
            y = torch.clamp(ins[0], None if lo is None else float(lo),
                            None if hi is None else float(hi))
        elif op == "LeakyRelu":
            y = F.leaky_relu(ins[0], a.get("alpha", 0.01))
        elif op == "Sigmoid":
            y = torch.sigmoid(ins[0])
        elif op == "Tanh":
            y = torch.tanh(ins[0])
        elif op == "HardSigmoid":
            y = torch.clamp(a.get("alpha", 0.2) * ins[0] + a.get("beta", 0.5), 0.0, 1.0)
        elif op == "HardSwish":
            y = F.hardswish(ins[0])
        elif op in ("Add", "Sub", "Mul", "Div"):
            f = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div}[op]
            y = f(ins[0], ins[1])
        elif op == "Concat":
            y = torch.cat(ins, a["axis"])
        elif op in ("MaxPool", "AveragePool"):
            y = pool(ins[0], a, op)
        elif op == "GlobalAveragePool":
            y = ins[0].mean(dim=tuple(range(2, ins[0].dim())), keepdim=True)
        elif op == "ReduceMean":
            axes = a.get("axes")
            if axes is None and len(ins) > 1 and ins[1] is not None:
                axes = ins[1].tolist()
            if axes is None:
                axes = list(range(ins[0].dim()))
            y = ins[0].mean(dim=tuple(axes), keepdim=bool(a.get("keepdims", 1)))
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = ins[0].reshape(int(np.prod(ins[0].shape[:ax])), -1)
        elif op == "Reshape":
            shape = [int(s) for s in ins[1].tolist()]
            shape = [ins[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
            y = ins[0].reshape(shape)
        elif op == "Gemm":
            A, B = ins[0], ins[1]
            if a.get("transA", 0):
                A = A.t()
            if a.get("transB", 0):
                B = B.t()
            y = a.get("alpha", 1.0) * (A @ B)
            if len(ins) > 2 and ins[2] is not None:
                y = y + a.get("beta", 1.0) * ins[2]
        elif op == "MatMul":
            y = ins[0] @ ins[1]
        elif op in ("Identity", "Dropout"):
            y = ins[0]
        elif op == "Pad":
            mode = a.get("mode", b"constant")
            pads = ins[1].tolist() if len(ins) > 1 else a["pads"]
            value = float(ins[2]) if len(ins) > 2 and ins[2] is not None else 0.0
            if mode not in (b"constant", "constant"):
                raise SystemExit(f"torch_run_onnx: Pad mode {mode} unsupported")
            k = len(pads) // 2
            fpad = []
            for d in reversed(range(k)):
                fpad += [pads[d], pads[d + k]]
            y = F.pad(ins[0], fpad, value=value)
        elif op == "LRN":
            y = lrn(ins[0], a)
        elif op == "Softmax":
            y = torch.softmax(ins[0], a.get("axis", -1))
        elif op == "Constant":
            y = torch.from_numpy(onnx.numpy_helper.to_array(a["value"]).copy())
        elif op == "Cast":
            dt = onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[a["to"]]
            y = torch.from_numpy(ins[0].numpy().astype(dt))
        elif op == "Shape":
            y = torch.tensor(list(ins[0].shape), dtype=torch.int64)
        elif op == "Gather":
            y = torch.from_numpy(np.take(ins[0].numpy(), ins[1].numpy(), axis=a.get("axis", 0)))
        elif op == "Unsqueeze":
            axes = a.get("axes") or ins[1].tolist()
            y = ins[0]
            for ax in sorted(axes):
                y = y.unsqueeze(ax)
        elif op == "Squeeze":
            axes = a.get("axes") or (ins[1].tolist() if len(ins) > 1 else None)
            y = ins[0].squeeze() if axes is None else ins[0]
            for ax in sorted(axes or [], reverse=True):
                y = y.squeeze(ax)
        elif op == "Transpose":
            perm = a.get("perm") or list(reversed(range(ins[0].dim())))
            y = ins[0].permute(*perm).contiguous()
        elif op == "Slice":
            y = ins[0]
            starts, ends = ins[1].tolist(), ins[2].tolist()
            axes = ins[3].tolist() if len(ins) > 3 and ins[3] is not None else \
                list(range(len(starts)))
            steps = ins[4].tolist() if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
            for st, en, ax, sp in zip(starts, ends, axes, steps):
                if sp != 1:
                    raise SystemExit("torch_run_onnx: Slice with steps other than 1")
                size = y.shape[ax]
                st = max(0, min(size, st + size if st < 0 else st))
                en = max(0, min(size, en + size if en < 0 else en))
                y = y.narrow(ax, st, max(0, en - st))
        else:
            raise SystemExit(f"torch_run_onnx: operator {op} (node {node.name}) unsupported")
        env[node.output[0]] = y
        if want in node.output:
            break
    name = want or proto.graph.output[0].name
    if name not in env:
        raise SystemExit(f"torch_run_onnx: no tensor named {name}")
    return env[name]


def main():
    if len(sys.argv) not in (4, 5):
        print("usage: torch_run_onnx.py MODEL INPUT.npy OUTPUT.npy [OUTPUT_NAME]", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    x = np.load(sys.argv[2]).astype(np.float32)
    with torch.no_grad():
        y = run(sys.argv[1], x, sys.argv[4] if len(sys.argv) == 5 else None)
    np.save(sys.argv[3], np.ascontiguousarray(y.numpy(), dtype=np.float32))
    return 0


if __name__ == "__main__":
    sys.exit(main())
