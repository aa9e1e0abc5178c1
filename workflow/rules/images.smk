# [R] §4.2 DisLib: dataset → encoders trained on the category → linear probes of every factor → tables.
# Records, paths, params and resources: IMAGES_PLAN (linid/pipeline/plans/images.py, built in common.smk).


rule render_dsprites:
    output:
        data=IMAGES_PLAN.SOURCE["data"],
        meta=IMAGES_PLAN.SOURCE["meta"],
    log:
        "results/logs/render_dsprites/{dataset}.log",
    benchmark:
        "results/benchmarks/render_dsprites/{dataset}.tsv"
    conda:
        "../../envs/torch.yaml"
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        render=IMAGES_PLAN.render_params,
        code=code("render_dsprites.py"),
    script:
        "../scripts/render_dsprites.py"


rule image_data:
    input:
        unpack(IMAGES_PLAN.source),
    output:
        data="results/images/data/{dataset}.npz",
        meta="results/images/data/{dataset}.json",
    log:
        "results/logs/image_data/{dataset}.log",
    benchmark:
        "results/benchmarks/image_data/{dataset}.tsv"
    conda:
        "../../envs/torch.yaml"
    resources:
        mem_mb=IMAGES_PLAN.mem,
        runtime=60,
    params:
        dataset=IMAGES_PLAN.data_params,
        code=code("image_data.py"),
    script:
        "../scripts/image_data.py"


rule image_train:
    input:
        data=rules.image_data.output.data,
        meta=rules.image_data.output.meta,
    output:
        model=IMAGES_PLAN.TRAIN_OUT["model"],
        curve=IMAGES_PLAN.TRAIN_OUT["curve"],
        summary=IMAGES_PLAN.TRAIN_OUT["summary"],
    log:
        "results/logs/image_train/{dataset}/{model}/seed{seed}.log",
    benchmark:
        "results/benchmarks/image_train/{dataset}/{model}/seed{seed}.tsv"
    priority: IMAGES_PLAN.train_priority
    conda:
        "../../envs/torch.yaml"
    threads: 2
    resources:
        gpu=config["resources"]["gpus"],
        mem_mb=IMAGES_PLAN.mem,
        runtime=IMAGES_PLAN.runtime,
    params:
        train=IMAGES_PLAN.train_params,
        checkpoint=IMAGES_PLAN.checkpoint,
        allow_cpu=IMAGES_PLAN.allow_cpu,
        code=code("image_train.py"),
    script:
        "../scripts/image_train.py"


rule image_probe:
    input:
        unpack(IMAGES_PLAN.model_input),
        data=rules.image_data.output.data,
        meta=rules.image_data.output.meta,
    output:
        probe="results/images/probes/{dataset}/{model}/seed{seed}.json",
    log:
        "results/logs/image_probe/{dataset}/{model}/seed{seed}.log",
    benchmark:
        "results/benchmarks/image_probe/{dataset}/{model}/seed{seed}.tsv"
    wildcard_constraints:
        model=IMAGES_PLAN.PROBE_MODELS,
    conda:
        "../../envs/torch.yaml"
    threads: 2
    resources:
        gpu=config["resources"]["gpus"],
        mem_mb=IMAGES_PLAN.mem,
        runtime=60,
    params:
        probe=IMAGES_PLAN.probe,
        model_seed=IMAGES_PLAN.seed,
        allow_cpu=IMAGES_PLAN.allow_cpu,
        code=code("image_probe.py"),
    script:
        "../scripts/image_probe.py"


rule image_activations:
    input:
        unpack(IMAGES_PLAN.model_input),
        data=rules.image_data.output.data,
        meta=rules.image_data.output.meta,
    output:
        activations=IMAGES_PLAN.ACTIVATIONS,
    log:
        "results/logs/image_activations/{dataset}/{model}_seed{seed}.log",
    benchmark:
        "results/benchmarks/image_activations/{dataset}/{model}_seed{seed}.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: 2
    resources:
        gpu=config["resources"]["gpus"],
        mem_mb=IMAGES_PLAN.mem,
        runtime=30,
    params:
        export=IMAGES_PLAN.export,
        model_seed=IMAGES_PLAN.seed,
        allow_cpu=IMAGES_PLAN.allow_cpu,
        code=code("image_activations.py"),
    script:
        "../scripts/image_activations.py"


rule image_activation_factors:
    input:
        data=rules.image_data.output.data,
        meta=rules.image_data.output.meta,
    output:
        factors=IMAGES_PLAN.ACTIVATION_FACTORS,
    log:
        "results/logs/image_activation_factors/{dataset}.log",
    localrule: True
    conda:
        "../../envs/torch.yaml"
    params:
        export=IMAGES_PLAN.export,
        code=code("image_activation_factors.py"),
    script:
        "../scripts/image_activation_factors.py"


rule image_tables:
    input:
        probes=IMAGES_PLAN.files(rules.image_probe.output.probe, IMAGES_PLAN.probed),
        published=bundled(IMAGES_PLAN.PUBLISHED_TABLE4),
    output:
        table="results/tables/image_probes.csv",
        table_html=report(
            "results/tables/image_probes_table.html",
            category="[R] images",
            caption="../report/image_probes.rst",
        ),
        summary="results/tables/image_probes_summary.csv",
        markdown="results/tables/image_probes.md",
        html=report(
            "results/tables/image_probes.html",
            category="[R] images",
            caption="../report/image_probes.rst",
        ),
        paper="results/tables/image_paper_comparison.csv",
        paper_md="results/tables/image_paper_comparison.md",
        paper_html=report(
            "results/tables/image_paper_comparison.html",
            category="[R] images",
            caption="../report/image_paper.rst",
        ),
        bars=report(
            "results/figures/images/image_probes.png",
            category="[R] images",
            caption="../report/image_probes.rst",
        ),
        bars_pdf="results/figures/images/image_probes.pdf",
        meta="results/tables/image_probes.meta.json",
    log:
        "results/logs/image_tables.log",
    benchmark:
        "results/benchmarks/image_tables.tsv"
    localrule: True
    conda:
        "../../envs/plot.yaml"
    params:
        budgets=IMAGES_PLAN.budgets(),
        code=code("image_tables.py"),
    script:
        "../scripts/image_tables.py"


rule image_curves:
    input:
        curves=IMAGES_PLAN.files(rules.image_train.output.curve, IMAGES_PLAN.trained),
    output:
        table="results/tables/image_curves.csv",
        figure=report(
            "results/figures/images/training_curves.png",
            category="[R] images",
            caption="../report/image_curves.rst",
        ),
        pdf="results/figures/images/training_curves.pdf",
    log:
        "results/logs/image_curves.log",
    benchmark:
        "results/benchmarks/image_curves.tsv"
    localrule: True
    conda:
        "../../envs/plot.yaml"
    params:
        curve_keys=IMAGES_PLAN.curve_keys(),
        code=code("image_curves.py"),
    script:
        "../scripts/image_curves.py"
