#!/usr/bin/python3
"""tests/fuzz/image_seeds.py: the seed corpus of `make fuzz-image` (tests/fuzz/fuzz_image.c).

    image_seeds.py CORPUS_DIR

Writes one small image (a few hundred bytes to a few KiB) per format and variant the decoders
handle, with Pillow: PNG of every colour type, baseline/progressive/grayscale/CMYK JPEG,
BMP at 1/4/8/24 bits, WebP lossy/lossless/alpha, plus a .npy file. Needs PIL and numpy.
"""
import io
import os
import sys

import numpy as np
from PIL import Image, features

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)
y, x = np.mgrid[0:12, 0:16]
rgb = np.stack([x * 16, y * 20, (x + y) * 9], axis=-1).astype(np.uint8)
rgb[::3, ::2] = rng.integers(0, 256, size=rgb[::3, ::2].shape)
base = Image.fromarray(rgb, "RGB")
rgba = base.copy()
rgba.putalpha(Image.fromarray((x * y % 256).astype(np.uint8), "L"))
seeds = {
    "rgb.png": (base, "PNG", {}),
    "rgba.png": (rgba, "PNG", {}),
    "gray.png": (base.convert("L"), "PNG", {}),
    "la.png": (base.convert("LA"), "PNG", {}),
    "bilevel.png": (base.convert("1"), "PNG", {}),
    "palette.png": (base.quantize(16), "PNG", {"bits": 4}),
    # 16-bit gray: Pillow 9.4 cannot convert RGB to I;16, so built from an array.
    "gray16.png": (Image.fromarray((rgb[..., 0].astype(np.uint16) * 257), "I;16"), "PNG", {}),
    "baseline.jpg": (base, "JPEG", {"quality": 80}),
    "progressive.jpg": (base, "JPEG", {"quality": 80, "progressive": True}),
    "gray.jpg": (base.convert("L"), "JPEG", {}),
    "cmyk.jpg": (base.convert("CMYK"), "JPEG", {}),
    "bilevel.bmp": (base.convert("1"), "BMP", {}),
    "palette.bmp": (base.quantize(200), "BMP", {}),
    "rgb.bmp": (base, "BMP", {}),
}
if features.check("webp"):
    seeds.update({
        "lossy.webp": (base, "WEBP", {"quality": 70}),
        "lossless.webp": (base, "WEBP", {"lossless": True}),
        "alpha.webp": (rgba, "WEBP", {"lossless": True}),
    })
for name, (img, fmt, kw) in seeds.items():
    img.save(os.path.join(out, name), fmt, **kw)
buf = io.BytesIO()
np.save(buf, rgb)
with open(os.path.join(out, "rgb.npy"), "wb") as f:
    f.write(buf.getvalue())
print(f"image_seeds: {len(seeds) + 1} seeds in {out}")
