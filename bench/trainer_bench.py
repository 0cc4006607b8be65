#!/usr/bin/env python3
"""The same training step as trainer_bench.cc in python3-torch, as a user would write it:
nn.Sequential with Linear/Conv2d + Dropout, cross-entropy, torch.optim.Adam with Keras's
epsilon, shuffled mini-batches by index. Prints one JSON object. On a GPU (--device cuda)
the data lives on the device and each step reads its loss back, as trainer_bench.cc does;
torch.optim.Adam then takes its default multi-tensor (foreach) implementation."""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--net", choices=["mlp", "cnn"], default="mlp")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    args = parser.parse_args()
    device = torch.device(args.device)

    torch.manual_seed(1)
    torch.set_num_threads(args.threads)
    n = 8192
    if args.net == "mlp":
        batch = 64
        model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
                              nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.2),
                              nn.Linear(512, 10))
        x = torch.rand(n, 784)
    else:
        batch = 128
        model = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Dropout(0.2),
                              nn.Conv2d(32, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.2),
                              nn.Flatten(), nn.Linear(32 * 6 * 6, 32), nn.ReLU(),
                              nn.Dropout(0.5), nn.Linear(32, 10))
        x = torch.rand(n, 1, 28, 28)
    y = torch.randint(0, 10, (n,))
    x, y = x.to(device), y.to(device)
    model.to(device)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001, eps=1e-8)
    params = sum(p.numel() for p in model.parameters())

    state = {"order": torch.randperm(n), "cursor": 0, "loss": 0.0}

    def step():
        if state["cursor"] + batch > n:
            state["order"] = torch.randperm(n)
            state["cursor"] = 0
        index = state["order"][state["cursor"]:state["cursor"] + batch].to(device)
        state["cursor"] += batch
        bx, by = x.index_select(0, index), y.index_select(0, index)
        optimizer.zero_grad()
        loss = F.cross_entropy(model(bx), by)
        loss.backward()
        optimizer.step()
        state["loss"] += loss.item()

    for _ in range(args.warmup):
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = time.perf_counter() - start
    samples_per_s = args.steps * batch / seconds
    print(json.dumps({"impl": "python3-torch", "torch": torch.__version__, "net": args.net,
                      "device": str(device), "threads": args.threads,
                      "batch": batch, "params": params,
                      "samples_per_s": round(samples_per_s, 1),
                      "gflops": round(6 * params * samples_per_s / 1e9, 2),
                      "mean_loss": round(state["loss"] / (args.steps + args.warmup), 4)}))


if __name__ == "__main__":
    main()
