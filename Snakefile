# linid: linear identifiability of cross-entropy-trained representations, as one declarative sweep.
# Usage: `snakemake --cores 2` (laptop demo), `snakemake --profile slurm` (cluster),
#        `snakemake --config preset=paper_table3 --profile slurm` (paper presets).
import sys

from snakemake.utils import min_version

sys.path.insert(0, workflow.basedir)

min_version("9.0")


# The embedded default; a preset (--config preset=NAME, or --configfile FILE) replaces it instead
# of merging into it.
PRESET = workflow.config_settings.overwrite_config.get("preset")
if PRESET is not None:
    from linid.pipeline.config import ConfigError, load_preset

    try:
        config.clear()
        config.update(load_preset(workflow.basedir, PRESET))
    except ConfigError as err:
        raise WorkflowError(f"invalid config:\n  - {err}") from None
elif not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulation.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/paper.smk"
include: "workflow/rules/family.smk"
include: "workflow/rules/compare.smk"


rule all:
    input:
        all_outputs(),
    default_target: True
