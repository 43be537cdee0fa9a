#!/usr/bin/env python3
"""PyTorch fixtures for webgrad's parity tests (run by /usr/bin/python3 with Debian's torch 1.13 / torchvision 0.14).

  torch_fixtures.py pool DIR                 pooling cases (explicit padding, ceil mode) -> DIR/pool.json + .bin
  torch_fixtures.py models DIR ARCH SIZE...  a seeded torchvision model with non-trivial batch-norm statistics:
                                             DIR/ARCH.pth (torch.save of the state dict), DIR/ARCH.safetensors,
                                             DIR/ARCH_SIZE_input.bin (NHWC f32) and DIR/ARCH_SIZE_logits.bin (f32)
  torch_fixtures.py keys DIR                  DIR/keys.json: {arch: {state-dict name: shape}} for every architecture
  torch_fixtures.py bntrain DIR ARCH SIZE PASSES
                                             the seeded model of `models` (DIR/ARCH.pth), then PASSES forward passes
                                             in train mode on one batch of 2 (DIR/ARCH_bntrain_input.bin, NHWC f32):
                                             DIR/ARCH_bntrain_logits_I.bin after pass I (GoogLeNet's dropout in eval
                                             mode, so the logits are deterministic) and DIR/ARCH_bntrain.safetensors,
                                             the state dict after the last pass (updated running_mean / running_var)
  torch_fixtures.py logits FILE ARCH CLASSES INPUT SIZE OUT
                                             loads a state dict webgrad exported (.pth via torch.load with
                                             weights_only=True where available, or .safetensors) into torchvision's
                                             ARCH with strict=True and writes its eval logits on INPUT to OUT
Binary files are raw little-endian float32; shapes are in the JSON or given by the test.
"""
import json
import struct
import sys

import torch
import torch.nn.functional as F
import torchvision


def write_f32(path, t):
    with open(path, "wb") as f:
        f.write(t.detach().contiguous().to(torch.float32).numpy().tobytes())


def nhwc(x):
    return x.permute(0, 2, 3, 1)


def pool(out_dir):
    # (shape NCHW, kernel, stride, padding, ceil_mode)
    cases = [
        ((2, 3, 9, 9), 3, 2, 1, True),
        ((1, 4, 8, 8), 3, 2, 1, False),
        ((2, 5, 10, 7), 3, 2, 0, True),
        ((1, 8, 14, 14), 2, 2, 0, True),
        ((1, 3, 7, 7), 2, 2, 0, True),
        ((2, 4, 6, 6), 3, 1, 1, True),
        ((1, 6, 13, 11), 3, 2, 1, True),
        ((1, 2, 15, 15), 4, 3, 1, True),
    ]
    torch.manual_seed(1)
    meta = []
    for i, (shape, k, s, p, ceil) in enumerate(cases):
        x = torch.randn(*shape)
        mx = F.max_pool2d(x, k, s, p, ceil_mode=ceil)
        av = F.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=False)
        write_f32(f"{out_dir}/pool{i}_x.bin", nhwc(x))
        write_f32(f"{out_dir}/pool{i}_max.bin", nhwc(mx))
        write_f32(f"{out_dir}/pool{i}_avg.bin", nhwc(av))
        meta.append(
            {
                "shape": list(nhwc(x).shape),
                "outShape": list(nhwc(mx).shape),
                "kernel": k,
                "stride": s,
                "padding": p,
                "ceilMode": ceil,
            }
        )
    with open(f"{out_dir}/pool.json", "w") as f:
        json.dump(meta, f)


def build(arch, classes):
    if arch == "googlenet":
        return torchvision.models.googlenet(
            weights=None, num_classes=classes, aux_logits=False, init_weights=True, transform_input=False
        )
    return getattr(torchvision.models, arch)(weights=None, num_classes=classes)


