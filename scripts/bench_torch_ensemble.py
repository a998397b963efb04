"""(d) of scripts/bench_sweep.py: a PyTorch ensemble of the same runs, for comparison.

Trains R copies of an MLP at once the way PyTorch recommends for model ensembles:
``torch.func.stack_module_state`` stacks their parameters, ``torch.func.vmap`` of
``torch.func.grad`` of a ``functional_call`` gives every run's gradient in one call, and an
in-place SGD step updates the stacked tensors. Needs only torch and numpy (not jinit or JAX),
so it can run in another interpreter:

    python scripts/bench_torch_ensemble.py DATA.npz --widths 2,10,5,1 --runs 600 --steps 2000 \
        --lr 0.01 [--batch-size 32] [--output sigmoid|softmax]

``DATA.npz`` holds ``x`` (float32 [n, features]) and ``y`` (labels). Prints one JSON line:
model-steps/s, the seconds timed, the torch version and its thread count.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import time

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, grad, stack_module_state, vmap


def mlp(widths: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(widths)):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data")
    p.add_argument("--widths", default="2,10,5,1")
    p.add_argument("--runs", type=int, default=600)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--batch-size", type=int, default=0, help="0: full batch")
    p.add_argument("--output", default="sigmoid", choices=["sigmoid", "softmax"])
    args = p.parse_args()

    torch.manual_seed(0)
    arrays = np.load(args.data)
    x = torch.from_numpy(np.asarray(arrays["x"], np.float32))
    if args.output == "sigmoid":
        y = torch.from_numpy(np.asarray(arrays["y"], np.float32).reshape(-1, 1))
        loss = nn.functional.binary_cross_entropy_with_logits
    else:
        y = torch.from_numpy(np.asarray(arrays["y"], np.int64).reshape(-1))
        loss = nn.functional.cross_entropy
    widths = [int(w) for w in args.widths.split(",")]
    models = [mlp(widths) for _ in range(args.runs)]
    params, buffers = stack_module_state(models)
    base = copy.deepcopy(models[0]).to("meta")

    def run_loss(p, b, xb, yb):
        return loss(functional_call(base, (p, b), (xb,)), yb)

    batched = args.batch_size > 0
    grads_of = vmap(grad(run_loss), in_dims=(0, 0, 0 if batched else None, 0 if batched else None))
    n = x.shape[0]
    gen = torch.Generator().manual_seed(0)

    def step() -> None:
        if batched:
            idx = torch.randint(0, n, (args.runs, args.batch_size), generator=gen)
            g = grads_of(params, buffers, x[idx], y[idx])
        else:
            g = grads_of(params, buffers, x, y)
        with torch.no_grad():
            for k, v in params.items():
                v.sub_(args.lr * g[k])

    for _ in range(min(20, args.steps)):  # warm-up
        step()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    seconds = time.perf_counter() - start
    print(
        json.dumps(
            {
                "rate": args.runs * args.steps / seconds,
                "seconds": seconds,
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
            }
        )
    )


if __name__ == "__main__":
    main()
