"""Rules compare_family / compare_sim: mCCA, CCA spectrum, SVCCA, linear R² for every seed pair."""

import numpy as np
import pandas as pd

from linid.family_run import pairwise
from linid.io import atomic_path
from linid.jobs import job_run, setup_logging


def load_features(paths: list[str]) -> tuple[dict[str, np.ndarray], list[str]]:
    """Family cell: one file holds every seed. Simulation cell: one file per seed (key f_s<seed>)."""
    if len(paths) == 1:
        with np.load(paths[0]) as f:
            arrays = {k: f[k] for k in f.files}
        return arrays, [str(arrays["job_uid"])]
    arrays, uids, seeds = {}, [], []
    for path in paths:
        seed = int(path.rsplit("seed", 1)[1].split(".")[0])
        with np.load(path) as f:
            arrays[f"f_s{seed}"] = f["features"]
            uids.append(str(f["job_uid"]))
        seeds.append(seed)
    arrays["seeds"] = np.asarray(sorted(seeds))
    return arrays, uids


def main(smk) -> None:
    setup_logging(smk.log[0])
    feats = smk.input.features
    paths = [feats] if isinstance(feats, str) else list(feats)
    arrays, uids = load_features(paths)
    params = {"layers": list(smk.params.layers), "svcca_k": smk.params.svcca_k}
    with job_run(smk.rule, dict(smk.wildcards), params, upstream=uids) as run:
        rows = pairwise(arrays, tuple(smk.params.layers), smk.params.svcca_k)
        frame = pd.DataFrame(rows)
        frame["job_uid"] = run.uid
        for layer, part in frame.groupby("layer"):
            run.log_metrics({f"mcca_{layer}": float(part["mcca"].mean()),
                             f"r2_linear_{layer}": float(part["r2_linear"].mean())})
        with atomic_path(smk.output.pairs, ".csv") as tmp:
            frame.to_csv(tmp, index=False)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
