#!/usr/bin/python3
"""tests/fuzz/image_seeds.py: the seed corpus of `make fuzz-image` (tests/fuzz/fuzz_image.c).

    image_seeds.py CORPUS_DIR

Writes one small image (a few hundred bytes to a few KiB) per format and variant the decoders
handle, with Pillow: PNG of every colour type, baseline/progressive/grayscale/CMYK JPEG,
BMP at 1/4/8/24 bits, WebP lossy/lossless/alpha, GIF (Pillow's plain and interlaced, plus
hand-made ones with a frame off the screen's origin, transparency, a local colour map), plus a
.npy file. Needs PIL and numpy.
"""
import io
import os
import struct
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
seeds.update({
    "plain.gif": (base, "GIF", {}),
    "interlaced.gif": (base, "GIF", {"interlace": True}),
    "anim.gif": (base, "GIF", {"save_all": True, "append_images": [base.convert("L")]}),
})


def gif_frame(sw, sh, box, idx, gpal, lpal, trans, interlace):
    """A one-frame GIF89a whose LZW data holds only literal codes (9 bits each)."""
    def table(pal):
        return b"".join(bytes(c) for c in pal)
    o = bytearray(b"GIF89a" + struct.pack("<HHBBB", sw, sh, 0x87 if gpal else 0, 0, 0))
    if gpal:
        o += table(gpal)
    if trans is not None:
        o += b"\x21\xf9\x04" + bytes([1, 0, 0, trans, 0])
    x, y, w, h = box
    o += b"," + struct.pack("<HHHHB", x, y, w, h, (0x87 if lpal else 0) | (0x40 if interlace else 0))
    if lpal:
        o += table(lpal)
    bits, acc, n, data = 0, 0, 0, bytearray()
    for code in [256] + list(idx) + [257]:
        acc |= code << bits
        bits += 9
        while bits >= 8:
            data.append(acc & 255)
            acc >>= 8
            bits -= 8
        n += 1
    if bits:
        data.append(acc & 255)
    o.append(8)
    for i in range(0, len(data), 255):
        o.append(len(data[i:i + 255]))
        o += data[i:i + 255]
    return bytes(o + b"\0;")


pal = [tuple(int(v) for v in c) for c in rng.integers(0, 256, size=(256, 3))]
idx = [int(v) for v in rng.integers(0, 256, size=60)]  # fewer than 254 literals: no clear
gifs = {
    "offset_trans.gif": gif_frame(16, 12, (3, 2, 10, 6), idx, pal, None, 7, False),
    "local_interlaced.gif": gif_frame(10, 6, (0, 0, 10, 6), idx, None, pal[::-1], None, True),
    "past_screen.gif": gif_frame(4, 4, (2, 2, 6, 10), idx, pal, None, None, False),
}
for name, data in gifs.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)

for name, (img, fmt, kw) in seeds.items():
    img.save(os.path.join(out, name), fmt, **kw)
buf = io.BytesIO()
np.save(buf, rgb)
with open(os.path.join(out, "rgb.npy"), "wb") as f:
    f.write(buf.getvalue())
print(f"image_seeds: {len(seeds) + len(gifs) + 1} seeds in {out}")
