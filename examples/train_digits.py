"""Train a linear classifier on scikit-learn's digits, twice: with
``torch.nn.functional.cross_entropy`` and with ``fastsoftmax.torch.cross_entropy``.

The two runs start from the same weights and see the same mini-batches, so
they reach the same accuracy (the losses agree to rounding); the script
prints both accuracies and times.  The digits are tiny (1797 images of 8 x 8
pixels, 10 classes), so the time is mostly per-call overhead, not the loss
itself: the gain of the fused kernel shows on large batches or vocabularies
(``benchmarks/test_bench_torch.py``).

Needs torch and scikit-learn (the data set ships with it)::

    python examples/train_digits.py
"""
from __future__ import annotations

import time

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import fastsoftmax.torch as fst

EPOCHS = 30
BATCH = 64


def data():
    digits = load_digits()
    x = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    y = torch.tensor(digits.target, dtype=torch.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=0,
                                                        stratify=y)
    return x_train, x_test, y_train, y_test


def train(loss_fn, x_train, y_train):
    torch.manual_seed(0)  # the same initial weights and batches for both runs
    model = torch.nn.Linear(x_train.shape[1], 10)
    opt = torch.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    start = time.perf_counter()
    for _ in range(EPOCHS):
        order = torch.randperm(len(x_train))
        for i in range(0, len(order), BATCH):
            idx = order[i:i + BATCH]
            opt.zero_grad()
            loss = loss_fn(model(x_train[idx]), y_train[idx], label_smoothing=0.05)
            loss.backward()
            opt.step()
    return model, time.perf_counter() - start


def accuracy(model, x, y):
    with torch.no_grad():
        return (model(x).argmax(1) == y).float().mean().item()


def main():
    torch.set_num_threads(1)  # tiny matrices: threads only add overhead
    x_train, x_test, y_train, y_test = data()
    results = {}
    for name, loss_fn in (("torch.nn.functional", torch.nn.functional.cross_entropy),
                          ("fastsoftmax.torch", fst.cross_entropy)):
        model, seconds = train(loss_fn, x_train, y_train)
        results[name] = model
        print(f"{name:20s} test accuracy {accuracy(model, x_test, y_test):.4f}   "
              f"training {seconds:.2f} s ({EPOCHS} epochs)")
    a, b = (m.weight.detach() for m in results.values())
    print(f"largest difference between the trained weights: {(a - b).abs().max().item():.2e}")


if __name__ == "__main__":
    main()
