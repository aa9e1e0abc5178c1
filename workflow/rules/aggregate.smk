# Aggregation: one tidy row per trained model, and the paper-style mean ± std tables.


rule aggregate_probes:
    input:
        probes=SIMP.model_files(rules.probe.output.probe),
        observations=SIMP.dataset_files(rules.probe_observations.output.probe),
        summaries=SIMP.model_files(rules.trained_model.output.summary),
        curves=SIMP.model_files(rules.trained_model.output.curve),
    output:
        table=report(
            "results/tables/probes.csv",
            category="[R] simulation",
            subcategory="tables",
            caption="../report/probes.rst",
        ),
        summary="results/tables/probes_summary.csv",
        markdown="results/tables/probes_summary.md",
        html=report(
            "results/tables/probes_summary.html",
            category="[R] simulation",
            subcategory="tables",
            caption="../report/summary.rst",
        ),
        curves="results/tables/curves.csv",
        meta="results/tables/probes.meta.json",
    log:
        "results/logs/aggregate_probes.log",
    localrule: True
    conda:
        "../../envs/eval.yaml"
    params:
        rows=SIMP.probe_rows(),
        models=[list(m) for m in SIMP.models],
        datasets=list(SIMP.datasets),
        level=SIM["probe"]["level"],
        code=code("aggregate.py"),
    script:
        "../scripts/aggregate.py"
