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


# One target per stage: `snakemake --cores N probe | select | train | evaluate | report`
# runs the experiment up to that stage's outputs (rule report is the report itself).
rule probe:
    input:
        stage_targets("probe"),


rule select:
    input:
        stage_targets("select"),


rule train:
    input:
        stage_targets("train"),


rule evaluate:
    input:
        stage_targets("evaluate"),
