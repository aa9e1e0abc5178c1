"""Rule family_features: f, a hidden layer (outside the family) and g for every seed, trained and not."""

import numpy as np

from linid.family import AngleData
from linid.family_run import (
    FamilyModelConfig,
    cell_features,
    load_dataset,
    load_models,
    save_features,
)
from linid.io import read_json
from linid.jobs import job_run, setup_logging


def main(smk) -> None:
    setup_logging(smk.log[0])
    cell = smk.params.cell
    train = read_json(smk.input.summary)
    meta = read_json(smk.input.meta)
    data_cfg = AngleData(**meta["config"])
    mcfg = FamilyModelConfig(**{**cell["model"], "hidden": tuple(cell["model"]["hidden"])})
    with job_run(smk.rule, dict(smk.wildcards), {"cell": cell}, upstream=[train["job_uid"]]) as run:
        states, _ = load_models(smk.input.models)
        arrays = cell_features(load_dataset(smk.input.data), data_cfg, cell["rep_dim"], mcfg, states)
        run.log_metrics({"n_eval": len(arrays["eval_x"]), "n_models": len(states)})
        save_features(smk.output.features, {**arrays, "job_uid": np.asarray(run.uid)})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
