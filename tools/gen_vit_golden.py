#!/usr/bin/python3
"""Golden vectors for BlindTuner's transformer (tests/nn/vit_golden.cpp).

An independent PyTorch (float64) implementation of the DeiT-style ViT described in
include/bt/nn/vit.hpp: patch embedding as a strided convolution, [cls, (dist)] tokens,
learned position embeddings, pre-LayerNorm blocks with multi-head attention and an
exact-erf GELU MLP, final LayerNorm, linear head(s). It writes, under tests/nn/golden/:

  vit_<case>.safetensors   config and generator scales in __metadata__; input images,
                           labels, logits, loss, features, and parameter gradients (every
                           element for small models; for the DeiT-tiny-shaped one 64
                           sampled elements per tensor plus sum and sum of |.|)
  hf_deit.safetensors      a synthetic checkpoint under Hugging Face DeiT names (F16)
  timm_vit.safetensors     a synthetic checkpoint under timm names (BF16)
  loaders.safetensors      images and expected features for those two checkpoints, and
                           torch's bilinear resize of a small plane (up and down)

Parameters are not stored: both sides generate them with the same integer generator
(splitmix64, 24-bit uniforms scaled by powers of two, so float32 values agree bit for bit).
Run with Debian's python3-torch:  /usr/bin/python3 tools/gen_vit_golden.py
Needs no safetensors package (the format is written by hand here).
"""
import json
import math
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "nn", "golden")
M64 = (1 << 64) - 1

NAMES = ["patch_w", "patch_b", "cls_token", "dist_token", "pos_embed", "ln1_w", "ln1_b", "qkv_w", "qkv_b",
         "proj_w", "proj_b", "ln2_w", "ln2_b", "fc1_w", "fc1_b", "fc2_w", "fc2_b", "lnf_w", "lnf_b",
         "head_w", "head_b", "head_dist_w", "head_dist_b"]


def splitmix_stream(seed, n):
    """n 24-bit integers from splitmix64 seeded with `seed` (as src/nn tests do)."""
    out = np.empty(n, dtype=np.int64)
    s = seed & M64
    for i in range(n):
        s = (s + 0x9E3779B97F4A7C15) & M64
        z = s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        z = z ^ (z >> 31)
        out[i] = z >> 40
    return out


def gen_tensor(seed, n, scale, offset):
    """float32: (k * 2^-23 - 1) * scale + offset, each step rounded to float32."""
    k = splitmix_stream(seed, n).astype(np.float32)
    u = k * np.float32(2.0 ** -23) - np.float32(1.0)
    return (u * np.float32(scale) + np.float32(offset)).astype(np.float32)


def shapes(cfg):
    C, H, K, L, T = cfg["width"], cfg["mlp_hidden"], cfg["num_classes"], cfg["depth"], cfg["tokens"]
    PD = cfg["channels"] * cfg["patch_size"] ** 2
    d = cfg["distilled"]
    return {
        "patch_w": (C, PD), "patch_b": (C,), "cls_token": (C,), "dist_token": (C,) if d else None,
        "pos_embed": (T, C), "ln1_w": (L, C), "ln1_b": (L, C), "qkv_w": (L, 3 * C, C), "qkv_b": (L, 3 * C),
        "proj_w": (L, C, C), "proj_b": (L, C), "ln2_w": (L, C), "ln2_b": (L, C), "fc1_w": (L, H, C),
        "fc1_b": (L, H), "fc2_w": (L, C, H), "fc2_b": (L, C), "lnf_w": (C,), "lnf_b": (C,),
        "head_w": (K, C), "head_b": (K,), "head_dist_w": (K, C) if d else None, "head_dist_b": (K,) if d else None,
    }


def pow2_at_most(x):
    return 2.0 ** math.floor(math.log2(x))


def scales(cfg):
    """(scale, offset) per tensor: powers of two so that float32 products are exact-ish and
    identical on both sides; sized so that activations stay O(1)."""
    C, H, PD = cfg["width"], cfg["mlp_hidden"], cfg["channels"] * cfg["patch_size"] ** 2
    s = {}
    for n in NAMES:
        if n.endswith("_b") or n.endswith("_b"):
            s[n] = (0.125, 0.0)
        else:
            s[n] = (0.5, 0.0)
    s["patch_w"] = (2 * pow2_at_most(1 / math.sqrt(PD)), 0.0)
    for n in ("qkv_w", "proj_w", "fc1_w", "head_w", "head_dist_w"):
        s[n] = (2 * pow2_at_most(1 / math.sqrt(C)), 0.0)
    s["fc2_w"] = (2 * pow2_at_most(1 / math.sqrt(H)), 0.0)
    for n in ("ln1_w", "ln2_w", "lnf_w"):
        s[n] = (0.25, 1.0)
    return s