def randomize_batch_norm(model, gen):
    """Non-trivial affine parameters and running statistics, so a wrong eps or a swapped key shows."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.1)
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)
                m.num_batches_tracked.fill_(7)
        if isinstance(m, torch.nn.Linear):
            with torch.no_grad():
                m.bias.copy_(torch.randn(m.out_features, generator=gen) * 0.1)


SAFETENSORS_DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.float16: "F16", torch.bfloat16: "BF16"}


def save_safetensors(path, state):
    """The safetensors layout written by hand (the Python package is not in Debian): header JSON, then raw data."""
    header, blobs, offset = {}, [], 0
    for name, t in state.items():
        t = t.detach().contiguous()
        data = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": SAFETENSORS_DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    dtypes = {"F32": torch.float32, "I64": torch.int64, "I32": torch.int32}
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        buf = bytearray(raw[8 + n + a : 8 + n + b])
        out[name] = torch.frombuffer(buf, dtype=dtypes[e["dtype"]]).reshape(e["shape"]).clone()
    return out


def seeded_model(out_dir, arch):
    """The seeded model with non-trivial batch-norm statistics, saved as DIR/ARCH.pth; returns it and the generator."""
    torch.manual_seed(8)
    gen = torch.Generator().manual_seed(9)
    model = build(arch, 10)
    randomize_batch_norm(model, gen)
    model.eval()
    torch.save(model.state_dict(), f"{out_dir}/{arch}.pth")
    return model, gen


def models(out_dir, arch, sizes):
    model, gen = seeded_model(out_dir, arch)
    save_safetensors(f"{out_dir}/{arch}.safetensors", model.state_dict())
    for size in sizes:
        x = torch.randn(2, 3, size, size, generator=gen)
        with torch.no_grad():
            logits = model(x)
        write_f32(f"{out_dir}/{arch}_{size}_input.bin", nhwc(x))
        write_f32(f"{out_dir}/{arch}_{size}_logits.bin", logits)


def bntrain(out_dir, arch, size, passes):
    """Train-mode forwards update every BatchNorm2d's running statistics (unbiased batch variance, momentum 0.1)."""
    model, gen = seeded_model(out_dir, arch)
    x = torch.randn(2, 3, size, size, generator=gen)
    write_f32(f"{out_dir}/{arch}_bntrain_input.bin", nhwc(x))
    model.train()
    if hasattr(model, "dropout"):
        model.dropout.eval()
    for i in range(passes):
        with torch.no_grad():
            write_f32(f"{out_dir}/{arch}_bntrain_logits_{i}.bin", model(x))
    save_safetensors(f"{out_dir}/{arch}_bntrain.safetensors", model.state_dict())


def keys(out_dir):
    result = {}
    for arch in ["resnet18", "resnet34", "resnet50", "googlenet"]:
        result[arch] = {k: list(v.shape) for k, v in build(arch, 10).state_dict().items()}
    with open(f"{out_dir}/keys.json", "w") as f:
        json.dump(result, f)


def logits(path, arch, classes, input_path, size, out_path):
    model = build(arch, classes)
    if path.endswith(".safetensors"):
        state = load_safetensors(path)
    else:
        try:
            state = torch.load(path, weights_only=True)
        except TypeError:  # torch before 1.13 has no weights_only
            state = torch.load(path)
    model.load_state_dict(state, strict=True)
    model.eval()
    with open(input_path, "rb") as f:
        x = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(-1, size, size, 3)
    with torch.no_grad():
        write_f32(out_path, model(x.permute(0, 3, 1, 2).contiguous()))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "pool":
        pool(args[0])
    elif cmd == "models":
        models(args[0], args[1], [int(s) for s in args[2:]])
    elif cmd == "bntrain":
        bntrain(args[0], args[1], int(args[2]), int(args[3]))
    elif cmd == "keys":
        keys(args[0])
    elif cmd == "logits":
        logits(args[0], args[1], int(args[2]), args[3], int(args[4]), args[5])
    else:
        sys.exit(f"unknown command {cmd}")
