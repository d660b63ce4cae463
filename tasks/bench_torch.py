#!/usr/bin/env python3
"""PyTorch reference for `deno task bench`: rebuilds the architecture recorded in bench.json and
times training and inference on the same machine, so the ratio is measured in one run.

Usage: python3 tasks/bench_torch.py [bench.json] [--batch 32] [--steps 30] [--threads N]
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


def build(arch, in_channels=1):
    layers, c = [], in_channels
    for layer in arch:
        if layer["kind"] == "conv":
            layers.append(nn.Conv2d(c, layer["filters"], layer["kernel"],
                                    stride=layer.get("stride", 1), padding=layer.get("padding", 0)))
            if layer.get("activation", "relu") == "relu":
                layers.append(nn.ReLU())
            c = layer["filters"]
        else:
            k = layer["kernel"]
            layers.append(nn.MaxPool2d(k, stride=layer.get("stride", k)))
    return nn.Sequential(*layers)


def conditional_loss(out, target):
    """The assignment's loss, summed over windows and batch (box MSE summed over 4 coordinates)."""
    obj_logit, cls, box = out[:, 0], out[:, 1:11], out[:, 11:15]
    y0, label, ybox = target[:, 0], target[:, 1].long(), target[:, 2:6]
    detection = F.binary_cross_entropy_with_logits(obj_logit, y0, reduction="sum")
    mask = ((torch.sigmoid(obj_logit) > 0.5) & (y0 == 1)).float().detach()
    nll = F.nll_loss(F.log_softmax(cls, dim=1), label, reduction="none")
    mse = ((box - ybox) ** 2).sum(dim=1)
    return detection + (mask * (nll + mse)).sum()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("bench", nargs="?", default="runs/bench/bench.json")
    p.add_argument("--batch", type=int, default=0)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = p.parse_args()
    with open(args.bench) as f:
        bench = json.load(f)
    arch = bench["arch"]
    size = bench.get("inputSize", 64)
    batch = args.batch or bench.get("batchSize", 32)
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    model = build(arch)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 1, size, size)
    with torch.no_grad():
        rows, cols = model(x).shape[2:]
    target = torch.zeros(batch, 6, rows, cols)
    target[:, 0] = (torch.rand(batch, rows, cols) > 0.2).float()
    target[:, 1] = torch.randint(0, 10, (batch, rows, cols)).float()
    target[:, 2:] = torch.rand(batch, 4, rows, cols)

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
            t = time.perf_counter()
            model(x)
            infer.append(time.perf_counter() - t)
    params = sum(p.numel() for p in model.parameters())
    print(json.dumps({
        "framework": f"pytorch {torch.__version__}",
        "threads": torch.get_num_threads(),
        "batch": batch,
        "params": params,
        "grid": [int(rows), int(cols)],
        "firstStepMs": first * 1000,
        "trainImagesPerSecond": batch / statistics.median(times),
        "inferImagesPerSecond": batch / statistics.median(infer),
    }))


if __name__ == "__main__":
    main()
