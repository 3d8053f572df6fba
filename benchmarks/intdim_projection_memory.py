"""Peak memory and step time of subspace training on MNIST's FC 784-200-200-10 (D = 199,210), per projection
(dense, sparse, Fastfood) and d: Fastfood must stay O(D + d) (no dense D×d matrix); the dense and sparse
projections are the contrast, their memory growing with d.

Each (projection, d) runs in its own process, so its peak RSS (getrusage) is its own: build the network and
the projection, then 20 Adam steps on a batch of 128 random images. Reported: peak RSS, the bytes the
projection holds, and the median step time.

    .venv/bin/python benchmarks/intdim_projection_memory.py
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

CASES = [
    *[("fastfood", d) for d in (500, 5_000, 50_000)],
    *[("sparse", d) for d in (500, 5_000, 20_000)],
    *[("dense", d) for d in (500, 2_000)],
]


def one(kind: str, d: int) -> dict[str, float]:
    import torch

    from studies.intdim.models import build, n_params
    from studies.intdim.projections import make_projection
    from studies.intdim.subspace import SubspaceModel

    torch.set_num_threads(1)
    net = build("fc", (1, 28, 28), 200, 2, 10, seed=0)
    model = SubspaceModel(net, make_projection(kind, n_params(net), d, seed=0))
    opt = torch.optim.Adam([model.theta_d], lr=1e-3)
    x, y = torch.rand(128, 1, 28, 28), torch.randint(0, 10, (128,))
    times = []
    for _ in range(20):
        start = time.perf_counter()
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        times.append(time.perf_counter() - start)
    return {
        "D": n_params(net),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "projection_mb": model.projection.stored_bytes() / 2**20,
        "step_ms": 1000 * sorted(times[5:])[len(times[5:]) // 2],
    }


def main() -> None:
    if len(sys.argv) == 3:
        print(json.dumps(one(sys.argv[1], int(sys.argv[2]))))
        return
    print("| projection | d | D | P held (MB) | peak RSS (MB) | step, batch 128 (ms) |")
    print("|---|---|---|---|---|---|")
    for kind, d in CASES:
        out = subprocess.run(
            [sys.executable, __file__, kind, str(d)], capture_output=True, text=True, check=True
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"| {kind} | {d:,} | {r['D']:,} | {r['projection_mb']:.1f} | {r['peak_rss_mb']:.0f} | "
            f"{r['step_ms']:.1f} |"
        )


if __name__ == "__main__":
    main()
