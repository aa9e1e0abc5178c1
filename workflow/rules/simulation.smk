# [R] synthetic experiment: dataset → training (packs) → features → linear probes → tables, figures
# and the published-vs-reproduced comparison.


# A pack folder that lost a member's file is refused with the command that retrains it: Snakemake
# sees the folder (the train job's output) as done while it exists, so nothing would rebuild it.
# Folders the command already forces to rerun (--forcerun, --forceall) pass.
if workflow.is_main_process and not getattr(ARGS, "forceall", False):
    LOST = incomplete_packs(
        SIM_PLAN.packs,
        PACK_DIR,
        MEMBER_DIR,
        TRAINED.values(),
        forced=getattr(ARGS, "forcerun", None) or (),
    )
    if LOST:
        raise WorkflowError(lost_members_message(LOST))


rule generate_dataset:
    output:
        data="results/sim/datasets/{data}.npz",
        meta="results/sim/datasets/{data}.json",
    log:
        "results/logs/generate_dataset/{data}.log",
    priority: SIM_PLAN.dataset_priority
    conda:
        "../../envs/torch.yaml"
    resources:
        mem_mb=2000,
        runtime=15,
    params:
        dgp=SIM_PLAN.dataset_params,
        n_eval=SIM["data"]["n_eval"],
        n_monitor=SIM["data"]["n_monitor"],
        code=code("generate_dataset.py"),
    script:
        "../scripts/generate_dataset.py"


rule train:
    input:
        data=SIM_PLAN.pack_inputs(rules.generate_dataset.output.data),
        meta=SIM_PLAN.pack_inputs(rules.generate_dataset.output.meta),
    output:
        pack=directory(PACK_DIR),
    log:
        "results/logs/train/{pack}.log",
    priority: SIM_PLAN.priority
    conda:
        "../../envs/torch.yaml"
    threads: SIM["train"]["threads"]
    resources:
        gpu=config["resources"]["gpus"],
        mem_mb=SIM_PLAN.mem,
        runtime=SIM_PLAN.runtime,
    params:
        members=SIM_PLAN.members,
        checkpoint=SIM_PLAN.checkpoint,
        allow_cpu=SIM["train"]["allow_cpu"],
        objective=lambda w: objective_code(SIM_PLAN.pack_method(w)),
        code=code("train.py"),
    script:
        "../scripts/train.py"


# one model's files, copied out of its pack's folder (a local job in the main process: no MLflow run)
rule trained_model:
    input:
        pack=SIM_PLAN.member_pack(rules.train.output.pack),
    output:
        model=TRAINED["model"],
        curve=TRAINED["curve"],
        summary=TRAINED["summary"],
    log:
        "results/logs/trained_model/{data}/{method}/{head}/seed{seed}.log",
    localrule: True
    params:
        member=MEMBER_DIR,
    run:
        copy_member(input.pack, params.member.format(**wildcards), dict(output), log[0])


rule extract_features:
    input:
        data=rules.generate_dataset.output.data,
        model=rules.trained_model.output.model,
        summary=rules.trained_model.output.summary,
    output:
        features="results/sim/features/{data}/{method}/{head}/seed{seed}.npz",
    log:
        "results/logs/extract_features/{data}/{method}/{head}/seed{seed}.log",
    conda:
        "../../envs/torch.yaml"
    resources:
        gpu=config["resources"]["gpus"],
        mem_mb=4000,
        runtime=15,
    params:
        method="{method}",
        objective=lambda w: objective_code(w.method),
        code=code("extract_features.py"),
    script:
        "../scripts/extract_features.py"


rule probe:
    input:
        features=rules.extract_features.output.features,
    output:
        probe="results/sim/probes/{data}/{method}/{head}/seed{seed}.json",
    log:
        "results/logs/probe/{data}/{method}/{head}/seed{seed}.log",
    group:
        "probe"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        probe=SIM["probe"],
        temperature=SIM["train"]["temperature"],
        code=code("probe.py"),
    script:
        "../scripts/probe.py"


rule probe_observations:
    input:
        data=rules.generate_dataset.output.data,
        meta=rules.generate_dataset.output.meta,
    output:
        probe="results/sim/probes/{data}/observations.json",
    log:
        "results/logs/probe_observations/{data}.log",
    group:
        "probe"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        probe=SIM["probe"],
        code=code("probe_observations.py"),
    script:
        "../scripts/probe_observations.py"


