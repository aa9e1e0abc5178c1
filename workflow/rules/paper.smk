# Published vs reproduced: every reproduced cell that matches a row of the paper's tables.


rule paper_comparison:
    input:
        table=rules.aggregate_probes.output.table,
        meta=rules.aggregate_probes.output.meta,
        published=PUBLISHED,
    output:
        table=report(
            "results/tables/paper_comparison.csv",
            category="[R] simulation",
            subcategory="published vs reproduced",
            caption="../report/paper.rst",
        ),
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
