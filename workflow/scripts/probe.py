"""Rule probe: every metric of docs/science.md §3 on one model's stored features."""


from linid.pipeline.context import setup_logging
from linid.pipeline.io import atomic_json, load_npz
from linid.pipeline.tracking import job_run
from linid.probes.suite import probe_metrics


def main(smk) -> None:
    setup_logging(smk.log[0])
    arrays = load_npz(smk.input.features)
    features_uid = str(arrays["job_uid"])
    p = smk.params.probe
    with job_run(smk.rule, dict(smk.wildcards), {"probe": p, "kappa": smk.params.kappa}, upstream=[features_uid]) as run:
        metrics = probe_metrics(
            arrays["features"],
            arrays["latents"],
            kappa=smk.params.kappa,
            beta=float(arrays["temperature"]),
            n_affine=p["n_affine"],
            n_linear=p["n_linear"],
            w_rows=arrays["w_rows"],
            w_targets=arrays["w_targets"],
            knn_neighbors=p["knn_neighbors"],
        )
        run.log_metrics(metrics)
        atomic_json(smk.output.probe, {"metrics": metrics, "job_uid": run.uid, "features_uid": features_uid})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
