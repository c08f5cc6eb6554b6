"""Configuration, one room per job (import each name from its room; nothing is re-exported):

sections  the typed config: a dataclass per config section, `build`, `ConfigError` (a leaf)
checks    what config/schema.yaml cannot express; `load_config` = schema + checks + build
keys      what decides each cached output: its folder's hash and its rule's params
layout    every output path (`Layout`, `RunPaths`, `EvalPaths`, the report's files)
topology  processes and GPUs of the jobs; transformers' and vLLM's tables the checks use
docs      docs/config.md, generated from the schema and the dataclasses' help
"""
