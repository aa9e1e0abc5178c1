"""Before/after throughput of the one training loop: the same cases timed in two checkouts.

    .venv/bin/python benchmarks/loop_speed.py OLD_CHECKOUT NEW_CHECKOUT [--repeats 3]

Each case runs in a fresh subprocess whose ``linid`` is the checkout's, alternating old and new
(so drifts of the machine hit both); reported: the median wall seconds of the timed run of each and
new/old. Cases: the [R] trainer (supervised, d = 5, batch 512, 300 steps), the [K] family trainer
(SGD, 2,000 steps of batch 256) and the text trainer (1,000 steps). Numbers go in docs/speed.md.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

CASE = r'''
import sys, time, torch
sys.path.insert(0, sys.argv[1])
torch.set_num_threads(int(sys.argv[3]))
case = sys.argv[2]
if case == "sim":
    from linid.sim.process import DGPConfig, make_process
    from linid.sim.training import TrainConfig, train
    proc = make_process(DGPConfig(latent_dim=5, n_classes=100, n_instances=1000))
    run = lambda n: train(proc, TrainConfig(steps=n, batch_size=512, log_every=100, eval_every=10**9,
                                            checkpoint_every=10**9))
    warm, n = 20, 300
elif case == "family":
    from linid.family.data import AngleData, sample_angle_data
    from linid.family.models import FamilyModel
    from linid.family.training import train_family
    cfg = AngleData(n_classes=18, input_dim=6)
    x, y = sample_angle_data(cfg, 10000, torch.Generator().manual_seed(0))
    def run(n):
        train_family(FamilyModel(6, 2, 18), cfg, steps=n, batch_size=256, lr=0.01, train_x=x, train_y=y,
                     generator=torch.Generator().manual_seed(1))
    warm, n = 50, 2000
else:
    from linid.text.model import TextModelConfig, build_model
    from linid.text.training import TextTrainConfig, train_text
    V = 200
    windows = torch.randint(V, (20000, 5), generator=torch.Generator().manual_seed(0))
    probs = torch.full((V,), 1.0 / V)
    def run(n):
        model = build_model(V, TextModelConfig(dim=2), 0)
        train_text(model, windows, probs, TextTrainConfig(steps=n), torch.Generator().manual_seed(1))
    warm, n = 50, 1000
run(warm)
t0 = time.perf_counter()
run(n)
print(time.perf_counter() - t0)
'''


def time_case(checkout: str, case: str, threads: int) -> float:
    out = subprocess.run([sys.executable, "-c", CASE, checkout, case, str(threads)], check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cases", nargs="+", default=["sim", "family", "text"])
    args = ap.parse_args()
    print(f"{'case':8} {'old s (median)':>15} {'new s (median)':>15} {'new/old':>8}")
    for case in args.cases:
        old, new = [], []
        for _ in range(args.repeats):
            old.append(time_case(args.old, case, args.threads))
            new.append(time_case(args.new, case, args.threads))
        o, n = statistics.median(old), statistics.median(new)
        print(f"{case:8} {o:15.3f} {n:15.3f} {n / o:8.3f}   (old {', '.join(f'{v:.2f}' for v in old)}; "
              f"new {', '.join(f'{v:.2f}' for v in new)})", flush=True)


if __name__ == "__main__":
    main()
