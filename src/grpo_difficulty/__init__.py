"""Difficulty-targeted GRPO: probe, select, train, evaluate, report.

One module per stage (probe, select, train, evaluate, report); `tasks` loads and
scores datasets, `generation` samples from models, `files` holds atomic I/O and
stable hashing shared by every stage.
"""
