"""Rule generate_dataset: draw the fixed parts of the process and its held-out sets."""

from linid.core.io import atomic_json
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run
from linid.sim.process import DGPConfig, make_process, save_dataset


def main(smk) -> None:
    setup_logging(smk.log[0])
    cfg = DGPConfig(**smk.params.dgp)
    with job_run(smk.rule, dict(smk.wildcards), {"dgp": smk.params.dgp, "n_eval": smk.params.n_eval}) as run:
        process = make_process(cfg)
        info = save_dataset(smk.output.data, process, smk.params.n_eval, smk.params.n_monitor)
        run.log_metrics(
            {f"condition_number_{k}": c for k, c in enumerate(info["condition_numbers"])}
            | {f"mixing_draws_{k}": n for k, n in enumerate(info["mixing_draws"])}
            | {
                "mixing_condition_number": info["mixing_condition_number"],
                "mixing_threshold": info["mixing_threshold"],
            }
        )
        atomic_json(smk.output.meta, {"config": smk.params.dgp, **info, "job_uid": run.uid})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
