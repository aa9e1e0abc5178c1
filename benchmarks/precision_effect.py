"""Effect of the training arithmetic on R²_a and speed: fp32 (default) vs bf16 autocast (vs TF32 on CUDA).

    .venv/bin/python benchmarks/precision_effect.py --steps 3000 --batch 512 --seeds 0 1

Trains the paper's base cell (d = 5, |C| = 100, N = 10,240, vMF κ = 10; the official process) as one
pack per precision — the same seeds, batches and initialisation — and reports each model's R²_a on
held-out draws (``linid.probes.regression.r2_affine``) and the pack's steps/s. Numbers go in notes and
docs/speed.md, never in a timed unit test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the linid package of this checkout
from linid.probes.regression import r2_affine  # noqa: E402
from linid.sim.features import encode  # noqa: E402
from linid.sim.process import DGPConfig, make_process  # noqa: E402
from linid.sim.training import (
    TrainConfig,  # noqa: E402
    train_pack,  # noqa: E402
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cond-candidates", type=int, default=25000, help="official: 25,000")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    modes = ["fp32", "bf16"] + (["tf32"] if device.type == "cuda" else [])
    procs = [make_process(DGPConfig(latent_dim=5, n_classes=100, seed=s, cond_candidates=args.cond_candidates))
             for s in args.seeds]
    held = [p.sample(8192, torch.Generator().manual_seed(12345)) for p in procs]
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {args.threads} thread(s)"
    print(f"# {name}, torch {torch.__version__}; base cell, {args.steps} steps of batch {args.batch}, "
          f"pack of {len(args.seeds)}\n")
    print("| precision | seed | R²_a | Δ vs fp32 | pack steps/s |")
    print("|---|---|---|---|---|")
    ref = {}
    for mode in modes:
        members = [(p, TrainConfig(seed=s, steps=args.steps, batch_size=args.batch, precision=mode,
                                   eval_every=10**9, checkpoint_every=10**9)) for p, s in zip(procs, args.seeds, strict=True)]
        t0 = time.perf_counter()
        results = train_pack(members, device=device)
        rate = args.steps / (time.perf_counter() - t0)
        for s, res, b in zip(args.seeds, results, held, strict=True):
            r2 = r2_affine(encode(res.encoder.cpu(), b.x.numpy()), b.z.double().numpy())
            ref.setdefault(s, r2)
            print(f"| {mode} | {s} | {r2:.4f} | {r2 - ref[s]:+.4f} | {rate:.1f} |", flush=True)


if __name__ == "__main__":
    main()
