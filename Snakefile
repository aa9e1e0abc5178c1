# linid: linear identifiability of cross-entropy-trained representations, as one declarative sweep.
# Usage: `snakemake --cores 2` (laptop demo), `snakemake --profile slurm` (cluster),
#        `snakemake --config preset=paper_table3 --profile slurm` (paper presets).
import sys

from snakemake.utils import min_version

sys.path.insert(0, workflow.basedir)

min_version("9.0")


# The embedded default; a preset (--config preset=NAME, or --configfile FILE) replaces it instead
# of merging into it. Other --config KEY=VALUE settings apply on top of a preset; config files are
# read strictly (a repeated key is an error, not a silent last-one-wins).
from linid.pipeline.config import ConfigError, load_preset, load_yaml, merge_overrides

OVERRIDES = dict(workflow.config_settings.overwrite_config)
PRESET = OVERRIDES.pop("preset", None)
try:
    for path in workflow.overwrite_configfiles or ([] if PRESET else ["config.yaml"]):
        load_yaml(path)
    if PRESET is not None:
        if workflow.overwrite_configfiles:
            raise ConfigError(
                f"config key preset = {PRESET!r}: a preset replaces the config file, so it cannot "
                "be combined with --configfile; give one of them (settings on top: --config KEY=VALUE)"
            )
        config.clear()
        config.update(merge_overrides(load_preset(workflow.basedir, PRESET), OVERRIDES))
except ConfigError as err:
    raise WorkflowError(f"invalid config:\n  - {err}") from None
if PRESET is None and not workflow.overwrite_configfiles:

    configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulation.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/paper.smk"
include: "workflow/rules/family.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/images.smk"
include: "workflow/rules/byo.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
