#!/usr/bin/python3
"""tests/pipeline/pil_reference.py: Pillow/torchvision reference outputs for the image checks.

Run by the pil_parity check of tests/pipeline/check_image.c (which skips when Debian's
python3 with PIL and numpy is absent) as

    pil_reference.py OUT_DIR [SHARED_IMAGES_DIR]

It writes test images in every format and variant Pillow can encode into OUT_DIR, decodes them
(and the shared test images) with Image.open(f).convert("RGB"), resizes and crops them with
Image.resize and torchvision's transforms when torchvision imports, and saves every result as
.npy. OUT_DIR/manifest.txt lists one case per line for the C side to recompute and compare:

    decode      FILE NPY
    resize      FILE W H FILTER NPY              FILTER: nearest | bilinear | bicubic
    resize_crop FILE SHORT CW CH FILTER NPY      torchvision Resize(SHORT) + CenterCrop((CH, CW))
    crop        FILE CW CH NPY                   torchvision CenterCrop((CH, CW))
    float       FILE SHORT CROP NPY              Resize + CenterCrop + ToTensor + Normalize

FILE paths are absolute; NPY names are relative to OUT_DIR. Nothing is compared here: the C
check does that. Normalize uses ImageNet's mean and std.
"""
import os
import sys

import numpy as np
from PIL import Image

out_dir = os.path.abspath(sys.argv[1])
shared = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2] else None
manifest = []


