#!/usr/bin/env python3
"""A deepevolve trainer program: a CNN on Fashion-MNIST in PyTorch (Debian's python3-torch).

The worker runs it once per trial (README, "Your own training program"); deepevolve.trainer
reads the trial and writes its epochs and result in the protocol's JSON lines. Genes (each optional, defaults below): conv_layers, filters,
kernel_size, dense_units, dropout, learning_rate, optimizer (adam, sgd, rmsprop),
batch_size. The dataset text is "fashion_mnist" or "fashion_mnist:N" to train on the first
N training images; a tenth of them is held out for validation, the fitness.

Checkpoints: offered a checkpoint_path, it saves its whole training state there after
every checkpoint_every-th epoch (weights, optimizer, the data order's generator and
torch's generator) and says so with {"checkpoint": N}; given resume_from (a lost worker's
last checkpoint), it goes on after that epoch, on the CPU to the same result as an
uninterrupted training. It refuses another trial's state.
"""
import gzip
import os
import sys

import torch
from torch import nn

try:
    from deepevolve.trainer import Trial
except ImportError:  # run from this repository, the package not installed
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
    from deepevolve.trainer import Trial

DEFAULTS = {"conv_layers": 2, "filters": 32, "kernel_size": 3, "dense_units": 128,
            "dropout": 0.25, "learning_rate": 1e-3, "optimizer": "adam", "batch_size": 128}


def find(name, dirs):
    for d in dirs + ["/usr/share/datasets"]:
        for sub in ("", "fashion-mnist", "fashion_mnist"):
            for ext in ("", ".gz"):
                path = os.path.join(d, sub, name + ext)
                if os.path.exists(path):
                    return path
    raise FileNotFoundError(f"{name}[.gz] not in {dirs + ['/usr/share/datasets']}")


def idx(path, offset):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        return torch.frombuffer(bytearray(f.read()[offset:]), dtype=torch.uint8)


def load(prefix, dirs):
    images = idx(find(f"{prefix}-images-idx3-ubyte", dirs), 16).reshape(-1, 1, 28, 28)
    labels = idx(find(f"{prefix}-labels-idx1-ubyte", dirs), 8)
    return images.float() / 255.0, labels.long()


def network(g):
    layers, channels, size = [], 1, 28
    for i in range(int(g["conv_layers"])):
        width = int(g["filters"]) * 2 ** i
        layers += [nn.Conv2d(channels, width, int(g["kernel_size"]),
                             padding=int(g["kernel_size"]) // 2), nn.ReLU()]
        channels = width
        if size >= 8:
            layers.append(nn.MaxPool2d(2))
            size //= 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * size * size,
                         int(g["dense_units"])), nn.ReLU(), nn.Dropout(float(g["dropout"])),
                         nn.Linear(int(g["dense_units"]), 10))


def accuracy(model, x, y, device):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(x), 1000):
            out = model(x[i:i + 1000].to(device))
            correct += (out.argmax(1).cpu() == y[i:i + 1000]).sum().item()
    return correct / len(x)


def main(trial):
    g = {**DEFAULTS, **trial.genes}
    torch.manual_seed(trial.seed)
    torch.set_num_threads(max(1, trial.threads))
    device = torch.device(trial.device if torch.cuda.is_available() else "cpu")
    name, _, limit = (trial.dataset or "fashion_mnist").partition(":")
    if name != "fashion_mnist":
        return trial.fail(f"unknown dataset {name!r} (this program trains on fashion_mnist "
                          "or fashion_mnist:N)", kind="setup")
    x, y = load("train", trial.data_dirs)  # a missing file fails the set-up, not the genome
    test_x, test_y = load("t10k", trial.data_dirs)
    if limit:
        x, y = x[:int(limit)], y[:int(limit)]
    held = len(x) // 10
    train_x, train_y, val_x, val_y = x[:-held], y[:-held], x[-held:], y[-held:]
    model = network(g).to(device)
    optimizers = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}
    optimizer = optimizers[g["optimizer"]](model.parameters(), lr=float(g["learning_rate"]))
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(trial.seed)
    batch = int(g["batch_size"])
    val = 0.0
    identity = [trial.genome_hash, trial.seed]
    if trial.resume_from:
        state = torch.load(trial.resume_from)
        if state.get("trial") == identity:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            generator.set_state(state["order"])
            torch.set_rng_state(state["torch"])
            val = state["val"]
        else:  # trains from epoch 1; the worker records that it did not resume
            trial.discard_checkpoint("the checkpoint is another trial's")
    for epoch in trial.epoch_range():
        model.train()
        order, total = torch.randperm(len(train_x), generator=generator), 0.0
        for i in range(0, len(order), batch):
            idx_ = order[i:i + batch]
            optimizer.zero_grad()
            loss = loss_fn(model(train_x[idx_].to(device)), train_y[idx_].to(device))
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx_)
        val = accuracy(model, val_x, val_y, device)
        trial.report(epoch, val, loss=total / len(order))
        if trial.checkpoint_due(epoch):
            with trial.checkpoint(epoch) as f:
                torch.save({"trial": identity, "epoch": epoch, "val": val,
                            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                            "order": generator.get_state(), "torch": torch.get_rng_state()}, f)
        trial.check()
    torch.save(model.state_dict(), trial.model_path)
    trial.finish(val, test_accuracy=accuracy(model, test_x, test_y, device))


if __name__ == "__main__":
    with Trial() as t:
        main(t)