# Aggregation: one tidy row per trained model, and the paper-style mean ± std tables.
rule aggregate_probes:
    input:
        probes=SIM_PLAN.model_files(rules.probe.output.probe),
        observations=SIM_PLAN.dataset_files(rules.probe_observations.output.probe),
        summaries=SIM_PLAN.model_files(rules.trained_model.output.summary),
        curves=SIM_PLAN.model_files(rules.trained_model.output.curve),
    output:
        table="results/tables/probes.csv",
        table_html=report(
            "results/tables/probes.html",
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
        rows=SIM_PLAN.probe_rows(),
        models=[list(m) for m in SIM_PLAN.models],
        datasets=list(SIM_PLAN.datasets),
        level=SIM["probe"]["level"],
        code=code("aggregate.py"),
    script:
        "../scripts/aggregate.py"


# One process, several objectives: the datasets more than one objective trained on, side by side.
rule objectives:
    input:
        table=rules.aggregate_probes.output.table,
        meta=rules.aggregate_probes.output.meta,
    output:
        table="results/tables/objectives.csv",
        markdown="results/tables/objectives.md",
        html=report(
            "results/tables/objectives.html",
            category="[R] simulation",
            subcategory="tables",
            caption="../report/objectives.rst",
        ),
        figure=report(
            "results/figures/objectives.png",
            category="[R] simulation",
            subcategory="figures",
            caption="../report/objectives_fig.rst",
        ),
        pdf="results/figures/objectives.pdf",
    log:
        "results/logs/objectives.log",
    localrule: True
    conda:
        "../../envs/eval.yaml"
    params:
        level=SIM["probe"]["level"],
        code=code("objectives.py"),
    script:
        "../scripts/objectives.py"


# Figures: R² heatmap over d × |C|, R² vs |C| per d, training curves, one figure per extra axis.


rule figures:
    input:
        table=rules.aggregate_probes.output.table,
        curves=rules.aggregate_probes.output.curves,
        meta=rules.aggregate_probes.output.meta,
    output:
        heatmap=report(
            "results/figures/r2_heatmap.png",
            category="[R] simulation",
            subcategory="figures",
            caption="../report/heatmap.rst",
        ),
        vs_classes=report(
            "results/figures/r2_vs_classes.png",
            category="[R] simulation",
            subcategory="figures",
            caption="../report/vs_classes.rst",
        ),
        curves=report(
            "results/figures/training_curves.png",
            category="[R] simulation",
            subcategory="figures",
            caption="../report/curves.rst",
        ),
        pdfs=multiext(
            "results/figures/",
            "r2_heatmap.pdf",
            "r2_vs_classes.pdf",
            "training_curves.pdf",
        ),
        axes=report(
            directory("results/figures/axes"),
            patterns=["{name}.png"],
            category="[R] simulation",
            subcategory="figures",
            caption="../report/axes.rst",
        ),
    log:
        "results/logs/figures.log",
    localrule: True
    conda:
        "../../envs/plot.yaml"
    params:
        axes=SIM_PLAN.extra_axes(),
        bases=SIM_PLAN.sweep_bases(),
        code=code("figures.py"),
    script:
        "../scripts/figures.py"


# Published vs reproduced: every reproduced cell that matches a row of the paper's tables.


rule paper_comparison:
    input:
        table=rules.aggregate_probes.output.table,
        meta=rules.aggregate_probes.output.meta,
        published=PUBLISHED,
    output:
        table="results/tables/paper_comparison.csv",
        markdown="results/tables/paper_comparison.md",
        html=report(
            "results/tables/paper_comparison.html",
            category="[R] simulation",
            subcategory="published vs reproduced",
            caption="../report/paper.rst",
        ),
        figure=report(
            "results/figures/paper_comparison.png",
            category="[R] simulation",
            subcategory="published vs reproduced",
            caption="../report/paper_fig.rst",
        ),
        pdf="results/figures/paper_comparison.pdf",
    log:
        "results/logs/paper_comparison.log",
    localrule: True
    conda:
        "../../envs/plot.yaml"
    params:
        code=code("paper_comparison.py"),
    script:
        "../scripts/paper_comparison.py"
