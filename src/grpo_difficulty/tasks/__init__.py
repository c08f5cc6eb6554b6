"""Tasks: load rows into one normalized table, render prompts, score completions.

Normalized row: id (the dataset's own id, mapped by `fields.id`, or a stable hash of the
question), question, gold (normalized final answer), answer_type ("integer" → exact
integer match, "math" → math-verify, "choice" → exact multiple-choice letter, "text" →
exact match ignoring case, spacing and a trailing full stop), solution,
tier (dataset-intrinsic difficulty), subject, source; and pass_rate when the dataset
ships one (`fields.pass_rate`).

Modules, one per responsibility (torch-free: rules/common.smk imports this at parse time):
  rows        the normalized table, ids, the bad-row policy, the last checks every loader shares
  readers     local files (jsonl, json, parquet, csv, tsv; a glob of them) and hub datasets → records
  mapped      bring your own: the `file` and `hub` loaders (field mapping, own ids, tiers, pass rates)
  answers     answer formats (plain, gsm8k, boxed_solution, choice, text): answer field → gold
  tiers       tiers from a difficulty field: integers, labels, or quantile bins
  benchmarks  the named benchmarks (GSM8K presets of file/hub; MATH, MATH-500, AIME, BBH parsers)
  generators  procedural problems with levels (arithmetic, shuffled objects, countdown)
  countdown   Countdown problems (reach a target from numbers), scored by a plugin
  loaders     a dataset's config entry → the table (the loader registry), its source and files
  prompts     the prompt text of a question
  spans       what a completion states as its final answer (values, letters), by prompt format
  mathverify  math-verify read one way (bare LaTeX), its timeouts a reason of their own
  scoring     a completion's answer vs the gold (generating answers: grpo_difficulty.answering)
  plugins     a dataset's own scorer function (datasets.<name>.scorer): loading, timeout, checks
"""

from .answers import ANSWER_FORMATS, gsm8k_gold
from .benchmarks import bbh_task, gsm8k_frame
from .generators import ARITHMETIC_LEVELS, PEOPLE, PROCEDURAL, SHUFFLED_LEVELS, arithmetic_rows, shuffled_objects_rows
from .loaders import (
    COMMON_KEYS,
    KEEPS_RECORDS,
    LOADERS,
    SCORER_KEYS,
    check_disjoint,
    config_problems,
    dataset_source,
    input_files,
    known_size,
    load_rows,
    numeric_subset,
    table_spec,
)
from .mapped import shipped_pass_rate
from .mathverify import MathTimeout, parse_math
from .plugins import PluginScorer, ScorerError, grade, row_fields, scorer_reference
from .prompts import FORMAT_INSTRUCTIONS, render_prompt, stop_strings
from .readers import read_records
from .rows import COLUMNS, BadRow, BadRows, question_id, record_json, validate_golds
from .scoring import ANSWER_TYPES, PLUGIN_TYPE, REASONS, extract_answer, gold_problem, is_plain_number, score
from .spans import all_boxed, answer_spans, boxed_answer
