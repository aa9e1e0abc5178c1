# [K] Figure 1, word embeddings: corpus (generated with a known truth, or the user's) → one NCE-trained
# log-bilinear model per seed → every pair of replicas and every replica vs the truth → tables, figures.
# Cells, params and resources: TEXT_PLAN (linid/pipeline/plans/text.py, built in common.smk).


rule text_corpus:
    input:
        unpack(TEXT_PLAN.corpus_input),
    output:
        corpus="results/text/corpus/{tcell}.npz",
        meta="results/text/corpus/{tcell}.json",
    log:
        "results/logs/text_corpus/{tcell}.log",
    conda:
        "../../envs/torch.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        corpus=TEXT_PLAN.corpus_params,
        code=code("text_corpus.py"),
    script:
        "../scripts/text_corpus.py"


rule text_train:
    input:
        corpus=rules.text_corpus.output.corpus,
        meta=rules.text_corpus.output.meta,
    output:
        model="results/text/models/{tcell}/seed{seed}.npz",
        summary="results/text/models/{tcell}/seed{seed}.json",
    log:
        "results/logs/text_train/{tcell}/seed{seed}.log",
    conda:
        "../../envs/torch.yaml"
    threads: 1
    resources:
        gpu=config["resources"]["gpus"],
        mem_mb=TEXT_PLAN.train_mem,
        runtime=TEXT_PLAN.train_runtime,
    params:
        cell=TEXT_PLAN.train_params,
        allow_cpu=TEXT_PLAN.allow_cpu,
        code=code("text_train.py"),
    script:
        "../scripts/text_train.py"


rule text_compare:
    input:
        corpus=rules.text_corpus.output.corpus,
        meta=rules.text_corpus.output.meta,
        models=TEXT_PLAN.cell_seed_files(rules.text_train.output.model),
    output:
        pairs="results/text/pairs/{tcell}.csv",
        embeddings="results/text/pairs/{tcell}.npz",
    log:
        "results/logs/text_compare/{tcell}.log",
    conda:
        "../../envs/eval.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        compare=TEXT_PLAN.compare,
        seeds=TEXT_PLAN.seeds,
        code=code("text_compare.py"),
    script:
        "../scripts/text_compare.py"


rule text_tables:
    input:
        pairs=TEXT_PLAN.cell_files(rules.text_compare.output.pairs),
        summaries=TEXT_PLAN.seed_files(rules.text_train.output.summary),
        metas=TEXT_PLAN.cell_files(rules.text_corpus.output.meta),
    output:
        pairs="results/tables/text_pairs.csv",
        summary="results/tables/text_summary.csv",
        summary_md="results/tables/text_summary.md",
        summary_html=report(
            "results/tables/text_summary.html",
            category="[K] word embeddings",
            caption="../report/text_summary.rst",
        ),
        summary_table_html=report(
            "results/tables/text_summary_table.html",
            category="[K] word embeddings",
            caption="../report/text_summary.rst",
        ),
    log:
        "results/logs/text_tables.log",
    localrule: True
    conda:
        "../../envs/plot.yaml"
    params:
        cells=TEXT_PLAN.rows,
        code=code("text_tables.py"),
    script:
        "../scripts/text_tables.py"


rule text_figures:
    input:
        summary=rules.text_tables.output.summary,
        embeddings=TEXT_PLAN.cell_files(rules.text_compare.output.embeddings),
    output:
        overlay=report(
            "results/figures/text/overlay.png",
            category="[K] word embeddings",
            caption="../report/text_overlay.rst",
        ),
        overlay_pdf="results/figures/text/overlay.pdf",
        agreement=report(
            "results/figures/text/agreement.png",
            category="[K] word embeddings",
            caption="../report/text_agreement.rst",
        ),
        agreement_pdf="results/figures/text/agreement.pdf",
    log:
        "results/logs/text_figures.log",
    localrule: True
    conda:
        "../../envs/plot.yaml"
    params:
        cells=TEXT_PLAN.rows,
        figure_words=TEXT_PLAN.compare["figure_words"],
        code=code("text_figures.py"),
    script:
        "../scripts/text_figures.py"
