#!/usr/bin/env python3
"""PyTorch as the oracle of the bench's equivalence check: each engine's distance to PyTorch float64.

  peer_oracle.py FILE ARCH [--json OUT]

FILE is what `bench/suite.ts --dump DIR` wrote for one training row of a torchvision zoo model (ARCH: resnet18,
resnet50, googlenet): the starting state dict, the batch, and every tensor the check compared, per engine, in
webgrad's layouts. This script builds torchvision's ARCH (torch 1.13 / torchvision 0.14 from Debian) with that
state, runs the same training step (train-mode batch norm, mean softmax cross-entropy, SGD lr 0.01 momentum 0.9)
in float64 and in float32, and prints for every compared tensor the relative L2 distance
||engine - torch64|| / ||torch64|| of webgrad, tfjs, jax-js and of PyTorch float32 itself. PyTorch float32's own
distance measures how much float32 rounding moves that quantity (its conditioning at this point). The verdict
(see `verdict`) passes an engine whose largest distance over the gradients, and over the parameters after the
step, is at most PyTorch float32's; bench/workloads.ts asks for it when a zoo row fails its fixed tolerances.

GoogLeNet is built as the bench builds it: aux_logits=False, transform_input=False, and no dropout (the bench
builds webgrad's GoogLeNet with `dropout: 0`, and the peers have none), so its dropout is replaced by the
identity here. Running statistics are left out: torch and webgrad's zoo (TorchBatchNorm2d) update running_var
with the unbiased batch variance, the peers with the biased one, and the gradients do not see either.
"""
import json
import sys

import torch
import torch.nn.functional as F

from torch_fixtures import build, load_safetensors

LR = 0.01
MOMENTUM = 0.9
ENGINES = ["webgrad", "tfjs", "jax-js"]


def to_torch(flat, shape):
    """A flat tensor in webgrad's layout (HWIO, [in, out]) as a torch tensor of `shape` (OIHW, [out, in])."""
    if len(shape) == 4:
        o, i, h, w = shape
        return flat.reshape(h, w, i, o).permute(3, 2, 0, 1).contiguous()
    if len(shape) == 2:
        return flat.reshape(shape[1], shape[0]).t().contiguous()
    return flat.reshape(shape)


def to_webgrad(t):
    """The inverse of to_torch, flattened."""
    if t.dim() == 4:
        return t.permute(2, 3, 1, 0).reshape(-1)
    if t.dim() == 2:
        return t.t().reshape(-1)
    return t.reshape(-1)


def step(arch, dump, dtype):
    """One training step of torchvision's ARCH from the dumped state: loss, gradients, parameters after, by check name."""
    torch.manual_seed(0)
    model = build(arch, 10)
    if arch == "googlenet":
        model.dropout = torch.nn.Identity()
    state = model.state_dict()
    for name, t in state.items():
        if name.endswith("num_batches_tracked"):
            continue
        t.copy_(to_torch(dump[f"start/{name}"], list(t.shape)))
    model = model.to(dtype).train()
    x = dump["start/input"]
    n = dump["start/labels"].numel()
    x = x.reshape(n, -1, int((x.numel() // n // 3) ** 0.5), 3).permute(0, 3, 1, 2).to(dtype)
    labels = dump["start/labels"].round().long()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    loss = F.cross_entropy(model(x), labels)
    loss.backward()
    out = {"step 1 loss": loss.detach().reshape(1).double()}
    for name, p in model.named_parameters():
        out[f"step 1 gradient of {name}"] = to_webgrad(p.grad.detach()).double()
    opt.step()
    for name, p in model.named_parameters():
        out[f"{name} after 1 steps"] = to_webgrad(p.detach()).double()
    return out


def group(what):
    """The verdict's groups: the loss, the gradients, the parameters after the step."""
    return "loss" if what.endswith(" loss") else "gradients" if " gradient of " in what else "parameters"


def verdict(rows):
    """Per group, each engine's largest relative L2 distance to torch64 over the group's tensors, beside PyTorch
    float32's; an engine passes when, in the gradients and in the parameters, its largest distance is at most
    PyTorch float32's. Per tensor the float32 spread is lumpy (one ReLU mask flip of a pre-activation below float32's
    forward error moves one channel by a whole element's gradient, in any engine), so the group maxima are compared."""
    out = {}
    for who in ["torch32"] + ENGINES:
        have = [r for r in rows if who in r]
        if not have:
            continue
        out[who] = {g: max((r[who] for r in have if group(r["what"]) == g), default=0.0) for g in ["loss", "gradients", "parameters"]}
    for e in ENGINES:
        if e in out:
            out[e]["pass"] = all(out[e][g] <= out["torch32"][g] for g in ["gradients", "parameters"])
    return out


def rel_l2(got, ref):
    d = torch.linalg.norm(got - ref).item()
    return 0.0 if d == 0 else d / torch.linalg.norm(ref).item()


def main():
    path, arch = sys.argv[1], sys.argv[2]
    json_out = sys.argv[sys.argv.index("--json") + 1] if "--json" in sys.argv else None
    dump = {k: v.double() for k, v in load_safetensors(path).items()}
    ref = step(arch, dump, torch.float64)
    f32 = step(arch, dump, torch.float32)
    rows = []
    for what, want in ref.items():
        row = {"what": what, "torch32": rel_l2(f32[what], want), "torch32MaxAbs": (f32[what] - want).abs().max().item()}
        for e in ENGINES:
            got = dump.get(f"{e}/{what}")
            if got is not None:
                row[e] = rel_l2(got, want)
                row[f"{e}MaxAbs"] = (got - want).abs().max().item()
        rows.append(row)
    print(f"{arch}: relative L2 distance to PyTorch float64 (max |diff| in brackets); 'x' = engine / torch32")
    print(f"{'tensor':58s} {'torch32':>20s} " + " ".join(f"{e:>28s}" for e in ENGINES))
    for r in rows:
        cells = []
        for e in ENGINES:
            if e in r:
                ratio = r[e] / r["torch32"] if r["torch32"] > 0 else float("inf")
                cells.append(f"{r[e]:9.2e} [{r[e + 'MaxAbs']:8.1e}] {ratio:6.1f}x")
            else:
                cells.append(f"{'-':>28s}")
        print(f"{r['what'][:58]:58s} {r['torch32']:9.2e} [{r['torch32MaxAbs']:8.1e}] " + " ".join(cells))
    for e in ENGINES:
        have = [r for r in rows if e in r]
        if not have:
            continue
        worst = max(have, key=lambda r: r[e] / max(r["torch32"], 1e-300))
        print(
            f"{e}: worst relative to torch32 is {worst['what']}: {worst[e]:.2e} vs torch32 {worst['torch32']:.2e}; "
            f"largest distance {max(r[e] for r in have):.2e}"
        )
    result = verdict(rows)
    for who, v in result.items():
        print(f"{who}: largest distance, loss {v['loss']:.2e}, gradients {v['gradients']:.2e}, parameters {v['parameters']:.2e}" + ("" if who == "torch32" else f": {'pass' if v['pass'] else 'FAIL'}"))
    if json_out:
        with open(json_out, "w") as f:
            json.dump({"arch": arch, "verdict": result, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
