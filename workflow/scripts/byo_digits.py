"""Rule byo_digits: the bring-your-own worked example: small MLPs trained on scikit-learn's digits."""

from pathlib import Path

from linid.byo.digits import export_digits_example
from linid.pipeline.context import setup_logging
from linid.pipeline.tracking import job_run


def main(smk) -> None:
    setup_logging(smk.log[0])
    p = smk.params.example
    with job_run(smk.rule, {}, {"example": p}) as run:
        res = export_digits_example(Path(smk.output.factors).parent, p["seeds"], p["hidden"], p["epochs"])
        run.log_metrics({f"heldout_accuracy.{k}": v for k, v in res["accuracy"].items()})


if __name__ == "__main__":
    main(snakemake)  # noqa: F821 - injected by Snakemake
