"""Rule family_dataset: train and held-out draws of the [K] angle task (x ~ N(0, σ²I), K bins)."""

from linid.core.io import atomic_json
from linid.family.data import AngleData, make_angle_dataset
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run


def main(smk) -> None:
    setup_logging(smk.log[0])
    p = dict(smk.params.data)
    cfg = AngleData(
        sigma=p["sigma"], n_classes=p["n_classes"], angle_range=p["angle_range"], input_dim=p["input_dim"]
    )
    with job_run(smk.rule, dict(smk.wildcards), {"data": p}) as run:
        info = make_angle_dataset(smk.output.data, cfg, p["n_train"], p["n_eval"], p["seed"])
        run.log_metrics({"min_class_count": info["min_class_count"], "max_class_count": info["max_class_count"]})
        atomic_json(smk.output.meta, {**info, "job_uid": run.uid})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