def make_params(cfg, seed):
    sh, sc = shapes(cfg), scales(cfg)
    params = {}
    for i, n in enumerate(NAMES):
        if sh[n] is None:
            continue
        numel = int(np.prod(sh[n]))
        params[n] = gen_tensor(seed * 1000 + i, numel, *sc[n]).reshape(sh[n])
    return params, sc


# ------------------------------------------------------------------ the model (float64)
def forward(cfg, P, images):
    B = images.shape[0]
    C, NH, L, p = cfg["width"], cfg["heads"], cfg["depth"], cfg["patch_size"]
    hs = C // NH
    eps = cfg["ln_eps"]
    w = P["patch_w"].reshape(C, cfg["channels"], p, p)
    x = F.conv2d(images, w, P["patch_b"], stride=p)          # [B, C, G, G]
    x = x.flatten(2).transpose(1, 2)                           # [B, NP, C]
    prefix = [P["cls_token"].reshape(1, 1, C).expand(B, 1, C)]
    if cfg["distilled"]:
        prefix.append(P["dist_token"].reshape(1, 1, C).expand(B, 1, C))
    x = torch.cat(prefix + [x], dim=1) + P["pos_embed"].unsqueeze(0)
    T = x.shape[1]
    for l in range(L):
        h = F.layer_norm(x, (C,), P["ln1_w"][l], P["ln1_b"][l], eps)
        qkv = F.linear(h, P["qkv_w"][l], P["qkv_b"][l]).reshape(B, T, 3, NH, hs).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]                       # [B, NH, T, hs]
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(hs), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, C)
        x = x + F.linear(y, P["proj_w"][l], P["proj_b"][l])
        h = F.layer_norm(x, (C,), P["ln2_w"][l], P["ln2_b"][l], eps)
        h = F.gelu(F.linear(h, P["fc1_w"][l], P["fc1_b"][l]))  # exact erf GELU
        x = x + F.linear(h, P["fc2_w"][l], P["fc2_b"][l])
    x = F.layer_norm(x, (C,), P["lnf_w"], P["lnf_b"], eps)
    feats = x[:, 0]
    logits = None
    if cfg["num_classes"]:
        logits = F.linear(feats, P["head_w"], P["head_b"])
        if cfg["distilled"]:
            logits = 0.5 * (logits + F.linear(x[:, 1], P["head_dist_w"], P["head_dist_b"]))
    return feats, logits


# ------------------------------------------------------------------ safetensors by hand
def write_safetensors(path, tensors, metadata, dtype="F32"):
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    for name, arr in tensors.items():
        a = np.ascontiguousarray(arr)
        if dtype == "F32":
            raw = a.astype("<f4").tobytes()
        elif dtype == "F16":
            raw = a.astype("<f2").tobytes()
        elif dtype == "BF16":
            bits = a.astype("<f4").view("<u4")
            raw = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype("<u2").tobytes()  # round to nearest even
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def stored_values(arr, dtype):
    """What a reader gets back from `arr` written as `dtype`."""
    a = np.asarray(arr, dtype=np.float32)
    if dtype == "F16":
        return a.astype(np.float16).astype(np.float32)
    if dtype == "BF16":
        bits = a.view(np.uint32)
        r = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint32) << 16
        return r.view(np.float32)
    return a


def cfg_metadata(cfg):
    md = {k: cfg[k] for k in ("image_size", "channels", "patch_size", "width", "depth", "heads", "mlp_hidden",
                              "num_classes")}
    md["distilled"] = 1 if cfg["distilled"] else 0
    md["ln_eps"] = repr(cfg["ln_eps"])
    return md