def synthetic(w, h, seed):
    """Smooth gradients plus noise plus hard edges: exercises filters, JPEG and clipping."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1),
                    (x + y) * 255 // max(w + h - 2, 1)], axis=-1).astype(np.int32)
    img += rng.integers(-40, 41, size=img.shape)
    img[(x // 7 + y // 5) % 2 == 0] = [255, 255, 255]
    img[h // 3:h // 2, w // 4:w // 2] = [0, 0, 0]
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def save_decoded(name, path):
    arr = np.asarray(Image.open(path).convert("RGB"))
    np.save(os.path.join(out_dir, name + ".dec.npy"), arr)
    manifest.append(f"decode {path} {name}.dec.npy")


base = synthetic(97, 61, 1)
alpha = Image.fromarray(((np.arange(97 * 61) * 7) % 256).astype(np.uint8).reshape(61, 97), "L")
rgba = base.copy()
rgba.putalpha(alpha)
gray = base.convert("L")
pal = base.quantize(colors=200)
pal_small = base.quantize(colors=12)

files = []


def add(name, img, fmt, **kw):
    path = os.path.join(out_dir, name)
    img.save(path, fmt, **kw)
    files.append((name, path))


# PNG: every colour type Pillow writes, including 1-bit, 16-bit gray and palette + tRNS.
add("rgb.png", base, "PNG")
add("rgba.png", rgba, "PNG")
add("gray.png", gray, "PNG")
add("gray_alpha.png", gray.convert("LA"), "PNG")
add("bilevel.png", gray.convert("1"), "PNG")
add("palette.png", pal, "PNG")
add("palette4.png", pal_small, "PNG", bits=4)
pal_t = pal.copy()
pal_t.info["transparency"] = 3
add("palette_trns.png", pal_t, "PNG", transparency=3)
# JPEG: chroma subsampling variants, progressive, optimised tables, grayscale, CMYK (Pillow
# writes Adobe-inverted CMYK), restart markers.
add("q90_420.jpg", base, "JPEG", quality=90)
add("q75_444.jpg", base, "JPEG", quality=75, subsampling=0)
add("q80_422.jpg", base, "JPEG", quality=80, subsampling=1)
add("progressive.jpg", base, "JPEG", quality=85, progressive=True, optimize=True)
add("gray.jpg", gray, "JPEG", quality=90)
add("cmyk.jpg", base.convert("CMYK"), "JPEG", quality=90)
add("restart.jpg", base, "JPEG", quality=90, restart_marker_blocks=2)
# BMP: 1-bit, 8-bit palette and gray, 24-bit.
add("bilevel.bmp", gray.convert("1"), "BMP")
add("palette.bmp", pal, "BMP")
add("gray.bmp", gray, "BMP")
add("rgb.bmp", base, "BMP")
# WebP when Pillow was built with it.
try:
    from PIL import features
    if features.check("webp"):
        add("lossless.webp", base, "WEBP", lossless=True)
        add("lossy.webp", base, "WEBP", quality=80)
        add("alpha.webp", rgba, "WEBP", lossless=True)
        add("lossy_alpha.webp", rgba, "WEBP", quality=70)
except ImportError:
    pass

for name, path in files:
    save_decoded(name, path)

shared_files = []
if shared:
    for f in ("cat.bmp", "bird.bmp", "grace_hopper.bmp", "hot_dog.jpg"):
        p = os.path.join(shared, f)
        if os.path.exists(p):
            shared_files.append(p)
            save_decoded("shared_" + f, p)

# Resize: down, up, mixed, one axis only, extreme factors, tiny outputs, on a photo and on
# the synthetic image (whose hard edges make bicubic overshoot and clip).
FILTERS = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}
sizes = [(224, 224), (128, 128), (600, 451), (300, 100), (512, 200), (37, 341), (1, 1),
         (1, 17), (7, 5), (1023, 3)]
sources = [os.path.join(out_dir, "rgb.png")] + shared_files[:2]
n = 0
for src in sources:
    im = Image.open(src).convert("RGB")
    for (w, h) in sizes + [(im.width, im.height), (im.width * 3, im.height * 2)]:
        for fname, f in FILTERS.items():
            np.save(os.path.join(out_dir, f"res{n}.npy"), np.asarray(im.resize((w, h), f)))
            manifest.append(f"resize {src} {w} {h} {fname} res{n}.npy")
            n += 1

# torchvision's Resize(int) + CenterCrop, CenterCrop alone (odd margins, padding), and the
# whole ImageNet evaluation transform down to the normalised tensor.
try:
    import torch
    import torchvision.transforms as T
    have_tv = True
except Exception:  # noqa: BLE001: any import failure means "no torchvision here"
    have_tv = False

if have_tv:
    modes = {"bilinear": T.InterpolationMode.BILINEAR, "bicubic": T.InterpolationMode.BICUBIC,
             "nearest": T.InterpolationMode.NEAREST}
    crop_sources = shared_files + [os.path.join(out_dir, "rgb.png")]
    for src in crop_sources:
        im = Image.open(src).convert("RGB")
        for short, cw, ch in [(256, 224, 224), (160, 128, 128), (255, 201, 199), (64, 80, 70)]:
            for fname in ("bilinear", "bicubic", "nearest"):
                t = T.Compose([T.Resize(short, interpolation=modes[fname]),
                               T.CenterCrop((ch, cw))])
                np.save(os.path.join(out_dir, f"rc{n}.npy"), np.asarray(t(im)))
                manifest.append(f"resize_crop {src} {short} {cw} {ch} {fname} rc{n}.npy")
                n += 1
        for cw, ch in [(224, 224), (97, 61), (96, 60), (95, 59), (600, 50), (50, 700),
                       (im.width + 3, im.height + 4)]:
            np.save(os.path.join(out_dir, f"cc{n}.npy"), np.asarray(T.CenterCrop((ch, cw))(im)))
            manifest.append(f"crop {src} {cw} {ch} cc{n}.npy")
            n += 1
        t = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                       T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
        np.save(os.path.join(out_dir, f"fl{n}.npy"), t(im).numpy().astype(np.float32))
        manifest.append(f"float {src} 256 224 fl{n}.npy")
        n += 1

with open(os.path.join(out_dir, "manifest.txt"), "w") as f:
    f.write("\n".join(manifest) + "\n")
print(f"pil_reference: {len(manifest)} cases, torchvision {'yes' if have_tv else 'no'}")
