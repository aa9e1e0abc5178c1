# Model-to-model comparisons (docs/science.md §4): every pair of seeds of a cell, in both experiments.


rule compare_family:
    input:
        features=rules.family_features.output.features,
    output:
        pairs="results/family/compare/{fdata}/M{M}.csv",
        spectra="results/family/compare/{fdata}/M{M}.spectra.csv",
    log:
        "results/logs/compare_family/{fdata}/M{M}.log",
    group:
        "compare"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=1000,
        runtime=FAMILY_PLAN.compare_runtime,
    params:
        layers=list(LAYERS),
        seeds=None,
        svcca_k=COMPARE["svcca_k"],
        code=code("compare.py"),
    script:
        "../scripts/compare.py"


rule compare_sim_part:
    input:
        features=COMPARE_PLAN.part_features(rules.extract_features.output.features),
    output:
        pairs="results/sim/compare/{data}/{method}/{head}/part{part}.csv",
        spectra="results/sim/compare/{data}/{method}/{head}/part{part}.spectra.csv",
    log:
        "results/logs/compare_sim_part/{data}/{method}/{head}/part{part}.log",
    group:
        "compare"
    conda:
        "../../envs/eval.yaml"
    resources:
        mem_mb=1000,
        runtime=COMPARE_PLAN.part_runtime,
    params:
        layers=["f"],
        seeds=COMPARE_PLAN.part_seeds,
        pairs=COMPARE_PLAN.part_pairs,
        svcca_k=COMPARE["svcca_k"],
        code=code("compare.py"),
    script:
        "../scripts/compare.py"


rule compare_sim:
    input:
        pairs=COMPARE_PLAN.part_files(rules.compare_sim_part.output.pairs),
        spectra=COMPARE_PLAN.part_files(rules.compare_sim_part.output.spectra),
    output:
        pairs="results/sim/compare/{data}/{method}/{head}.csv",
        spectra="results/sim/compare/{data}/{method}/{head}.spectra.csv",
    log:
        "results/logs/compare_sim/{data}/{method}/{head}.log",
    localrule: True
    conda:
        "../../envs/eval.yaml"
    params:
        code=code("compare_merge.py"),
    script:
        "../scripts/compare_merge.py"


rule aggregate_pairs:
    input:
        pairs=COMPARE_PLAN.files(
            rules.compare_family.output.pairs, rules.compare_sim.output.pairs
        ),
        spectra=COMPARE_PLAN.files(
            rules.compare_family.output.spectra, rules.compare_sim.output.spectra
        ),
    output:
        table="results/tables/pairs.csv",
        table_html=report(
            "results/tables/pairs.html",
            category="[K] family and seed pairs",
            caption="../report/pairs.rst",
        ),
        spectra="results/tables/cca_spectra.csv",
        summary="results/tables/pairs_summary.csv",
        markdown="results/tables/pairs_summary.md",
        html=report(
            "results/tables/pairs_summary.html",
            category="[K] family and seed pairs",
            caption="../report/pairs_summary.rst",
        ),
        meta="results/tables/pairs.meta.json",
    log:
        "results/logs/aggregate_pairs.log",
    localrule: True
    conda:
        "../../envs/eval.yaml"
    params:
        cells=COMPARE_PLAN.cells(),
        code=code("aggregate_pairs.py"),
    script:
        "../scripts/aggregate_pairs.py"


rule family_figures:
    input:
        table=rules.aggregate_pairs.output.table,
        spectra=rules.aggregate_pairs.output.spectra,
        meta=rules.aggregate_pairs.output.meta,
        features=FAMILY_PLAN.files(rules.family_features.output.features),
    output:
        mcca=report(
            "results/figures/family/mcca_vs_classes.png",
            category="[K] family and seed pairs",
            caption="../report/mcca.rst",
        ),
        alignment=report(
            "results/figures/family/alignment.png",
            category="[K] family and seed pairs",
            caption="../report/alignment.rst",
        ),
        spectra=report(
            "results/figures/family/cca_spectra.png",
            category="[K] family and seed pairs",
            caption="../report/spectra.rst",
        ),
        pdfs=multiext(
            "results/figures/family/",
            "mcca_vs_classes.pdf",
            "alignment.pdf",
            "cca_spectra.pdf",
        ),
    log:
        "results/logs/family_figures.log",
    localrule: True
    conda:
        "../../envs/plot.yaml"
    params:
        cells=FAMILY_PLAN.cells_table(),
        code=code("family_figures.py"),
    script:
        "../scripts/family_figures.py"
