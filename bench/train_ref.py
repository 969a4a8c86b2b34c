#!/usr/bin/python3
"""bench/train_ref.py: the scikit-learn side of bench_train (make bench-train).

bench_train writes the standardized codes it trains on (Zt.npy, yt.npy, Zv.npy, yv.npy in
DIR) and runs this script with Debian's /usr/bin/python3 (python3-sklearn) in the same run.
For each case it prints one JSON line on stdout:

  sgd      SGDClassifier, one partial_fit epoch at a time (its documented incremental use):
           the time until the validation accuracy first reaches the target (the accuracy
           liblinear-train reached on the same codes), or null within --epochs; plus a plain
           fit() with its defaults, time and accuracy.
  liblinear_inproc  LinearSVC(dual=False) = liblinear -s 2 and
           LogisticRegression(solver="liblinear") = -s 0, on the arrays in memory: LIBLINEAR's
           training time without parsing its text file (scikit-learn bundles LIBLINEAR).

Times are medians of --reps runs, in seconds, on one thread (OMP/BLAS pinned to 1 so that
nothing else competes with graft's pool).

Usage: train_ref.py DIR --C C --target-s2 ACC --target-s0 ACC [--reps N] [--epochs N]
"""
import argparse
import json
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression, SGDClassifier  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def sgd_time_to(Zt, yt, Zv, yv, loss, alpha, target, epochs, seed):
    """partial_fit epoch by epoch; the time when the val accuracy first reaches target."""
    clf = SGDClassifier(loss=loss, alpha=alpha, random_state=seed)
    classes = np.unique(yt)
    t0 = time.perf_counter()
    for epoch in range(1, epochs + 1):
        clf.partial_fit(Zt, yt, classes=classes)
        acc = clf.score(Zv, yv)
        if acc >= target - 1e-12:
            return time.perf_counter() - t0, epoch, acc
    return None, epochs, acc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--C", type=float, required=True)
    ap.add_argument("--target-s2", type=float, required=True)
    ap.add_argument("--target-s0", type=float, required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--epochs", type=int, default=100)
    args = ap.parse_args()
    d = args.dir
    Zt = np.load(os.path.join(d, "Zt.npy")).astype(np.float64)
    yt = np.load(os.path.join(d, "yt.npy")).astype(np.int64)
    Zv = np.load(os.path.join(d, "Zv.npy")).astype(np.float64)
    yv = np.load(os.path.join(d, "yv.npy")).astype(np.int64)
    n = len(yt)
    # The same objective as liblinear's C: alpha = 1 / (C n) (SGDClassifier's penalty is
    # alpha/2 |w|^2 over the mean loss).
    alpha = 1.0 / (args.C * n)

    for loss, target, tag in (("hinge", args.target_s2, "s2"), ("squared_hinge", args.target_s2, "s2"),
                              ("log_loss", args.target_s0, "s0")):
        for a, a_name in ((alpha, "C"), (1e-4, "default")):
            runs = [sgd_time_to(Zt, yt, Zv, yv, loss, a, target, args.epochs, seed)
                    for seed in range(args.reps)]
            times = [r[0] for r in runs if r[0] is not None]
            reached = len(times)
            fit_times, accs = [], []
            for seed in range(args.reps):
                clf = SGDClassifier(loss=loss, alpha=a, random_state=seed)
                t0 = time.perf_counter()
                clf.fit(Zt, yt)
                fit_times.append(time.perf_counter() - t0)
                accs.append(clf.score(Zv, yv))
            print(json.dumps({
                "ref": "sklearn.SGDClassifier", "loss": loss, "alpha": a, "alpha_from": a_name,
                "target": target, "target_of": tag,
                "time_to_target": median(times) if reached * 2 > args.reps else None,
                "reached": reached, "runs": args.reps,
                "epochs_to_target": median([r[1] for r in runs]),
                "fit_seconds": median(fit_times), "fit_accuracy": median(accs),
            }), flush=True)

    for name, make in (("LinearSVC(dual=False) = liblinear -s 2",
                        lambda: LinearSVC(C=args.C, loss="squared_hinge", dual=False)),
                       ("LogisticRegression(liblinear) = liblinear -s 0",
                        lambda: LogisticRegression(C=args.C, solver="liblinear"))):
        times, accs = [], []
        for _ in range(args.reps):
            clf = make()
            t0 = time.perf_counter()
            clf.fit(Zt, yt)
            times.append(time.perf_counter() - t0)
            accs.append(clf.score(Zv, yv))
        print(json.dumps({"ref": name, "C": args.C, "fit_seconds": median(times),
                          "accuracy": median(accs)}), flush=True)


if __name__ == "__main__":
    main()
