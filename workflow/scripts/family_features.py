"""Rule family_features: f, a hidden layer (outside the family) and g for every seed, trained and not."""

import numpy as np

from linid.core.io import atomic_savez, read_json
from linid.family.data import load_angle_dataset
from linid.family.features import cell_features
from linid.family.models import load_models
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run


def main(smk) -> None:
    setup_logging(smk.log[0])
    train = read_json(smk.input.summary)
    with job_run(smk.rule, dict(smk.wildcards), {}, upstream=[train["job_uid"]]) as run:
        models, meta = load_models(smk.input.models)
        arrays = cell_features(load_angle_dataset(smk.input.data), models, meta)
        run.log_metrics({"n_eval": len(arrays["eval_x"]), "n_models": len(models)})
        atomic_savez(smk.output.features, **arrays, job_uid=np.asarray(run.uid))


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
