"""One plan per experiment: the validated config turned into records, path patterns, params and
resource estimates, without Snakemake, torch or scikit-learn (the workflow reads these at parse
time, once per job). The rule files ask a plan; the plan never asks Snakemake."""
