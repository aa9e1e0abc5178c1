"""Training throughput: steps and samples per second of the [R] trainer and the [K] family trainer.

    .venv/bin/python benchmarks/train_speed.py              # CPU, and CUDA when present
    .venv/bin/python benchmarks/train_speed.py --steps 400 --threads 2
    .venv/bin/python benchmarks/train_speed.py --only-sim --batches 512 --dims 5   # the objectives

Every registered objective is timed (``linid.sim.objectives``); samples/s counts the observations
encoded per second: steps × batch × the objective's observations per item (a positive pair of
InfoNCE is two), the throughput to compare between objectives at the same batch and width.

Numbers go in notes and docs/speed.md, never in a timed unit test. Each case trains from scratch for
``--steps`` steps (after a short warm-up run) and reports wall seconds and steps/s. The [R] trainer
samples every batch on the training device from the stored generative process (no host copies in the
loop) and logs every ``log_every`` steps, as the pipeline does.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the linid package of this checkout
from linid.family.data import AngleData, sample_angle_data  # noqa: E402
from linid.family.models import FamilyModel  # noqa: E402
from linid.family.training import train_family  # noqa: E402
from linid.sim.objectives import METHODS, objective  # noqa: E402
from linid.sim.process import DGPConfig, make_process  # noqa: E402
from linid.sim.training import TrainConfig, train  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def bench_sim(device: torch.device, d: int, method: str, batch: int, steps: int) -> float:
    proc = make_process(DGPConfig(latent_dim=d, n_classes=100, n_instances=1000))
    cfg = TrainConfig(method=method, steps=steps, batch_size=batch, log_every=100,
                      eval_every=10**9, checkpoint_every=10**9)
    train(proc, TrainConfig(method=method, steps=20, batch_size=batch), device=device)  # warm-up
    _sync(device)
    t0 = time.perf_counter()
    train(proc, cfg, device=device)
    _sync(device)
    return time.perf_counter() - t0


def bench_family(device: torch.device, optimizer: str, steps: int) -> float:
    cfg = AngleData(n_classes=18, input_dim=6)
    x, y = sample_angle_data(cfg, 10000, torch.Generator().manual_seed(0))
    lr = 0.01 if optimizer == "sgd" else 0.003
    timings = []
    for n in (20, steps):  # warm-up, then the timed run
        model = FamilyModel(6, 2, 18).to(device)
        gen = torch.Generator(device=device).manual_seed(1)
        _sync(device)
        t0 = time.perf_counter()
        train_family(model, cfg, steps=n, batch_size=256, lr=lr, train_x=x, train_y=y,
                     generator=gen, optimizer=optimizer)
        _sync(device)
        timings.append(time.perf_counter() - t0)
    return timings[-1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--batches", type=int, nargs="+", default=[256, 1024])
    ap.add_argument("--dims", type=int, nargs="+", default=[2, 5, 10])
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--only-sim", action="store_true", help="skip the [K] family cases")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, CPU threads {args.threads}, steps {args.steps}")
    print(f"{'device':8} {'case':40} {'seconds':>8} {'steps/s':>9} {'samples/s':>10}")
    for device in devices:
        name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
        for batch in args.batches:
            for d in args.dims:
                for method in args.methods:
                    s = bench_sim(device, d, method, batch, args.steps)
                    samples = args.steps * batch * objective(method).samples
                    case = f"[R] d={d} {method} batch={batch}"
                    print(f"{device.type:8} {case:40} {s:8.2f} {args.steps / s:9.0f} {samples / s:10.0f}",
                          flush=True)
        for optimizer in ("sgd", "adam") if not args.only_sim else ():
            s = bench_family(device, optimizer, args.steps)
            case = f"[K] K=18 M=2 {optimizer} batch=256"
            print(f"{device.type:8} {case:40} {s:8.2f} {args.steps / s:9.0f}", flush=True)
        print(f"({name})")


if __name__ == "__main__":
    main()
