#!/usr/bin/env python3
"""PyTorch reference for `deno task bench`: rebuilds the architecture recorded in bench.json and
times training and inference on the same machine, so the ratio is measured in one run.

Usage: python3 tasks/bench_torch.py [bench.json] [--batch 32] [--steps 30] [--threads N]
       python3 tasks/bench_torch.py bench.json --infer-size 1080 [--steps 3]  (one picture's forward)
       python3 tasks/bench_torch.py bench.json --device cuda  (the same on a GPU, for reference)
Prints one JSON object on stdout. Runs only where torch is installed (Debian: python3-torch).
"""
import argparse
import json
import os
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError:
    print(json.dumps({"error": "torch is not installed (apt-get install python3-torch)"}))
    sys.exit(3)


def conv(layer, c):
    """A conv layer of src/layers/conv.ts: Conv2d (+ ReLU unless linear); its output channels."""
    modules = [nn.Conv2d(c, layer["filters"], layer["kernel"],
                         stride=layer.get("stride", 1), padding=layer.get("padding", 0))]
    if layer.get("activation", "relu") == "relu":
        modules.append(nn.ReLU())
    return modules, layer["filters"]


def pool(layer, c):
    """A pool layer of src/layers/pool.ts: MaxPool2d; its output channels."""
    k = layer["kernel"]
    return [nn.MaxPool2d(k, stride=layer.get("stride", k))], c


# One entry per layer kind of the table in src/layers/table.ts (specs/layers_table_test.ts checks
# that they match); an architecture with any other kind is an error, never a silent stand-in.
LAYERS = {"conv": conv, "pool": pool}


def build(arch, in_channels=1):
    layers, c = [], in_channels
    for i, layer in enumerate(arch):
        make = LAYERS.get(layer.get("kind"))
        if make is None:
            raise ValueError(f"arch[{i}]: no PyTorch layer for kind {layer.get('kind')!r} "
                             f"(known: {', '.join(LAYERS)}); add it to LAYERS in tasks/bench_torch.py")
        modules, c = make(layer, c)
        layers += modules
    return nn.Sequential(*layers)


def detection(out, target, mask):
    return F.binary_cross_entropy_with_logits(out[:, 0], target[:, 0], reduction="sum")


def classification(out, target, mask):
    nll = F.nll_loss(F.log_softmax(out[:, 1:11], dim=1), target[:, 1].long(), reduction="none")
    return (mask * nll).sum()


def regression(out, target, mask):
    return (mask * ((out[:, 11:15] - target[:, 2:6]) ** 2).sum(dim=1)).sum()


# The terms of the loss in src/model/loss/terms.ts, in its order (bench.json lists them).
LOSS_TERMS = {"detection": detection, "classification": classification, "regression": regression}


def conditional_loss(out, target):
    """The assignment's loss, summed over windows and batch (box MSE summed over 4 coordinates)."""
    mask = ((torch.sigmoid(out[:, 0]) > 0.5) & (target[:, 0] == 1)).float().detach()
    return sum(term(out, target, mask) for term in LOSS_TERMS.values())


def sync(device):
    """Waits for the device's queued work (a GPU runs asynchronously), so timers see it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def picture_forward(model, size, steps, batch=1, channels=1, device=torch.device("cpu")):
    """The forward pass of `batch` pictures of `size`×`size`×`channels`: median milliseconds after
    one warm-up."""
    model.eval()
    x = torch.rand(batch, channels, size, size).to(device)
    times = []
    with torch.no_grad():
        model(x)
        for _ in range(steps):
            sync(device)
            t = time.perf_counter()
            model(x)
            sync(device)
            times.append(time.perf_counter() - t)
    print(json.dumps({
        "framework": f"pytorch {torch.__version__}",
        "threads": torch.get_num_threads(),
        "device": str(device),
        "size": size,
        "batch": batch,
        "inferMs": statistics.median(times) * 1000,
    }))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("bench", nargs="?", default="runs/bench/bench.json")
    p.add_argument("--batch", type=int, default=0)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--infer-size", type=int, default=0)
    p.add_argument("--infer-batch", type=int, default=1)
    p.add_argument("--device", default="cpu", help="cpu, or cuda where PyTorch sees a GPU")
    args = p.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"error": "--device cuda: this PyTorch sees no GPU"}))
        sys.exit(2)
    with open(args.bench) as f:
        bench = json.load(f)
    arch = bench["arch"]
    terms = bench.get("lossTerms", list(LOSS_TERMS))
    if list(terms) != list(LOSS_TERMS):
        print(json.dumps({"error": f"bench.json's loss terms {terms} are not this reference's "
                                   f"{list(LOSS_TERMS)}; add them to tasks/bench_torch.py"}))
        sys.exit(2)
    size = bench.get("inputSize", 64)
    batch = args.batch or bench.get("batchSize", 32)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    try:
        model = build(arch, bench.get("inputChannels", 1)).to(device)
    except ValueError as error:
        print(json.dumps({"error": str(error)}))
        sys.exit(2)
    if args.infer_size > 0:
        picture_forward(model, args.infer_size, args.steps, args.infer_batch,
                        bench.get("inputChannels", 1), device)
        return
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 1, size, size).to(device)
    with torch.no_grad():
        rows, cols = model(x).shape[2:]
    target = torch.zeros(batch, 6, rows, cols)
    target[:, 0] = (torch.rand(batch, rows, cols) > 0.2).float()
    target[:, 1] = torch.randint(0, 10, (batch, rows, cols)).float()
    target[:, 2:] = torch.rand(batch, 4, rows, cols)
    target = target.to(device)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = conditional_loss(model(x), target)
        loss.backward()
        opt.step()
        return loss.item()

    t = time.perf_counter()
    step()
    first = time.perf_counter() - t
    for _ in range(3):
        step()
    times = []
    for _ in range(args.steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    model.eval()
    infer = []
    with torch.no_grad():
        for _ in range(3):
            model(x)
        for _ in range(args.steps):
            sync(device)
            t = time.perf_counter()
            model(x)
            sync(device)
            infer.append(time.perf_counter() - t)
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({
        "framework": f"pytorch {torch.__version__}",
        "threads": torch.get_num_threads(),
        "device": str(device),
        "batch": batch,
        "params": params,
        "grid": [int(rows), int(cols)],
        "firstStepMs": first * 1000,
        "trainImagesPerSecond": batch / statistics.median(times),
        "inferImagesPerSecond": batch / statistics.median(infer),
    }))


if __name__ == "__main__":
    main()
