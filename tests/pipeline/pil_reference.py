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
    verdict     FILE OK|ERR                      whether Pillow decodes FILE at all (GIF cuts)
    transform   FILE PRESET SIZE FLIP NPY        graft_transform_preset(PRESET, SIZE) applied in
                                                 CHW; FLIP 1 adds RandomHorizontalFlip's flip
    rcrop       FILE X Y W H OW OH FILTER NPY    torchvision F.resized_crop (u8 HWC)
    rrc_box     W H SEED SMIN SMAX RMIN RMAX X Y BW BH FLIP
                                                 RandomResizedCrop.get_params transcribed with
                                                 graft's SplitMix64 draws (see transform.c)

FILE paths are absolute; NPY names are relative to OUT_DIR. Nothing is compared here: the C
check does that. Normalize uses ImageNet's mean and std. GIFs are written by a small encoder
here (gif_bytes) so that every case Pillow's loader distinguishes can be built: frames smaller
than or past the logical screen, transparency, local and missing colour maps, indices past the
colour map, interlacing, and cuts at every offset. The hymenoptera photos, when SHARED's
../data/hymenoptera.tar exists, are read from the tar in memory and a few written out.
"""
import math
import os
import struct
import sys
import tarfile

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
# 16-bit PNGs, written by hand (Pillow writes few of them): gray (Pillow's "I" mode clips
# at 255), gray + alpha, RGB, RGBA.


def png16(w, h, ctype, chans, seed):
    import zlib

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))

    v = np.random.default_rng(seed).integers(0, 65536, size=(h, w, chans)).astype(">u2")
    v[0, :4] = [[k] * chans for k in (0, 255, 256, 65535)]  # around the clip
    raw = b"".join(b"\0" + v[y].tobytes() for y in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, ctype, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


for name, ctype, chans in (("gray16.png", 0, 1), ("la16.png", 4, 2), ("rgb16.png", 2, 3),
                           ("rgba16.png", 6, 4)):
    path = os.path.join(out_dir, name)
    with open(path, "wb") as f:
        f.write(png16(29, 13, ctype, chans, len(name)))
    files.append((name, path))
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



# ---- GIF --------------------------------------------------------------------------------

def lzw_codes(indices, min_size):
    """LZW data that only ever emits literal codes, with a clear code before the table would
    grow, so the code width stays min_size + 1: valid GIF data any decoder must accept."""
    clear, eoi, width = 1 << min_size, (1 << min_size) + 1, min_size + 1
    out, nbits, buf = 0, 0, bytearray()

    def emit(code):
        nonlocal out, nbits
        out |= code << nbits
        nbits += width
        while nbits >= 8:
            buf.append(out & 255)
            out >>= 8
            nbits -= 8

    limit = (1 << width) - (1 << min_size) - 2
    emit(clear)
    n = 0
    for v in indices:
        if n == limit:
            emit(clear)
            n = 0
        emit(int(v))
        n += 1
    emit(eoi)
    if nbits:
        buf.append(out & 255)
    return bytes(buf)


def sub_blocks(data):
    o = bytearray()
    for i in range(0, len(data), 255):
        o.append(len(data[i:i + 255]))
        o += data[i:i + 255]
    o.append(0)
    return bytes(o)


def colour_table(pal):
    bits = max(1, (len(pal) - 1).bit_length())
    t = bytearray()
    for c in pal:
        t += bytes(c)
    return bits, bytes(t) + bytes(3 * ((1 << bits) - len(pal)))


def gif_bytes(sw, sh, gpal, box, idx, pal=None, trans=None, interlace=False, min_size=2,
              comment=False):
    """One-frame GIF89a: screen sw x sh, global palette gpal (or None), the frame at
    box = (x, y, w, h) with row-major indices idx."""
    o = bytearray(b"GIF89a")
    flags, table = 0, b""
    if gpal is not None:
        bits, table = colour_table(gpal)
        flags = 0x80 | (bits - 1)
    o += struct.pack("<HHBBB", sw, sh, flags, 0, 0) + table
    if comment:
        o += b"\x21\xfe" + sub_blocks(b"made by pil_reference.py")
    if trans is not None:
        o += b"\x21\xf9\x04" + bytes([1, 0, 0, trans, 0])
    x, y, w, h = box
    lflags, ltable = 0, b""
    if pal is not None:
        bits, ltable = colour_table(pal)
        lflags = 0x80 | (bits - 1)
    if interlace:
        lflags |= 0x40
        rows = [list(idx[r * w:(r + 1) * w]) for r in range(h)]
        order = (list(range(0, h, 8)) + list(range(4, h, 8)) + list(range(2, h, 4)) +
                 list(range(1, h, 2)))
        idx = [v for r in order for v in rows[r]]
    o += b"," + struct.pack("<HHHHB", x, y, w, h, lflags) + ltable
    o += bytes([min_size]) + sub_blocks(lzw_codes(idx, min_size)) + b";"
    return bytes(o)


def add_raw(name, data):
    path = os.path.join(out_dir, name)
    with open(path, "wb") as f:
        f.write(data)
    files.append((name, path))
    return path


rng_gif = np.random.default_rng(5)
pal4 = [(10, 20, 30), (200, 100, 50), (1, 2, 250), (90, 90, 9)]
pal16 = [tuple(int(v) for v in rng_gif.integers(0, 256, 3)) for _ in range(16)]
pal200 = [tuple(int(v) for v in rng_gif.integers(0, 256, 3)) for _ in range(200)]
idx16 = rng_gif.integers(0, 16, size=37 * 23)
add_raw("g_plain.gif", gif_bytes(37, 23, pal16, (0, 0, 37, 23), idx16, min_size=4))
add_raw("g_interlaced.gif", gif_bytes(37, 23, pal16, (0, 0, 37, 23), idx16, interlace=True,
                                      min_size=4))
add_raw("g_inter_small.gif", gif_bytes(3, 5, pal4, (0, 0, 3, 5), [i % 4 for i in range(15)],
                                       interlace=True))
add_raw("g_offset.gif", gif_bytes(20, 15, pal16, (3, 4, 9, 7), idx16[:63], min_size=4))
add_raw("g_offset_trans.gif", gif_bytes(20, 15, pal16, (3, 4, 9, 7), idx16[:63], trans=5,
                                        min_size=4, comment=True))
add_raw("g_past_screen.gif", gif_bytes(10, 8, pal16, (6, 5, 9, 7), idx16[:63], min_size=4))
add_raw("g_local.gif", gif_bytes(12, 9, pal4, (2, 1, 9, 7), idx16[:63], pal=pal16, min_size=4))
add_raw("g_local_only.gif", gif_bytes(9, 7, None, (0, 0, 9, 7), idx16[:63], pal=pal16,
                                      min_size=4))
add_raw("g_no_palette.gif", gif_bytes(9, 7, None, (1, 1, 8, 6), idx16[:48] * 13, min_size=8))
add_raw("g_past_palette.gif", gif_bytes(9, 7, pal4, (0, 0, 9, 7), idx16[:63], min_size=4))
add_raw("g_trans_past.gif", gif_bytes(9, 7, pal4, (2, 2, 5, 5), [i % 4 for i in range(25)],
                                      trans=9, min_size=4))
add_raw("g_pal200.gif", gif_bytes(41, 29, pal200, (0, 0, 41, 29),
                                  rng_gif.integers(0, 256, size=41 * 29), min_size=8))
add_raw("g_gray_identity.gif", gif_bytes(8, 8, [(i, i, i) for i in range(4)], (0, 0, 8, 8),
                                         [i % 4 for i in range(64)]))
add("g_pillow.gif", base, "GIF")
add("g_pillow_interlaced.gif", base, "GIF", interlace=True)
add("g_pillow_l.gif", gray, "GIF")
# Pillow's own animated writer: only the first frame counts.
add("g_anim.gif", base, "GIF", save_all=True,
    append_images=[base.transpose(Image.FLIP_LEFT_RIGHT), gray.convert("RGB")], duration=40)

for name, path in files:
    save_decoded(name, path)

# Every cut of one GIF: which ones Pillow still decodes (and then to what).
trunc_src = gif_bytes(23, 11, pal16, (0, 0, 23, 11), idx16[:253], min_size=4)
for cut in range(0, len(trunc_src) + 1):
    path = os.path.join(out_dir, f"g_cut{cut}.gif")
    with open(path, "wb") as f:
        f.write(trunc_src[:cut])
    try:
        arr = np.asarray(Image.open(path).convert("RGB"))
        np.save(os.path.join(out_dir, f"g_cut{cut}.dec.npy"), arr)
        manifest.append(f"verdict {path} OK")
        manifest.append(f"decode {path} g_cut{cut}.dec.npy")
    except Exception:  # noqa: BLE001: any failure to load is the verdict
        manifest.append(f"verdict {path} ERR")

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


# ---- graft_transform --------------------------------------------------------------------

def splitmix64(state):
    """graft's generator (pipeline/decode/transform.c): returns (next state, output)."""
    state = (state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return state, z ^ (z >> 31)


class Draws:
    def __init__(self, seed):
        self.s = seed

    def uniform(self, a, b):
        self.s, x = splitmix64(self.s)
        return a + (b - a) * ((x >> 11) * 2.0 ** -53)

    def below(self, n):
        self.s, x = splitmix64(self.s)
        return ((x >> 32) * n) >> 32


def f32(v):
    return float(np.float32(v))


def rrc_params(width, height, scale, ratio, d):
    """torchvision 0.14 RandomResizedCrop.get_params with graft's draws in place of torch's."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * d.uniform(scale[0], scale[1])
        aspect_ratio = math.exp(d.uniform(log_ratio[0], log_ratio[1]))
        w = int(round(math.sqrt(target_area * aspect_ratio)))
        h = int(round(math.sqrt(target_area / aspect_ratio)))
        if 0 < w <= width and 0 < h <= height:
            i = d.below(height - h + 1)
            j = d.below(width - w + 1)
            return i, j, h, w
    in_ratio = float(width) / float(height)
    if in_ratio < min(ratio):
        w = width
        h = int(round(w / min(ratio)))
    elif in_ratio > max(ratio):
        h = height
        w = int(round(h * max(ratio)))
    else:
        w = width
        h = height
    i = (height - h) // 2
    j = (width - w) // 2
    return i, j, h, w


rrc_cases = [(500, 375, (0.08, 1.0), (3 / 4, 4 / 3)), (37, 1000, (0.08, 1.0), (3 / 4, 4 / 3)),
             (1000, 20, (0.5, 1.0), (3 / 4, 4 / 3)), (64, 64, (0.9, 1.0), (2.0, 3.0)),
             (13, 7, (0.01, 0.02), (0.2, 5.0)), (300, 200, (1.0, 1.0), (1.5, 1.5))]
for (w, h, sc, ra) in rrc_cases:
    sc32, ra32 = (f32(sc[0]), f32(sc[1])), (f32(ra[0]), f32(ra[1]))
    for seed in (0, 1, 2, 7, 12345, 2 ** 63 + 5):
        d = Draws(seed)
        i, j, bh, bw = rrc_params(w, h, sc32, ra32, d)
        flip = 1 if d.uniform(0.0, 1.0) < 0.5 else 0
        manifest.append(f"rrc_box {w} {h} {seed} {sc[0]!r} {sc[1]!r} {ra[0]!r} {ra[1]!r} "
                        f"{j} {i} {bw} {bh} {flip}")

if have_tv:
    import torchvision.transforms.functional as TF

    photos = list(shared_files)
    tar_path = os.path.join(os.path.dirname(os.path.dirname(shared)), "data",
                            "hymenoptera.tar") if shared else None
    if tar_path and os.path.exists(tar_path):
        with tarfile.open(tar_path) as tf:
            names = sorted(m.name for m in tf.getmembers()
                           if m.isfile() and m.name.lower().endswith(".jpg"))
            for k, name in enumerate(names[::len(names) // 8][:8]):
                path = os.path.join(out_dir, f"hym{k}.jpg")
                with open(path, "wb") as f:
                    f.write(tf.extractfile(name).read())
                photos.append(path)
    photos += [os.path.join(out_dir, n) for n in ("q90_420.jpg", "progressive.jpg", "gray.jpg",
                                                   "cmyk.jpg", "rgb.png", "g_offset.gif")]
    norm = T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])
    for src in photos:
        im = Image.open(src).convert("RGB")
        for size in (224, 128):
            t = T.Compose([T.Resize(size * 256 // 224), T.CenterCrop(size), T.ToTensor(), norm])
            x = t(im)
            np.save(os.path.join(out_dir, f"tf{n}.npy"), x.numpy().astype(np.float32))
            manifest.append(f"transform {src} imagenet {size} 0 tf{n}.npy")
            n += 1
            if size == 224:
                np.save(os.path.join(out_dir, f"tf{n}.npy"),
                        TF.hflip(x).numpy().astype(np.float32))
                manifest.append(f"transform {src} imagenet {size} 1 tf{n}.npy")
                n += 1
        # RandomResizedCrop's second half for fixed boxes, both filters.
        W, H = im.size
        for (x0, y0, bw, bh, ow, oh) in [(0, 0, W, H, 224, 224), (W // 5, H // 7, W // 2, H // 3,
                                          224, 224), (W - 31, H - 17, 31, 17, 64, 48),
                                         (3, 2, W - 5, H - 9, 97, 301)]:
            if bw < 1 or bh < 1 or x0 < 0 or y0 < 0 or x0 + bw > W or y0 + bh > H:
                continue
            for fname in ("bilinear", "bicubic"):
                out = TF.resized_crop(im, y0, x0, bh, bw, [oh, ow], interpolation=modes[fname])
                np.save(os.path.join(out_dir, f"rcr{n}.npy"), np.asarray(out))
                manifest.append(f"rcrop {src} {x0} {y0} {bw} {bh} {ow} {oh} {fname} rcr{n}.npy")
                n += 1

with open(os.path.join(out_dir, "manifest.txt"), "w") as f:
    f.write("\n".join(manifest) + "\n")
print(f"pil_reference: {len(manifest)} cases, torchvision {'yes' if have_tv else 'no'}")
