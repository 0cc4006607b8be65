#!/usr/bin/python3
"""Adds (or rewrites) a `params` column to a Fashion-MNIST MLP table: the trainable
parameters of each row's network, exact, from its genes — 784 inputs, Dense layers of
the row's widths (nb_neurons, or nb_neurons_1..nb_layers), batch normalisation's scale
and shift per unit where batch_norm is true, and 10 outputs: the count the built-in
trainer reports (TrainTest.TheResultSaysTheNetworksSizeAndSpeed checks it).

  bench/data/add_params.py bench/data/fashion_mnist_mlp_grid.csv [...]"""
import csv
import sys


def params(row):
    layers = int(row["nb_layers"])
    if "nb_neurons" in row:
        widths = [int(row["nb_neurons"])] * layers
    else:
        widths = [int(row[f"nb_neurons_{i + 1}"]) for i in range(layers)]
    norm = row.get("batch_norm", "false") == "true"
    total, inputs = 0, 784
    for w in widths:
        total += inputs * w + w + (2 * w if norm else 0)
        inputs = w
    return total + inputs * 10 + 10


for path in sys.argv[1:]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    fields = list(rows[0].keys())
    if "params" not in fields:
        fields.append("params")
    for row in rows:
        row["params"] = str(params(row))
    with open(path, "w", newline="") as f:
        out = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        out.writeheader()
        out.writerows(rows)
