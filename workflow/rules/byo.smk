# Bring your own activations: probes of every layer of every model, layer × layer model comparisons.


rule byo_digits:
    output:
        factors="results/byo/digits/factors.npz",
        models=[f"results/byo/digits/mlp_seed{s}.npz" for s in BYO_DIGITS["seeds"]],
        init="results/byo/digits/mlp_init.npz",
        info="results/byo/digits/digits_example.json",
    log:
        "results/logs/byo_digits.log",
    conda:
        "../../envs/torch.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        example=BYO_DIGITS,
        code=code("byo_digits.py"),
    script:
        "../scripts/byo_digits.py"


rule byo_probe:
    input:
        model=byo_model_file,
        factors=BYO_FACTORS or [],
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
        probe={k: BYO[k] for k in ("test_fraction", "n_rep", "seed")},
        code=code("byo_probe.py"),
    script:
        "../scripts/byo_probe.py"


rule byo_compare:
    input:
        unpack(byo_pair_files),
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
        compare={k: BYO[k] for k in ("svcca_k", "max_rows", "seed")},
        code=code("byo_compare.py"),
    script:
        "../scripts/byo_compare.py"


rule byo_tables:
    input:
        probes=[f"results/byo/probes/{m}.csv" for m in BYO_NAMES] if BYO_FACTORS else [],
        pairs=[f"results/byo/pairs/{a}/{b}.csv" for a, b in BYO_PAIRS],
    output:
        layers=report(
            "results/tables/byo_layers.csv",
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
        probes_md=report(
            "results/tables/byo_probes.md",
            category="Bring your own",
            caption="../report/byo_probes.rst",
        ),
    log:
        "results/logs/byo_tables.log",
    localrule: True
    conda:
        "../../envs/plot.yaml"
    params:
        models=BYO_NAMES,
        pairs=BYO_PAIRS,
        code=code("byo_tables.py"),
    script:
        "../scripts/byo_tables.py"


rule byo_svcca:
    input:
        unpack(byo_pair_files),
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
        protocol={
            k: v for k, v in sorted(SVCCA_P.items()) if k not in ("enabled", "panels")
        },
        seed=BYO["seed"],
        code=code("byo_svcca.py"),
    script:
        "../scripts/byo_svcca.py"


rule byo_svcca_figure:
    input:
        tables=[f"results/byo/svcca/{a}/{b}.csv" for a, b in BYO_SVCCA_PAIRS],
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
        panels=SVCCA_P["panels"],
        code=code("byo_svcca_figure.py"),
    script:
        "../scripts/byo_svcca_figure.py"


rule byo_text_lm:
    output:
        models=BYO_TEXT_LM_FILES,
        info="results/byo/text_lm/text_lm_example.json",
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
