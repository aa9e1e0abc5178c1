"""Rule probe_observations: the observations control of one dataset, the probes applied to x itself
(no encoder) on the held-out draws every model of the dataset is scored on."""


from linid.core.io import atomic_json, load_npz, read_json
from linid.names import control_column
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.probes.suite import control_metrics


def main(smk) -> None:
    setup_logging(smk.log[0])
    arrays = load_npz(smk.input.data)
    dataset_uid = read_json(smk.input.meta)["job_uid"]
    p = smk.params.probe
    with job_run(smk.rule, dict(smk.wildcards), {"probe": p}, upstream=[dataset_uid]) as run:
        values = control_metrics(
            arrays["eval_x"],
            arrays["eval_z"],
            n_affine=p["n_affine"],
            n_linear=p["n_linear"],
            knn_neighbors=p["knn_neighbors"],
        )
        metrics = {control_column(m, "x"): v for m, v in values.items()}
        run.log_metrics(metrics)
        atomic_json(
            smk.output.probe,
            {"metrics": metrics, "job_uid": run.uid, "dataset_uid": dataset_uid},
        )


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
