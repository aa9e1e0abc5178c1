"""Rules compare_family / compare_sim_part: mCCA, CCA spectrum, SVCCA, affine R² for every seed pair
(of a family cell, or of one shard of a simulation cell's pairs)."""

import numpy as np
import pandas as pd

from linid.core.io import atomic_path, load_npz
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.probes.pairs import pairwise


def load_features(paths: list[str], seeds: list[int] | None) -> tuple[dict[str, np.ndarray], list[str]]:
    """Family cell: one file holds every seed. Simulation cell: one file per seed, in ``seeds`` order."""
    if seeds is None:
        arrays = load_npz(paths[0])
        return arrays, [str(arrays["job_uid"])]
    arrays, uids = {}, []
    for path, seed in zip(paths, seeds, strict=True):
        f = load_npz(path)
        arrays[f"f_s{seed}"] = f["features"]
        uids.append(str(f["job_uid"]))
    arrays["seeds"] = np.asarray(sorted(seeds))
    return arrays, uids


def main(smk) -> None:
    setup_logging(smk.log[0])
    feats = smk.input.features
    paths = [feats] if isinstance(feats, str) else list(feats)
    arrays, uids = load_features(paths, smk.params.seeds)
    pairs = smk.params.get("pairs")  # a shard's pairs (compare_sim_part); None: every pair
    params = {"layers": list(smk.params.layers), "svcca_k": smk.params.svcca_k,
              "n_pairs": None if pairs is None else len(pairs)}
    with job_run(smk.rule, dict(smk.wildcards), params, upstream=uids) as run:
        rows, spectra = pairwise(arrays, tuple(smk.params.layers), smk.params.svcca_k, pairs)
        frame = pd.DataFrame(rows)
        frame["job_uid"] = run.uid
        for layer, part in frame.groupby("layer"):
            run.log_metrics({f"mcca_{layer}": float(part["mcca"].mean()),
                             f"r2_affine_{layer}": float(part["r2_affine"].mean())})
        with atomic_path(smk.output.pairs, ".csv") as tmp:
            frame.to_csv(tmp, index=False)
        with atomic_path(smk.output.spectra, ".csv") as tmp:
            pd.DataFrame(spectra).to_csv(tmp, index=False)


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
