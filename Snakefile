# linid: linear identifiability of cross-entropy-trained representations, as one declarative sweep.
# Usage: `snakemake --cores 2` (laptop demo), `snakemake --profile slurm` (cluster),
#        `snakemake --config preset=paper_table3 --profile slurm` (paper presets).
import os
import sys

from snakemake.utils import min_version

sys.path.insert(0, workflow.basedir)

min_version("9.0")


# The embedded default; a preset (--config preset=NAME, or --configfile FILE) replaces it instead
# of merging into it. Other --config settings apply on top of a preset or the config file(s), typed
# by the schema (Snakemake hands nested values over as text) and refused by name when the schema has
# no such key; config files are read strictly (a repeated key is an error, not last-one-wins).
from functools import reduce

from linid.pipeline.config import (
    ConfigError,
    check_command_line,
    load_preset,
    load_schema,
    load_yaml,
    merge_overrides,
    type_overrides,
)

# only the --config settings (overwrite_config also holds the --configfile contents, which are
# checked by the schema as written: a quoted "1000" in a file stays an error)
OVERRIDES = dict(workflow.config_settings.config or {})
PRESET = OVERRIDES.pop("preset", None)
try:
    # a --config value as strictly as a file: no repeated key, no YAML tag
    check_command_line(workflow.config_settings.config_args)
    # the default config is the checkout's own, wherever snakemake runs (-s, --directory)
    DEFAULT_CONFIG = os.path.join(workflow.basedir, "config.yaml")
    FILES = workflow.overwrite_configfiles or ([] if PRESET else [DEFAULT_CONFIG])
    BASE = [load_yaml(path) or {} for path in FILES]
    if PRESET is not None:
        if workflow.overwrite_configfiles:
            raise ConfigError(
                f"config key preset = {PRESET!r}: a preset replaces the config file, so it cannot "
                "be combined with --configfile; give one of them (settings on top: --config KEY=VALUE)"
            )
        BASE = [load_preset(workflow.basedir, PRESET)]
    BASE = reduce(merge_overrides, BASE, {})
    SCHEMA = load_schema(f"{workflow.basedir}/workflow/schemas/config.schema.yaml")
    CONFIG = merge_overrides(BASE, type_overrides(OVERRIDES, SCHEMA, BASE))
except ConfigError as err:
    raise WorkflowError(f"invalid config:\n  - {err}") from None
if PRESET is None and not workflow.overwrite_configfiles:

    configfile: DEFAULT_CONFIG


config.clear()
config.update(CONFIG)


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/simulation.smk"
include: "workflow/rules/family.smk"
include: "workflow/rules/compare.smk"
include: "workflow/rules/images.smk"
include: "workflow/rules/byo.smk"
include: "workflow/rules/text.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
