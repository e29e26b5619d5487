#!/usr/bin/env python3
"""Golden files for the data loaders (tests/nn/golden/): PNG images written with Python's
zlib (every colour type and bit depth the decoder reads, every filter type, several IDAT
chunks, ancillary chunks, stored/fixed/dynamic DEFLATE), each with the decoded pixels it
must give (a .raw file: rows x cols x channels bytes, channels 1 or 3); PNGs the decoder
must refuse (interlaced, 16-bit); .npy files in numpy's own header layout and .npz
archives written the way numpy's savez / savez_compressed write them (zipfile, ZIP64
forced on every entry). No numpy needed: the .npy header follows numpy/lib/format.py.

Run from the repository root:  python3 tools/gen_data_golden.py
"""
import os
import struct
import zipfile
import zlib

OUT = "tests/nn/golden"


# ---------------------------------------------------------------- PNG
def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_row(ft, row, prev, bpp):
    out = bytearray()
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][ft]
        out.append((x - pred) & 0xFF)
    return bytes([ft]) + bytes(out)


def pack_samples(samples, depth):
    """Samples of one row to bytes, MSB first for depths below 8."""
    if depth >= 8:  # 16-bit rows are given as their bytes
        return bytes(samples)
    out, acc, nbits = bytearray(), 0, 0
    for s in samples:
        acc = (acc << depth) | s
        nbits += depth
        if nbits == 8:
            out.append(acc)
            acc, nbits = 0, 0
    if nbits:
        out.append(acc << (8 - nbits))
    return bytes(out)


def png(width, height, depth, ctype, rows, filters, level=6, palette=None, idat_parts=1, extra=b"", interlace=0):
    """rows: per row, the list of samples. filters: a filter type per row."""
    spp = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
    bpp = max(1, depth * spp // 8)
    raw, prev = bytearray(), bytes(len(pack_samples(rows[0], depth)))
    for y in range(height):
        cur = pack_samples(rows[y], depth)
        raw += filter_row(filters[y % len(filters)], cur, prev, bpp)
        prev = cur
    z = zlib.compress(bytes(raw), level)
    parts = [z[i * len(z) // idat_parts:(i + 1) * len(z) // idat_parts] for i in range(idat_parts)]
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, ctype, 0, 0, interlace))
    out += extra
    if palette is not None:
        out += chunk(b"PLTE", bytes(c for rgb in palette for c in rgb))
    for p in parts:
        out += chunk(b"IDAT", p)
    return out + chunk(b"IEND", b"")


def value(x, y, k, mod):
    return (x * 37 + y * 11 + k * 101 + (x * y) % 7) % mod


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def gen_pngs():
    W, H = 13, 7  # odd sizes: partial bytes at sub-8-bit depths, and Paeth edge cases
    cases = []
    # 8-bit gray, one image per filter type and one with all of them.
    for ft in range(5):
        cases.append((f"gray8_f{ft}", 8, 0, [ft], 1))
    cases.append(("gray8_mixed", 8, 0, [0, 1, 2, 3, 4], 1))
    for d in (1, 2, 4):
        cases.append((f"gray{d}", d, 0, [0, 1, 2, 3, 4], 1))
    cases.append(("rgb8", 8, 2, [4, 3, 2, 1, 0], 3))
    cases.append(("rgba8", 8, 6, [1, 4, 0, 3, 2], 3))
    cases.append(("graya8", 8, 4, [2, 0, 4, 1, 3], 1))
    for d in (1, 2, 4, 8):
        cases.append((f"palette{d}", d, 3, [0, 1, 2, 3, 4], 3))
    for name, d, ctype, filters, ch in cases:
        spp = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ctype]
        mod = 1 << d
        palette = None
        if ctype == 3:
            palette = [((i * 53) % 256, (i * 97 + 31) % 256, (255 - i * 7) % 256) for i in range(mod)]
        rows = [[value(x, y, k, mod) for x in range(W) for k in range(spp)] for y in range(H)]
        level = {"gray8_f0": 0, "gray8_f1": 1}.get(name, 9)  # stored, fixed-ish, dynamic blocks
        parts = 3 if name in ("rgb8", "palette8") else 1
        extra = chunk(b"tEXt", b"Comment\x00golden") + chunk(b"gAMA", struct.pack(">I", 45455)) if name == "rgb8" else b""
        write(f"png_{name}.png", png(W, H, d, ctype, rows, filters, level, palette, parts, extra))
        # The decoded pixels: gray scaled to 0..255, palette expanded, alpha dropped.
        exp = bytearray()
        for y in range(H):
            for x in range(W):
                s = rows[y][x * spp:(x + 1) * spp]
                if ctype == 3:
                    exp += bytes(palette[s[0]])
                elif ctype in (0, 4):
                    exp.append(s[0] * 255 // (mod - 1))
                else:
                    exp += bytes(s[:3])
        assert len(exp) == W * H * ch
        write(f"png_{name}.raw", bytes(exp))
    rows = [[value(x, y, 0, 256) for x in range(W)] for y in range(H)]
    write("png_refused_interlaced.png", png(W, H, 8, 0, rows, [0], interlace=1))
    rows16 = [[v for x in range(W) for v in (value(x, y, 0, 256), 0)] for y in range(H)]
    write("png_refused_16bit.png", png(W, H, 16, 0, rows16, [0]))


# ---------------------------------------------------------------- .npy / .npz
def npy(descr, shape, payload):
    """numpy/lib/format.py: header dict with sorted keys, padded so the data starts at a multiple of 64."""
    d = {"descr": descr, "fortran_order": False, "shape": tuple(shape)}
    header = "{" + "".join("'%s': %s, " % (k, repr(d[k])) for k in sorted(d)) + "}"
    hlen = len(header) + 1
    padlen = 64 - ((8 + 2 + hlen) % 64)
    header = header + " " * padlen + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + payload


def npz(path, members, compressed):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED) as zf:
        for name, data in members:
            with zf.open(name + ".npy", "w", force_zip64=True) as f:  # as numpy's _savez
                f.write(data)


def gen_npy():
    f32 = npy("<f4", (2, 3), struct.pack("<6f", 0.5, -1.25, 3.0, 1e-3, 2.5, -0.0))
    write("npy_f32_2x3.npy", f32)
    write("npy_i64_4.npy", npy("<i8", (4,), struct.pack("<4q", 0, 7, -3, 255)))
    write("npy_u8_2x2x3.npy", npy("|u1", (2, 2, 3), bytes(range(12))))
    write("npy_f64_1x2.npy", npy("<f8", (1, 2), struct.pack("<2d", 1.0 / 3, -2.0)))
    # A small MedMNIST-style archive: 3 train, 2 val, 2 test images of 4 x 5, labels [n, 1].
    img = lambda n, base: npy("|u1", (n, 4, 5), bytes((base + i * 3) % 256 for i in range(n * 20)))
    lab = lambda vals: npy("|u1", (len(vals), 1), bytes(vals))
    members = [("train_images", img(3, 0)), ("train_labels", lab([0, 1, 2])),
               ("val_images", img(2, 50)), ("val_labels", lab([1, 0])),
               ("test_images", img(2, 100)), ("test_labels", lab([2, 1]))]
    npz(os.path.join(OUT, "npz_small_stored.npz"), members, False)
    npz(os.path.join(OUT, "npz_small_deflated.npz"), members, True)


if __name__ == "__main__":
    gen_pngs()
    gen_npy()
