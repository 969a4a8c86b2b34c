#!/usr/bin/python3
"""bench/pipeline_pil.py: the reference side of bench/bench_pipeline.c.

    pipeline_pil.py TAR REPEATS [CHECK_NPY]

Reads every .jpg member of TAR into memory, then times REPEATS passes of torchvision's ImageNet
evaluation transform on one core (torch.set_num_threads(1)):

    Image.open(BytesIO(b)).convert("RGB") -> Resize(256) -> CenterCrop(224) -> ToTensor()
    -> Normalize(mean, std)

and, separately, the decode alone (Image.open + convert). Prints one JSON line with the median
images per CPU-second (time.process_time) of each. With CHECK_NPY it first writes the tensor of the member whose name sorts
first there (bench_pipeline.c compares its own output with it). Debian's /usr/bin/python3 with
python3-torchvision and python3-pil; nothing is installed here.
"""
import io
import json
import statistics
import sys
import tarfile
import time

import numpy as np
import torch
import torchvision
import torchvision.transforms as T
from PIL import Image

torch.set_num_threads(1)
tar_path, repeats = sys.argv[1], int(sys.argv[2])
check = sys.argv[3] if len(sys.argv) > 3 else None

members = []
with tarfile.open(tar_path) as tf:
    for m in tf.getmembers():
        if m.isfile() and m.name.lower().endswith((".jpg", ".jpeg")):
            members.append((m.name, tf.extractfile(m).read()))
members.sort()
data = [b for _, b in members]

t = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
               T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
if check:
    np.save(check, t(Image.open(io.BytesIO(data[0])).convert("RGB")).numpy())

# One warm-up pass, then the timed ones.
for b in data[:20]:
    t(Image.open(io.BytesIO(b)).convert("RGB"))
full, dec = [], []
for _ in range(repeats):
    t0 = time.process_time()
    for b in data:
        t(Image.open(io.BytesIO(b)).convert("RGB"))
    full.append(len(data) / (time.process_time() - t0))
    t0 = time.process_time()
    for b in data:
        Image.open(io.BytesIO(b)).convert("RGB")
    dec.append(len(data) / (time.process_time() - t0))
print(json.dumps({"ref": "pillow-%s+torchvision-%s" % (Image.__version__, torchvision.__version__),
                  "images": len(data), "images_per_s": statistics.median(full),
                  "decode_images_per_s": statistics.median(dec), "repeats": repeats}))