def complete(cfg):
    cfg = dict(cfg)
    cfg["tokens"] = (cfg["image_size"] // cfg["patch_size"]) ** 2 + (2 if cfg["distilled"] else 1)
    return cfg


# ------------------------------------------------------------------ golden cases
def golden_case(name, cfg, seed, batch, sample_grads):
    cfg = complete(cfg)
    params, sc = make_params(cfg, seed)
    P = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    S, Cin = cfg["image_size"], cfg["channels"]
    images = gen_tensor(seed * 1000 + 999, batch * Cin * S * S, 1.0, 0.0).reshape(batch, Cin, S, S)
    labels = np.array([(3 * b + 1) % cfg["num_classes"] for b in range(batch)], dtype=np.int64)
    feats, logits = forward(cfg, P, torch.tensor(images, dtype=torch.float64))
    loss = F.cross_entropy(logits, torch.tensor(labels))
    loss.backward()
    out = {"images": images, "labels": labels.astype(np.float32),
           "features": feats.detach().numpy().astype(np.float32),
           "logits": logits.detach().numpy().astype(np.float32),
           "loss": np.array([loss.item()], dtype=np.float32)}
    rng = np.random.default_rng(seed)
    for n in NAMES:
        if n not in P:
            continue
        g = P[n].grad.numpy().reshape(-1)
        if sample_grads:
            idx = np.sort(rng.choice(g.size, size=min(64, g.size), replace=False))
            out["gradidx." + n] = idx.astype(np.float32)  # exact: indices < 2^24
            out["gradval." + n] = g[idx].astype(np.float32)
            out["gradsum." + n] = np.array([g.sum(), np.abs(g).sum()], dtype=np.float32)
        else:
            out["grad." + n] = g.astype(np.float32)
    md = cfg_metadata(cfg)
    md["seed"] = seed
    for n, (s, o) in sc.items():
        md["scale." + n] = repr(s)
        md["offset." + n] = repr(o)
    write_safetensors(os.path.join(OUT, "vit_%s.safetensors" % name), out, md)
    print("vit_%s: loss %.6f, %d params" % (name, loss.item(), sum(v.size for v in params.values())))


def to_hf(cfg, params, prefix):
    C, L = cfg["width"], cfg["depth"]
    p = cfg["patch_size"]
    t = {prefix + "embeddings.cls_token": params["cls_token"].reshape(1, 1, C)}
    if cfg["distilled"]:
        t[prefix + "embeddings.distillation_token"] = params["dist_token"].reshape(1, 1, C)
    t[prefix + "embeddings.position_embeddings"] = params["pos_embed"].reshape(1, -1, C)
    t[prefix + "embeddings.patch_embeddings.projection.weight"] = params["patch_w"].reshape(C, cfg["channels"], p, p)
    t[prefix + "embeddings.patch_embeddings.projection.bias"] = params["patch_b"]
    for l in range(L):
        b = prefix + "encoder.layer.%d." % l
        t[b + "layernorm_before.weight"] = params["ln1_w"][l]
        t[b + "layernorm_before.bias"] = params["ln1_b"][l]
        for j, part in enumerate(("query", "key", "value")):
            t[b + "attention.attention.%s.weight" % part] = params["qkv_w"][l][j * C:(j + 1) * C]
            t[b + "attention.attention.%s.bias" % part] = params["qkv_b"][l][j * C:(j + 1) * C]
        t[b + "attention.output.dense.weight"] = params["proj_w"][l]
        t[b + "attention.output.dense.bias"] = params["proj_b"][l]
        t[b + "layernorm_after.weight"] = params["ln2_w"][l]
        t[b + "layernorm_after.bias"] = params["ln2_b"][l]
        t[b + "intermediate.dense.weight"] = params["fc1_w"][l]
        t[b + "intermediate.dense.bias"] = params["fc1_b"][l]
        t[b + "output.dense.weight"] = params["fc2_w"][l]
        t[b + "output.dense.bias"] = params["fc2_b"][l]
    t[prefix + "layernorm.weight"] = params["lnf_w"]
    t[prefix + "layernorm.bias"] = params["lnf_b"]
    if cfg["num_classes"]:
        head = "cls_classifier" if cfg["distilled"] else "classifier"
        t[head + ".weight"] = params["head_w"]
        t[head + ".bias"] = params["head_b"]
        if cfg["distilled"]:
            t["distillation_classifier.weight"] = params["head_dist_w"]
            t["distillation_classifier.bias"] = params["head_dist_b"]
    return t


def to_timm(cfg, params):
    C, L, p = cfg["width"], cfg["depth"], cfg["patch_size"]
    t = {"cls_token": params["cls_token"].reshape(1, 1, C), "pos_embed": params["pos_embed"].reshape(1, -1, C),
         "patch_embed.proj.weight": params["patch_w"].reshape(C, cfg["channels"], p, p),
         "patch_embed.proj.bias": params["patch_b"]}
    if cfg["distilled"]:
        t["dist_token"] = params["dist_token"].reshape(1, 1, C)
    for l in range(L):
        b = "blocks.%d." % l
        for ours, theirs in (("ln1_w", "norm1.weight"), ("ln1_b", "norm1.bias"), ("qkv_w", "attn.qkv.weight"),
                             ("qkv_b", "attn.qkv.bias"), ("proj_w", "attn.proj.weight"), ("proj_b", "attn.proj.bias"),
                             ("ln2_w", "norm2.weight"), ("ln2_b", "norm2.bias"), ("fc1_w", "mlp.fc1.weight"),
                             ("fc1_b", "mlp.fc1.bias"), ("fc2_w", "mlp.fc2.weight"), ("fc2_b", "mlp.fc2.bias")):
            t[b + theirs] = params[ours][l]
    t["norm.weight"], t["norm.bias"] = params["lnf_w"], params["lnf_b"]
    if cfg["num_classes"]:
        t["head.weight"], t["head.bias"] = params["head_w"], params["head_b"]
    return t


def loader_case(cfg, seed, fmt, dtype, fname, eps):
    """A checkpoint under foreign names, and the features PyTorch computes from exactly the
    values a reader gets back (after F16/BF16 rounding)."""
    cfg = complete(cfg)
    cfg["ln_eps"] = eps
    params, _ = make_params(cfg, seed)
    named = to_hf(cfg, params, "deit.") if fmt == "hf" else to_timm(cfg, params)
    md = {"format": "pt"}
    if fmt == "hf":
        named["deit.pooler.dense.weight"] = np.zeros((1, 1), np.float32)  # ignored by the loader
    write_safetensors(os.path.join(OUT, fname), named, md, dtype)
    rounded = {k: stored_values(v, dtype) for k, v in params.items()}
    P = {k: torch.tensor(v, dtype=torch.float64) for k, v in rounded.items()}
    S, Cin = cfg["image_size"], cfg["channels"]
    images = gen_tensor(seed * 1000 + 999, 2 * Cin * S * S, 1.0, 0.0).reshape(2, Cin, S, S)
    feats, logits = forward(cfg, P, torch.tensor(images, dtype=torch.float64))
    return images, feats.numpy().astype(np.float32), logits.numpy().astype(np.float32)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    # A small distilled model with every gradient element stored.
    golden_case("small", dict(image_size=8, channels=2, patch_size=4, width=16, depth=2, heads=2, mlp_hidden=32,
                              num_classes=5, distilled=True, ln_eps=1e-6), seed=11, batch=3, sample_grads=False)
    # DeiT-tiny-shaped at reduced depth and image size: width 192, 3 heads, MLP 768, patch 16.
    golden_case("deit_tiny_l2", dict(image_size=32, channels=3, patch_size=16, width=192, depth=2, heads=3,
                                     mlp_hidden=768, num_classes=10, distilled=False, ln_eps=1e-6),
                seed=12, batch=2, sample_grads=True)
    # Foreign checkpoints (no bt metadata): config inferred from shapes, heads = width/64.
    hf_cfg = dict(image_size=16, channels=3, patch_size=8, width=128, depth=1, heads=2, mlp_hidden=128,
                  num_classes=4, distilled=True)
    timm_cfg = dict(image_size=12, channels=1, patch_size=4, width=64, depth=2, heads=1, mlp_hidden=128,
                    num_classes=3, distilled=False)
    hi, hf_feats, hf_logits = loader_case(hf_cfg, 13, "hf", "F16", "hf_deit.safetensors", 1e-12)
    ti, timm_feats, timm_logits = loader_case(timm_cfg, 14, "timm", "BF16", "timm_vit.safetensors", 1e-6)
    # Bilinear resize as torch does it (align_corners=False, no antialiasing), up and down.
    plane = gen_tensor(15, 5 * 7, 1.0, 0.0).reshape(1, 1, 5, 7)
    t = torch.tensor(plane, dtype=torch.float64)
    up = F.interpolate(t, size=(8, 11), mode="bilinear", align_corners=False).numpy().astype(np.float32)
    down = F.interpolate(t, size=(3, 4), mode="bilinear", align_corners=False).numpy().astype(np.float32)
    write_safetensors(os.path.join(OUT, "loaders.safetensors"),
                      {"hf.images": hi, "hf.features": hf_feats, "hf.logits": hf_logits,
                       "timm.images": ti, "timm.features": timm_feats, "timm.logits": timm_logits,
                       "resize.in": plane.reshape(5, 7), "resize.up": up.reshape(8, 11),
                       "resize.down": down.reshape(3, 4)},
                      {"generator": "tools/gen_vit_golden.py"})
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("golden files: %d bytes" % total)


if __name__ == "__main__":
    sys.exit(main())
