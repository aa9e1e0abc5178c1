"""Rule probe: every metric of docs/science.md §3 on one model's stored features, its bootstrap
interval, and the same metrics on the same seed's untrained encoder (the controls)."""


from linid.core.io import atomic_json, load_npz
from linid.names import control_column
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.probes.regression import r2_affine_interval
from linid.probes.suite import control_metrics, probe_metrics


def main(smk) -> None:
    setup_logging(smk.log[0])
    arrays = load_npz(smk.input.features)
    features_uid = str(arrays["job_uid"])
    p = smk.params.probe
    # the κ of MAE_o's target 1/(κβ): the cell's for cross-entropy, 1 for an orthogonal map (features)
    kappa = float(arrays["sv_kappa"])
    params = {"probe": p, "kappa": kappa}
    with job_run(smk.rule, dict(smk.wildcards), params, upstream=[features_uid]) as run:
        z = arrays["latents"]
        metrics = probe_metrics(
            arrays["features"],
            z,
            kappa=kappa,
            beta=float(arrays["temperature"]),
            n_affine=p["n_affine"],
            n_linear=p["n_linear"],
            w_rows=arrays.get("w_rows"),  # absent without a head: the W → v metrics are NaN
            w_targets=arrays.get("w_targets"),
            knn_neighbors=p["knn_neighbors"],
        )
        lo, hi = r2_affine_interval(
            arrays["features"][: p["n_affine"]],
            z[: p["n_affine"]],
            n_boot=p["bootstrap"],
            seed=p["bootstrap_seed"],
            level=p["level"],
        )
        metrics.update(r2_affine_lo=lo, r2_affine_hi=hi)
        sizes = {"n_affine": p["n_affine"], "n_linear": p["n_linear"]}
        for control in ("init", "init_bn"):
            values = control_metrics(
                arrays[f"features_{control}"], z, knn_neighbors=p["knn_neighbors"], **sizes
            )
            metrics.update({control_column(m, control): v for m, v in values.items()})
        run.log_metrics(metrics)
        atomic_json(
            smk.output.probe,
            {"metrics": metrics, "job_uid": run.uid, "features_uid": features_uid},
        )


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
