# Bring your own activations: probes of every layer of every model, layer × layer model comparisons.
# Models, pairs and params: BYO_PLAN (linid/pipeline/plans/byo.py, built in common.smk).


rule byo_digits:
    output:
        factors=BYO_PLAN.DIGITS_OUT["factors"],
        models=BYO_PLAN.digits_models(),
        init=BYO_PLAN.DIGITS_OUT["init"],
        info=BYO_PLAN.DIGITS_OUT["info"],
    log:
        "results/logs/byo_digits.log",
    conda:
        "../../envs/torch.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        example=BYO_PLAN.DIGITS,
        code=code("byo_digits.py"),
    script:
        "../scripts/byo_digits.py"


rule byo_probe:
    input:
        model=BYO_PLAN.model_file,
        factors=BYO_PLAN.factors or [],
    output:
        table="results/byo/probes/{bmodel}.csv",
    log:
        "results/logs/byo_probe/{bmodel}.log",
    conda:
        "../../envs/eval.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        probe=BYO_PLAN.probe_params,
        code=code("byo_probe.py"),
    script:
        "../scripts/byo_probe.py"


rule byo_compare:
    input:
        unpack(BYO_PLAN.pair_files),
    output:
        table="results/byo/pairs/{bmodel_a}/{bmodel_b}.csv",
    log:
        "results/logs/byo_compare/{bmodel_a}/{bmodel_b}.log",
    conda:
        "../../envs/eval.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        compare=BYO_PLAN.compare_params,
        code=code("byo_compare.py"),
    script:
        "../scripts/byo_compare.py"


rule byo_tables:
    input:
        probes=BYO_PLAN.probe_files(rules.byo_probe.output.table),
        pairs=BYO_PLAN.pair_outputs(rules.byo_compare.output.table),
    output:
        layers="results/tables/byo_layers.csv",
        layers_html=report(
            "results/tables/byo_layers.html",
            category="Bring your own",
            caption="../report/byo_layers.rst",
        ),
        layers_md="results/tables/byo_layers.md",
        matrix=report(
            "results/figures/byo/layer_matrix.png",
            category="Bring your own",
            caption="../report/byo_layers.rst",
        ),
        matrix_pdf="results/figures/byo/layer_matrix.pdf",
        probes="results/tables/byo_probes.csv",
        probes_md="results/tables/byo_probes.md",
        probes_html=report(
            "results/tables/byo_probes.html",
            category="Bring your own",
            caption="../report/byo_probes.rst",
        ),
    log:
        "results/logs/byo_tables.log",
    localrule: True
    conda:
        "../../envs/plot.yaml"
    params:
        models=BYO_PLAN.names,
        pairs=BYO_PLAN.pairs,
        code=code("byo_tables.py"),
    script:
        "../scripts/byo_tables.py"


rule byo_svcca:
    input:
        unpack(BYO_PLAN.pair_files),
    output:
        table="results/byo/svcca/{bmodel_a}/{bmodel_b}.csv",
    log:
        "results/logs/byo_svcca/{bmodel_a}/{bmodel_b}.log",
    conda:
        "../../envs/eval.yaml"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        protocol=BYO_PLAN.svcca_params,
        seed=BYO_PLAN.seed,
        code=code("byo_svcca.py"),
    script:
        "../scripts/byo_svcca.py"


rule byo_svcca_figure:
    input:
        tables=BYO_PLAN.pair_outputs(rules.byo_svcca.output.table, BYO_PLAN.svcca_pairs),
    output:
        table="results/tables/byo_svcca.csv",
        figure=report(
            "results/figures/byo/svcca_fig4.png",
            category="Bring your own",
            caption="../report/byo_svcca.rst",
        ),
        figure_pdf="results/figures/byo/svcca_fig4.pdf",
    log:
        "results/logs/byo_svcca_figure.log",
    localrule: True
    conda:
        "../../envs/plot.yaml"
    params:
        panels=BYO_PLAN.svcca["panels"],
        code=code("byo_svcca_figure.py"),
    script:
        "../scripts/byo_svcca_figure.py"


rule byo_text_lm:
    output:
        models=BYO_PLAN.text_lm_files,
        info=BYO_PLAN.TEXT_LM_OUT["info"],
    log:
        "results/logs/byo_text_lm.log",
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        code=code("byo_text_lm.py"),
    script:
        "../scripts/byo_text_lm.py"
