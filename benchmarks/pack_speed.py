"""Per-model training throughput: official-style loop, single-model trainer, packs of k models.

    .venv/bin/python benchmarks/pack_speed.py --threads 2
    .venv/bin/python benchmarks/pack_speed.py --shapes 5x1024 --packs 1 5 20 --precision bf16

Side by side in one run, per shape (d, batch): a naive per-step loop in the official code's style
(sample every step, ``.item()`` every step, ``nn.Linear`` + ``nn.BatchNorm1d``), today's
single-model trainer (``linid.sim.training.train``) and packs of k models
(``linid.sim.packed.train_pack``). Reported: per-model steps/s, GFLOP/s of the encoder + head
(forward + backward ≈ 3 × forward multiply-adds × 2), and that rate as a fraction of a plain
matmul measured in the same run at the encoder's widest shape. Numbers go in notes and docs/speed.md,
never in a timed unit test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the linid package of this checkout
from linid.sim.models import build_models, hidden_widths  # noqa: E402
from linid.sim.process import DGPConfig, make_process  # noqa: E402
from linid.sim.training import (  # noqa: E402
    TrainConfig,
    train,
    train_pack,  # noqa: E402
)

N_CLASSES = 100


def model_flops(d: int, batch: int, n_out: int = N_CLASSES) -> float:
    """Multiply-adds × 2 of one training step (forward + backward ≈ 3 × forward) of encoder + head."""
    widths = [d, *hidden_widths(d), d]
    fwd = sum(a * b for a, b in zip(widths[:-1], widths[1:], strict=True)) + d * n_out
    return 3 * 2 * fwd * batch


def matmul_rate(d: int, batch: int, device: torch.device, reps: int = 50) -> float:
    """GFLOP/s of ``(batch × w) @ (w × w)`` at the encoder's widest layer w = 50 d."""
    w = 50 * d
    a, b = torch.randn(batch, w, device=device), torch.randn(w, w, device=device)
    for _ in range(5):
        a @ b
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    _sync(device)
    return 2 * batch * w * w * reps / (time.perf_counter() - t0) / 1e9


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def _procs(d: int, k: int):
    return [make_process(DGPConfig(latent_dim=d, n_classes=N_CLASSES, n_instances=10240,
                                   cond_candidates=500, cond_strategy="best", seed=s)) for s in range(k)]


PRECISION = "fp32"


def _cfg(batch: int, steps: int, seed: int = 0) -> TrainConfig:
    return TrainConfig(steps=steps, batch_size=batch, seed=seed, log_every=steps, eval_every=10**9,
                       checkpoint_every=10**9, bn_batches=0, precision=PRECISION)


def naive(proc, batch: int, steps: int, device: torch.device) -> float:
    """The official scripts' shape: draw a batch, one step, ``loss.item()``, every step."""
    enc, head = build_models(proc.cfg.latent_dim, N_CLASSES, 0)
    enc, head, proc = enc.to(device), head.to(device), proc.to(device)
    opt = torch.optim.Adam(list(enc.parameters()) + list(head.parameters()), lr=1e-3)
    gen = torch.Generator(device=device).manual_seed(0)
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        b = proc.sample(batch, gen)
        loss = F.cross_entropy(head(enc(b.x)), b.label_class)
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss.item()
    _sync(device)
    return steps / (time.perf_counter() - t0)


def single(proc, batch: int, steps: int, device: torch.device) -> float:
    train(proc, _cfg(batch, 2), device=device)  # warm-up
    _sync(device)
    t0 = time.perf_counter()
    train(proc, _cfg(batch, steps), device=device)
    _sync(device)
    return steps / (time.perf_counter() - t0)


def packed(procs, batch: int, steps: int, device: torch.device) -> float:
    members = [(p, _cfg(batch, steps, seed=i)) for i, p in enumerate(procs)]
    warm = 2 + (5 if device.type == "cuda" else 0)  # on CUDA: past the graph capture
    train_pack([(p, _cfg(batch, warm, seed=i)) for i, p in enumerate(procs)], device=device)  # warm-up
    _sync(device)
    t0 = time.perf_counter()
    train_pack(members, device=device)
    _sync(device)
    return len(procs) * steps / (time.perf_counter() - t0)


def main() -> None:
    global PRECISION
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200, help="most steps per measurement")
    ap.add_argument("--gflop-budget", type=float, default=600,
                    help="fewer steps where k models x steps would exceed this many GFLOP (at least 3)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shapes", nargs="+", default=["2x256", "2x512", "5x512", "5x256", "5x1024", "20x256", "20x1024"],
                    help="d x batch (the demo's: 2x512, 5x512; the paper's: d in {2, 5, 20}, batch 256, 1024)")
    ap.add_argument("--packs", nargs="+", type=int, default=[1, 5, 20, 64])
    ap.add_argument("--precision", choices=["fp32", "tf32", "bf16"], default="fp32",
                    help="arithmetic of the single-model and packed trainers (the naive loop stays fp32)")
    args = ap.parse_args()
    PRECISION = args.precision
    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {args.threads} thread(s)"
    print(f"# {name}, torch {torch.__version__}, {args.precision}\n")
    print("| d | batch | trainer | per-model steps/s | GFLOP/s | x single | of matmul rate |")
    print("|---|---|---|---|---|---|---|")
    for shape in args.shapes:
        d, batch = (int(v) for v in shape.split("x"))
        rate = matmul_rate(d, batch, device)
        flops = model_flops(d, batch)

        def steps_for(k: int) -> int:
            return max(3, min(args.steps, int(args.gflop_budget * 1e9 / (k * flops))))

        procs = _procs(d, max(args.packs))
        rows = [("naive loop", naive(procs[0], batch, steps_for(1), device))]
        rows.append(("single-model trainer", single(procs[0], batch, steps_for(1), device)))
        for k in args.packs:
            rows.append((f"pack k = {k}", packed(procs[:k], batch, steps_for(k), device)))
        base = rows[1][1]
        for label, sps in rows:
            gf = sps * flops / 1e9
            print(f"| {d} | {batch} | {label} | {sps:.1f} | {gf:.1f} | {sps / base:.2f} | "
                  f"{gf / rate:.0%} |", flush=True)
        print(f"| {d} | {batch} | matmul {batch}x{50 * d} @ {50 * d}x{50 * d} | | {rate:.1f} | | 100% |",
              flush=True)


if __name__ == "__main__":
    main()
