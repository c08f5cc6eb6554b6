# Difficulty-targeted GRPO: probe → select → train → evaluate → report.
# Read README.md for the quick start; config/schema.yaml documents every config key.
from snakemake.utils import min_version

min_version("9.0")


# An experiment passed with --configfile replaces the default entirely (no merging of
# `datasets` or `subsets` with the default's); --config key=value still overrides.
if "datasets" not in config:

    configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/prepare.smk"
include: "rules/probe.smk"
include: "rules/select.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        all_targets(),
