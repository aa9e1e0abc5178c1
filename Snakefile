# linid: linear identifiability of cross-entropy-trained representations, as one declarative sweep.
# Usage: `snakemake --cores 2` (laptop demo), `snakemake --profile slurm` (cluster),
#        `snakemake --configfile configs/paper_supervised.yaml --profile slurm` (paper presets).
from snakemake.utils import min_version

min_version("9.0")


# The embedded default; a preset passed with --configfile replaces it instead of merging into it.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulation.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/figures.smk"


rule all:
    input:
        all_outputs(),
    default_target: True
