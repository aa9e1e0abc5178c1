"""Rule train: the models of one pack trained together (linid.sim.packed.train_pack; a pack of
one is a single model). Each model gets its own MLflow run (keyed by the model, tagged with its
pack) and its files in the pack's folder, under its model path; rule trained_model copies them out.
"""

import logging
import os
from contextlib import ExitStack
from pathlib import Path

import torch

from linid.core.io import read_json
from linid.pipeline.context import setup_logging
from linid.pipeline.plans.sim import MEMBER_DIR, TRAINED
from linid.pipeline.tracking import job_run
from linid.pipeline.trained import gpu_tag, train_summary, write_trained
from linid.runtime import Interrupted, exit_with, pick_device
from linid.sim.process import load_dataset
from linid.sim.training import TrainConfig, train_pack

log = logging.getLogger("linid.train")

KEYS = ("data", "method", "head", "seed")


def main(smk) -> int:
    setup_logging(smk.log[0])
    torch.set_num_threads(smk.threads)
    members = smk.params.members
    k = len(members)
    datasets = {Path(f).stem: load_dataset(f) for f in smk.input.data}
    metas = {Path(f).stem: read_json(f) for f in smk.input.meta}
    device = pick_device(require_gpu=smk.resources.get("gpu", 0) > 0, allow_cpu=smk.params.allow_cpu)
    labels = [f"train {m['data']}/{m['method']}/{m['head']}/seed{m['seed']}" for m in members]
    log.info("pack %s: %d models on %s (CUDA_VISIBLE_DEVICES=%s)", smk.wildcards.pack, k, device,
             os.environ.get("CUDA_VISIBLE_DEVICES"))
    for label in labels:
        log.info("  %s", label)
    cfgs = [TrainConfig(**m["train"]) for m in members]
    procs = [datasets[m["data"]][0] for m in members]
    monitors = [
        (torch.from_numpy(datasets[m["data"]][1]["monitor_x"]), torch.from_numpy(datasets[m["data"]][1]["monitor_z"]))
        for m in members
    ]
    with ExitStack() as stack:
        runs = []
        for m in members:
            params = {"train": m["train"], "dgp": metas[m["data"]]["config"], "device": str(device)}
            wildcards = {key: str(m[key]) for key in KEYS}
            upstream = [metas[m["data"]]["job_uid"]]
            run = stack.enter_context(job_run("train", wildcards, params, upstream=upstream, live=True))
            run.set_tag("linid.pack", smk.wildcards.pack)
            run.set_tag("linid.pack_size", str(k))
            gpu_tag(run, device)
            runs.append(run)
        try:
            results = train_pack(
                list(zip(procs, cfgs, strict=True)),
                monitors=monitors,
                device=device,
                checkpoint=Path(smk.params.checkpoint),
                on_log=lambda i, step, m: runs[i].log_metrics({n: v for n, v in m.items() if n != "step"}, step),
                labels=labels,
            )
        except Interrupted as exc:
            log.error("%s", exc)
            for run in runs:
                run.set_tag("linid.interrupted", str(exc))
            raise
        for m, cfg, proc, result, run in zip(members, cfgs, procs, results, runs, strict=True):
            summary = train_summary(cfg, proc, result, run, metas[m["data"]]["job_uid"])
            summary.update(pack=smk.wildcards.pack, pack_size=k)
            folder = Path(smk.output.pack) / MEMBER_DIR.format(**{key: m[key] for key in KEYS})
            folder.mkdir(parents=True, exist_ok=True)
            paths = {name: str(folder / Path(pattern).name) for name, pattern in TRAINED.items()}
            write_trained(paths, result, m["train"], summary, run)
    log.info("pack %s: %d models, %.1f s", smk.wildcards.pack, k, results[0].seconds)
    Path(smk.params.checkpoint).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    exit_with(main, snakemake)  # noqa: F821 - injected by Snakemake
