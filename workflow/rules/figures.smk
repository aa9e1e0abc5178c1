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
        axes=SIMP.extra_axes(),
        bases=SIMP.sweep_bases(),
        code=code("figures.py"),
    script:
        "../scripts/figures.py"
