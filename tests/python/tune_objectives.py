"""Objectives for tune()'s tests, importable by the workers (`python3 -m deepevolve.run
tune_objectives:smooth`): accuracy a known function of the genes, plus seeded noise."""

import random


def smooth(trial):
    """Best at lr=0.01, width=64; improves with each epoch."""
    noise = random.Random(trial.seed).uniform(0, 0.01)
    lr, width = trial.genes["lr"], trial.genes["width"]
    accuracy = 0.0
    for epoch in trial.epoch_range():
        accuracy = 0.95 - 0.1 * abs({0.001: 1, 0.01: 0, 0.1: 1}.get(lr, 2)) \
            - 0.002 * abs(width - 64) / 16 - 0.2 / epoch + noise
        trial.report(epoch, max(0.0, accuracy), loss=1 - accuracy)
        trial.check()
    return {"accuracy": max(0.0, accuracy), "width_cost": width / 64}


def fails_on_wide(trial):
    if trial.genes["width"] > 64:
        raise MemoryError("does not fit")
    return smooth(trial)
