"""Tasks: load rows into one normalized table, render prompts, score completions.

Normalized row: id (stable hash of the question), question, gold (normalized final
answer), answer_type ("integer" → exact integer match, "math" → math-verify, "choice" →
exact multiple-choice letter), solution, tier (dataset-intrinsic difficulty), subject,
source.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from functools import partial
from pathlib import Path

import pandas as pd

COLUMNS = ["id", "question", "gold", "answer_type", "solution", "tier", "subject", "source"]
ANSWER_TYPES = ("integer", "math", "choice")


def question_id(question: str) -> str:
    return hashlib.sha256(question.strip().encode()).hexdigest()[:16]


class BadRow(ValueError):
    """What is wrong with one input row (the caller adds file and row)."""


class BadRows:
    """Policy for bad input rows (config `datasets.<name>.bad_rows`): "error" stops with
    a message naming the source and row; "skip" drops the row, counted and logged."""

    def __init__(self, source: str, policy: str = "error"):
        self.source, self.policy, self.skipped = source, policy, []

    def report(self, row, why) -> None:
        message = f"{self.source} row {row}: {why}"
        if self.policy != "skip":
            raise ValueError(message)
        self.skipped.append(message)

    def summary(self) -> str:
        lines = [f"{self.source}: skipped {len(self.skipped)} bad row(s)", *self.skipped]
        return "\n".join(lines)


# --------------------------------------------------------------------------- procedural
def _procedural_rows(kind: str, levels: list[int], per_level: dict[str, int], split: str,
                     seed: int) -> pd.DataFrame:
    """One seeded stream of distinct problems per level, cut into disjoint splits.

    `per_level` maps split name → problems per level, in order (e.g. {test: 25, train: 25});
    each split takes the next unique questions of the stream, so splits never overlap.
    """
    table, make_problem, answer_type = PROCEDURAL[kind]
    if split not in per_level:
        raise ValueError(f"{kind}: split {split!r} not in per_level {sorted(per_level)}")
    rows = []
    for level in levels:
        if level not in table:
            raise ValueError(f"{kind}: unknown level {level}; allowed {sorted(table)}")
        rng = random.Random(f"{seed}-{level}")
        seen: set[str] = set()
        parts: dict[str, list] = {name: [] for name in per_level}
        for name, count in per_level.items():
            attempts = 0
            while len(parts[name]) < count:
                question, answer = make_problem(level, rng)
                attempts += 1
                if attempts > 100 * count + 1000:
                    raise ValueError(f"{kind}: level {level} has too few distinct problems for {per_level}")
                if question in seen:
                    continue
                seen.add(question)
                parts[name].append((question, answer))
        for question, answer in parts[split]:
            rows.append(dict(question=question, gold=str(answer), answer_type=answer_type,
                             solution="", tier=level, subject=kind, source=kind))
    return _finish(pd.DataFrame(rows), BadRows(kind))


# Level → (operator, digits of each operand). Chosen so the 135M embedded model's pass
# rates spread from mostly right (level 1) to mostly wrong (level 8).
ARITHMETIC_LEVELS = {
    1: ("+", (1, 1)),
    2: ("-", (1, 1)),
    3: ("*", (1, 1)),
    4: ("+", (2, 1)),
    5: ("+", (2, 2)),
    6: ("-", (2, 2)),
    7: ("+", (1, 1, 1)),
    8: ("*", (2, 1)),
    9: ("+", (3, 3)),
}


def _arithmetic_problem(level: int, rng: random.Random) -> tuple[str, int]:
    op, digits = ARITHMETIC_LEVELS[level]
    operands = [rng.randint(10 ** (d - 1) if d > 1 else 0, 10**d - 1) for d in digits]
    if op == "-":
        operands.sort(reverse=True)  # keep answers non-negative
    expression = f" {op} ".join(str(x) for x in operands)
    return f"What is {expression}?", int(eval(expression))  # noqa: S307 - our own digits


def arithmetic_rows(levels: list[int], per_level: dict[str, int], split: str, seed: int) -> pd.DataFrame:
    """Procedural arithmetic (exact integer answers), levels of ARITHMETIC_LEVELS."""
    return _procedural_rows("arithmetic", levels, per_level, split, seed)


# Level → (objects, swaps). BBH's three tasks are (3, 3), (5, 5), (7, 7); the levels
# in between separate the two sources of difficulty.
SHUFFLED_LEVELS = {
    1: (3, 1),
    2: (3, 2),
    3: (3, 3),
    4: (4, 4),
    5: (5, 3),
    6: (5, 5),
    7: (6, 6),
    8: (7, 5),
    9: (7, 7),
}
PEOPLE = ["Alice", "Bob", "Claire", "Dave", "Eve", "Fred", "Gertrude"]
SHUFFLE_THEMES = [
    dict(intro="{people} are playing catch. At the start of the game, each of them holds a ball: {holdings}.",
         holds="{person} holds a {item} ball", swap="{a} and {b} swap balls",
         end="At the end of the game, {who} holds the", option="{item} ball",
         items=["red", "blue", "green", "yellow", "purple", "grey", "white", "black", "pink", "brown"]),
    dict(intro="{people} are in a book club. At the start of the month, each of them is reading a different "
               "book: {holdings}.",
         holds="{person} is reading {item}", swap="{a} and {b} trade books",
         end="At the end of the month, {who} is reading", option="{item}",
         items=["Dune", "Emma", "Beloved", "Ulysses", "Middlemarch", "Dracula", "Hamlet", "Persuasion",
                "The Hobbit", "Moby Dick"]),
    dict(intro="{people} are at a party and each of them brought a wrapped present: {holdings}.",
         holds="{person} has a {item}", swap="{a} and {b} exchange presents",
         end="When the party ends, {who} has the", option="{item}",
         items=["scarf", "teapot", "puzzle", "candle", "notebook", "kite", "clock", "lamp", "mug", "plant"]),
]


def _and_join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])}{',' if len(words) > 2 else ''} and {words[-1]}"


def _shuffled_problem(level: int, rng: random.Random) -> tuple[str, str]:
    """One tracking-shuffled-objects problem (as in BIG-Bench Hard): who holds what after a
    sequence of pairwise swaps; options are the objects in their starting order."""
    n_objects, n_swaps = SHUFFLED_LEVELS[level]
    theme = rng.choice(SHUFFLE_THEMES)
    people = PEOPLE[:n_objects]
    items = rng.sample(theme["items"], n_objects)
    holding = dict(zip(people, items))
    swaps: list[tuple[str, str]] = []
    while len(swaps) < n_swaps:
        a, b = rng.sample(people, 2)
        if swaps and {a, b} == set(swaps[-1]):
            continue  # the same pair twice in a row would undo its own swap
        swaps.append((a, b))
        holding[a], holding[b] = holding[b], holding[a]
    who = rng.choice(people)
    steps = [theme["swap"].format(a=a, b=b) for a, b in swaps]
    if len(steps) == 1:
        story = f"Then {steps[0]}."
    else:
        story = " ".join([f"First, {steps[0]}.", *(f"Then, {s}." for s in steps[1:-1]), f"Finally, {steps[-1]}."])
    intro = theme["intro"].format(people=_and_join(people), holdings=_and_join(
        [theme["holds"].format(person=p, item=i) for p, i in zip(people, items)]))
    options = "\n".join(f"({chr(65 + j)}) {theme['option'].format(item=i)}" for j, i in enumerate(items))
    question = f"{intro}\n{story} {theme['end'].format(who=who)}\nOptions:\n{options}"
    return question, f"({chr(65 + items.index(holding[who]))})"


def shuffled_objects_rows(levels: list[int], per_level: dict[str, int], split: str, seed: int) -> pd.DataFrame:
    """Procedural tracking-shuffled-objects (multiple choice), levels of SHUFFLED_LEVELS."""
    return _procedural_rows("shuffled_objects", levels, per_level, split, seed)


PROCEDURAL = {
    "arithmetic": (ARITHMETIC_LEVELS, _arithmetic_problem, "integer"),
    "shuffled_objects": (SHUFFLED_LEVELS, _shuffled_problem, "choice"),
}


# --------------------------------------------------------------------------- record sets
def _frame(parts: list[tuple[str, list]], bad: BadRows, make_row) -> pd.DataFrame:
    """Normalized rows from (part name, records) pairs, e.g. one per hub config or file.
    make_row(record, part) returns the row's fields or raises BadRow; rows are named by
    index, and by part too when there are several."""
    rows = []
    for part, records in parts:
        for i, rec in enumerate(records):
            label = i if len(parts) == 1 else f"{i} of {part}"
            if rec is None:  # undecodable, already reported by read_records
                continue
            try:
                if not isinstance(rec, dict):
                    raise BadRow(f"expected an object with fields, found {type(rec).__name__}")
                row = make_row(rec, part)
            except BadRow as err:
                bad.report(label, err)
                continue
            rows.append(dict(row, row=label, source=bad.source))
    return _finish(pd.DataFrame(rows), bad)


def _required(rec: dict, field: str) -> str:
    value = rec.get(field)
    if value is None or (isinstance(value, float) and pd.isna(value)) or not str(value).strip():
        raise BadRow(f"missing or empty field {field!r}")
    return str(value)


def _hub_parts(spec: dict, configs: list[str | None], **load_args) -> list[tuple[str, list]]:
    """Records of each hub config (real `datasets.load_dataset`; tests point `path` at a
    local folder laid out like the hub repository)."""
    import datasets

    path, split = spec.get("path", HUB_DEFAULTS[spec["loader"]]), spec.get("split", "test")
    parts = []
    for name in configs:
        try:
            parts.append((name, list(datasets.load_dataset(path, name, split=split, **load_args))))
        except (ValueError, OSError, RuntimeError) as err:
            raise ValueError(f"datasets.load_dataset({path!r}, {name!r}, split={split!r}) failed: {err}") from err
    return parts


def _bbh_hub_parts(spec: dict) -> list[tuple[str, list]]:
    """lukaemon/bbh's main branch holds only a loading script, which `datasets` no longer
    runs; the hub's parquet export of it (revision refs/convert/parquet) has one folder
    per task: <task>/<split>/0000.parquet."""
    split = spec.get("split", "test")
    return [(task, records) for task in (bbh_task(n) for n in spec.get("objects", list(BBH_OBJECTS)))
            for _, records in _hub_parts(spec, [None], data_files={split: f"{task}/{split}/*.parquet"},
                                         revision=spec.get("revision", "refs/convert/parquet"))]


# --------------------------------------------------------------------------- GSM8K
def gsm8k_gold(answer: str) -> tuple[str, str]:
    """Split a GSM8K answer ("...worked steps...\\n#### 72") into (solution, gold)."""
    if "####" not in answer:
        raise BadRow("answer has no '#### <final answer>' line")
    solution, final = answer.rsplit("####", 1)
    gold = final.strip().replace(",", "")
    if not gold:
        raise BadRow("empty final answer after '####'")
    if not _PLAIN_NUMBER.fullmatch(gold):
        raise BadRow(f"final answer {gold!r} after '####' is not a number")
    return solution.strip(), gold


def _gsm8k_row(rec: dict, _part, question_field: str, answer_field: str) -> dict:
    question = _required(rec, question_field)
    solution, gold = gsm8k_gold(_required(rec, answer_field))
    # tier = number of worked steps (non-empty solution lines), as in the GSM8K paper
    steps = sum(1 for line in solution.splitlines() if line.strip())
    return dict(question=question, gold=gold, answer_type="math", solution=solution, tier=steps, subject="gsm8k")


def gsm8k_frame(records: list[dict | None], bad: BadRows, question_field="question",
                answer_field="answer") -> pd.DataFrame:
    return _frame([("", records)], bad, partial(_gsm8k_row, question_field=question_field,
                                                answer_field=answer_field))


# --------------------------------------------------------------------------- MATH, AIME
MATH_SUBJECTS = ("algebra", "counting_and_probability", "geometry", "intermediate_algebra",
                 "number_theory", "prealgebra", "precalculus")


def subject_key(subject: str) -> str:
    """MATH's `type` as its hub config name: "Counting & Probability" → counting_and_probability."""
    return re.sub(r"\W+", "_", subject.strip().lower().replace("&", "and"))


def math_level(value) -> int:
    """MATH levels come as "Level 3" (MATH) or 3 (MATH-500); "Level ?" rows exist upstream."""
    match = re.fullmatch(r"(?:Level\s*)?([1-5])", str(value).strip())
    if not match:
        raise BadRow(f"level {value!r} is not one of 1-5 (or 'Level 1'..'Level 5')")
    return int(match.group(1))


def _math_row(rec: dict, _part, subject_field: str, answer_field: str | None) -> dict:
    """A MATH-style row; the gold is the answer field, or else the last \\boxed{} of the solution."""
    solution = _required(rec, "solution")
    if answer_field:
        gold = _required(rec, answer_field)
    else:
        gold = last_boxed(solution)
        if not gold or not gold.strip():
            raise BadRow("solution has no \\boxed{...} final answer")
    return dict(question=_required(rec, "problem"), gold=gold.strip(), answer_type="math", solution=solution,
                tier=math_level(rec.get("level")), subject=_required(rec, subject_field))


def _aime_row(rec: dict, part: str) -> dict:
    # no difficulty tiers within AIME: one tier, the exam (config) as subject
    return dict(question=_required(rec, "question"), gold=_required(rec, "answer").strip(), answer_type="math",
                solution=str(rec.get("solution") or ""), tier=1, subject=part)


def _load_math_hub(spec: dict, bad: BadRows) -> pd.DataFrame:
    """MATH: one hub config per subject (EleutherAI/hendrycks_math), or with `name` one
    config holding all subjects (DigitalLearningGmbH/MATH-lighteval: default) whose `type`
    is filtered by `subjects`."""
    subjects = spec.get("subjects", list(MATH_SUBJECTS))
    parts = _hub_parts(spec, [spec["name"]] if "name" in spec else subjects)
    df = _frame(parts, bad, partial(_math_row, subject_field="type", answer_field=None))
    df = df[df["subject"].map(subject_key).isin(subjects)].reset_index(drop=True)
    if df.empty:
        raise ValueError(f"{bad.source}: no rows of subjects {subjects}")
    return df


# --------------------------------------------------------------------------- BIG-Bench Hard
BBH_OBJECTS = {3: "three", 5: "five", 7: "seven"}


def bbh_task(objects: int) -> str:
    """BBH task (hub config, file stem) of tracking shuffled objects with this many objects."""
    return f"tracking_shuffled_objects_{BBH_OBJECTS[objects]}_objects"


def _bbh_row(rec: dict, part: str) -> dict:
    question, target = _required(rec, "input"), _required(rec, "target").strip()
    if not _CHOICE_GOLD.fullmatch(target):
        raise BadRow(f"target {target!r} is not an option letter like '(A)'")
    if not re.search(rf"^{re.escape(target)} ", question, re.M):
        raise BadRow(f"target {target} is not one of the options in the input")
    task = part.removesuffix(".json")
    objects = next(n for n, word in BBH_OBJECTS.items() if task == bbh_task(n))
    return dict(question=question, gold=target, answer_type="choice", solution="", tier=objects, subject=task)


def bbh_files(spec: dict) -> list[Path]:
    """The local BBH files a `bbh_file` dataset reads (BIG-Bench-Hard's bbh/ folder layout)."""
    return [Path(spec["path"]) / f"{bbh_task(n)}.json" for n in spec.get("objects", list(BBH_OBJECTS))]


def _bbh_examples(path: Path) -> list:
    if not path.exists():
        raise FileNotFoundError(f"BBH file not found: {path}")
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not valid UTF-8 JSON ({err})") from err
    if not isinstance(data, dict) or not isinstance(data.get("examples"), list):
        raise ValueError(f'{path}: expected {{"examples": [{{"input": ..., "target": ...}}, ...]}}')
    return data["examples"]


# --------------------------------------------------------------------------- generic files
def read_records(path: str | Path, bad: BadRows) -> list[dict | None]:
    """Rows of a local jsonl / json / parquet / csv file, as dicts. A jsonl line that is
    not UTF-8 or not JSON is reported as a bad row (row = line number - 1) and kept as None."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"dataset file not found: {path}")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return [_json_line(line, i, bad) for i, line in enumerate(path.read_bytes().splitlines())
                if line.strip()]
    if suffix == ".parquet":
        return pd.read_parquet(path).to_dict("records")
    if suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False).to_dict("records")
    if suffix == ".json":
        try:
            return pd.read_json(path, dtype=False).to_dict("records")
        except (ValueError, UnicodeDecodeError) as err:
            raise ValueError(f"{path}: not valid json ({err})") from err
    raise ValueError(f"{path}: unsupported file type {suffix!r} (use .jsonl, .json, .parquet, .csv)")


def _json_line(line: bytes, row: int, bad: BadRows) -> dict | None:
    try:
        record = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as err:
        bad.report(row, f"not valid UTF-8 ({err.reason} at byte {err.start})")
        return None
    except json.JSONDecodeError as err:
        bad.report(row, f"not valid JSON ({err.msg})")
        return None
    if not isinstance(record, dict):
        bad.report(row, f"expected a JSON object, found {type(record).__name__}")
        return None
    return record


def _finish(df: pd.DataFrame, bad: BadRows) -> pd.DataFrame:
    """Add ids; a repeated question is a bad row (the first occurrence is kept when skipping)."""
    if df.empty:
        raise ValueError(f"{bad.source}: no rows")
    if "row" not in df:
        df["row"] = range(len(df))
    df["id"] = df["question"].map(question_id)
    repeated = df["id"].duplicated(keep="first")
    for _, dup in df[repeated].iterrows():
        first = df.loc[df["id"] == dup["id"], "row"].iloc[0]
        bad.report(dup["row"], f"duplicate question (same as row {first}): {dup['question'][:80]!r}")
    df = validate_golds(df[~repeated].astype({"tier": int}), bad)
    if df.empty:
        raise ValueError(f"{bad.source}: no usable rows")
    return df[COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------------------- loaders
# Hub id each hub loader reads unless the dataset's `path` says otherwise.
HUB_DEFAULTS = {
    "gsm8k_hub": "openai/gsm8k",
    "math_hub": "EleutherAI/hendrycks_math",
    "math500_hub": "HuggingFaceH4/MATH-500",
    "aime_hub": "opencompass/AIME2025",
    "bbh_hub": "lukaemon/bbh",
}
AIME_CONFIGS = ["AIME2025-I", "AIME2025-II"]


def _load_procedural(spec: dict, bad: BadRows) -> pd.DataFrame:
    return _procedural_rows(spec["loader"], spec["levels"], spec["per_level"], spec["split"], spec.get("seed", 0))


LOADERS = {
    "arithmetic": _load_procedural,
    "shuffled_objects": _load_procedural,
    "gsm8k_hub": lambda spec, bad: gsm8k_frame(_hub_parts(spec, [spec.get("name", "main")])[0][1], bad),
    "gsm8k_file": lambda spec, bad: gsm8k_frame(read_records(spec["path"], bad), bad,
                                                spec.get("question_field", "question"),
                                                spec.get("answer_field", "answer")),
    "math_hub": _load_math_hub,
    "math500_hub": lambda spec, bad: _frame(_hub_parts(spec, [spec.get("name")]), bad,
                                            partial(_math_row, subject_field="subject", answer_field="answer")),
    "aime_hub": lambda spec, bad: _frame(_hub_parts(spec, spec.get("configs", AIME_CONFIGS)), bad, _aime_row),
    "bbh_hub": lambda spec, bad: _frame(_bbh_hub_parts(spec), bad, _bbh_row),
    "bbh_file": lambda spec, bad: _frame([(p.name, _bbh_examples(p)) for p in bbh_files(spec)], bad, _bbh_row),
}

# Keys each loader needs / may use besides the ones every dataset has (config/schema.yaml);
# rules/common.smk check_config() enforces them before any job runs.
COMMON_KEYS = {"loader", "seed", "limit", "bad_rows", "numeric_only", "question_field", "answer_field"}
LOADER_KEYS = {  # loader → (required, optional)
    "arithmetic": ({"levels", "per_level", "split"}, set()),
    "shuffled_objects": ({"levels", "per_level", "split"}, set()),
    "gsm8k_hub": ({"split"}, {"path", "name"}),
    "gsm8k_file": ({"path"}, set()),
    "math_hub": ({"split"}, {"path", "name", "subjects"}),
    "math500_hub": (set(), {"path", "name", "split"}),
    "aime_hub": (set(), {"path", "split", "configs"}),
    "bbh_hub": (set(), {"path", "split", "objects", "revision"}),
    "bbh_file": ({"path"}, {"objects"}),
}


def load_rows(spec: dict, bad: BadRows) -> pd.DataFrame:
    """Load one dataset from its config entry (see config/schema.yaml, `datasets`); bad rows
    go through `bad` (an error, or a counted skip). Then optionally keep only plain-number
    golds (`numeric_only`) and subsample (`limit`)."""
    if spec["loader"] not in LOADERS:
        raise ValueError(f"unknown dataset loader {spec['loader']!r}; allowed {sorted(LOADERS)}")
    df = LOADERS[spec["loader"]](spec, bad)
    if spec.get("numeric_only"):
        df = numeric_subset(df, bad.source)
    return _limit(df, spec)


def dataset_source(spec: dict) -> str:
    """How bad-row messages name a dataset: its file or folder, or hub id and split."""
    if spec["loader"] in ("gsm8k_file", "bbh_file"):
        return str(spec["path"])
    if spec["loader"] in HUB_DEFAULTS:
        return f"{spec.get('path', HUB_DEFAULTS[spec['loader']])}:{spec.get('split', 'test')}"
    return spec["loader"]


def input_files(spec: dict) -> list[str]:
    """Local files a dataset is read from (Snakemake inputs of prepare_data)."""
    if spec["loader"] == "gsm8k_file":
        return [str(spec["path"])]
    if spec["loader"] == "bbh_file":
        return [str(p) for p in bbh_files(spec)]
    return []


def known_size(spec: dict) -> int | None:
    """Row count of a procedural dataset without generating it (None: load it to know)."""
    if spec["loader"] in PROCEDURAL and not spec.get("limit") and not spec.get("numeric_only"):
        return len(spec["levels"]) * spec["per_level"][spec["split"]]
    return None


def _limit(df: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Optional seeded subsample (`limit`) so CPU runs can use a slice of a big dataset."""
    limit = spec.get("limit")
    if limit is None or limit >= len(df):
        return df
    return df.sample(n=limit, random_state=spec.get("seed", 0)).reset_index(drop=True)


def numeric_subset(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Rows whose gold is a plain number (integer or decimal, also once math-verify has
    read it: "\\frac{1}{2}" and "\\sqrt{2}" are not, "12" and "-3.5" are); logs the count."""
    keep = [is_plain_number(gold, kind) for gold, kind in zip(df["gold"], df["answer_type"])]
    print(f"{source}: numeric_only kept {sum(keep)} of {len(df)} rows, "
          f"dropped {len(df) - sum(keep)} whose gold answer is not a plain number")
    if not any(keep):
        raise ValueError(f"{source}: numeric_only left no rows (no gold answer is a plain number)")
    return df[keep].reset_index(drop=True)


def check_disjoint(train: pd.DataFrame, test: pd.DataFrame, train_name: str, test_name: str) -> None:
    """Held-out evaluation is meaningless if a test question was trained on."""
    overlap = set(train["question"].str.strip()) & set(test["question"].str.strip())
    if overlap:
        example = sorted(overlap)[0]
        raise ValueError(
            f"eval set {test_name!r} shares {len(overlap)} question(s) with training set "
            f"{train_name!r}, e.g. {example[:100]!r}"
        )


# --------------------------------------------------------------------------- prompts
FORMAT_INSTRUCTIONS = {
    "fewshot": "",
    "boxed": "Solve the problem. Put your final answer within \\boxed{}.",
    "xml": "Respond in the format <reasoning>...</reasoning><answer>...</answer>.",
}


def render_prompt(question: str, prompt: dict, tokenizer=None) -> str:
    """Prompt text for one question.

    fewshot: worked examples then the question; boxed / xml: an instruction plus the
    question. Without a chat template the few-shot text is "Q: ...\\nA: ..." blocks ending
    in "Q: <question>\\nA:", and a system prompt is the first paragraph. With
    `chat_template: true` the tokenizer's chat template renders an optional system turn,
    each few-shot example as a user turn and an assistant turn, and the question.
    """
    fmt, system = prompt["format"], prompt.get("system")
    examples = prompt.get("examples", []) if fmt == "fewshot" else []
    if not prompt.get("chat_template", False):
        if fmt == "fewshot":
            shots = "".join(f"Q: {ex['question']}\nA: {ex['answer']}\n\n" for ex in examples)
            text = f"{shots}Q: {question}\nA:"
        else:
            text = f"{FORMAT_INSTRUCTIONS[fmt]}\n\n{question}"
        return f"{system}\n\n{text}" if system else text
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise ValueError("prompt.chat_template is true but the model's tokenizer has no chat template; "
                         "set prompt.chat_template: false")
    messages = [{"role": "system", "content": system}] if system else []
    for ex in examples:
        messages += [{"role": "user", "content": ex["question"]}, {"role": "assistant", "content": ex["answer"]}]
    user = question if fmt == "fewshot" else f"{FORMAT_INSTRUCTIONS[fmt]}\n\n{question}"
    messages.append({"role": "user", "content": user})
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def stop_strings(prompt: dict) -> list[str]:
    """Few-shot answers are one line: stop at the first newline so the model cannot ramble."""
    return ["\n"] if prompt["format"] == "fewshot" else []


# --------------------------------------------------------------------------- scoring
_INTEGER = re.compile(r"-?\d[\d,]*")
_PLAIN_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_CHOICE_GOLD = re.compile(r"\(([A-Z])\)")
_XML_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)
_BOX_START = re.compile(r"\\(?:boxed|fbox)\s*(\{|\s)")


def last_boxed(text: str) -> str | None:
    """Content of the last complete \\boxed{...} (or \\fbox{...}) in text, nested braces
    matched and escaped braces (\\{ \\}) skipped; also the brace-less form "\\boxed 5"."""
    for match in reversed(list(_BOX_START.finditer(text))):
        start = match.end()
        if match.group(1) != "{":
            token = re.match(r"[^\s$]+", text[start:].lstrip())
            if token:
                return token.group().rstrip(".,")
            continue
        depth, i = 1, start
        while i < len(text):
            char = text[i]
            if char == "\\":
                i += 2
                continue
            depth += {"{": 1, "}": -1}.get(char, 0)
            if depth == 0:
                return text[start:i]
            i += 1
    return None


def extract_answer(completion: str, fmt: str) -> str | None:
    """The span of a completion that holds its final answer, by prompt format."""
    if fmt == "boxed":
        return last_boxed(completion)
    if fmt == "xml":
        found = _XML_ANSWER.findall(completion)
        return found[-1].strip() if found else None
    line = completion.strip().split("\n", 1)[0] if completion.strip() else ""
    return line or None


def choice_letter(answer: str) -> str | None:
    """The option letter an answer span picks: "(B)", "B", "B) ...", "\\text{(B)}"; None if
    it names no single letter."""
    answer = re.sub(r"\\(?:text|textbf|mathrm)\{", "", answer)
    match = _CHOICE_GOLD.search(answer) or re.match(r"\W*([A-Z])(?:[).:\]]|\W*$)", answer)
    return match.group(1) if match else None


def parse_math(text: str, timeout: int = 5, bare_latex: bool = False) -> list:
    """math-verify's values of an answer. Bare LaTeX (a MATH gold, the inside of \\boxed{},
    or an <answer> span like "2\\sqrt{3}" without $...$) is read inside \\boxed{}: without
    delimiters math-verify would read only the leading number. Only string fallbacks
    (nothing parsed) gives []."""
    from math_verify import parse

    if bare_latex or ("\\" in text and not re.search(r"\$|\\\(|\\\[", text)):
        text = f"\\boxed{{{text}}}"
    values = parse(text, parsing_timeout=timeout)
    return values if any(not isinstance(v, str) for v in values) else []


def is_plain_number(gold: str, kind: str, timeout: int = 5) -> bool:
    """Is a gold answer a plain integer or decimal ("12", "-3.5", "1{,}000", "\\$4.50")?"""
    if kind == "integer" or _PLAIN_NUMBER.fullmatch(str(gold).strip()):
        return True
    if kind != "math":
        return False
    import sympy

    values = parse_math(str(gold), timeout, bare_latex=True)
    return bool(values) and isinstance(values[0], (sympy.Integer, sympy.Float))


def score(completion: str, gold: str, answer_type: str, fmt: str, timeout: int = 5) -> tuple[bool, str]:
    """(correct, reason). Reasons: correct, wrong, empty, no_answer, unparsable."""
    if not completion.strip():
        return False, "empty"
    answer = extract_answer(completion, fmt)
    if answer is None:
        return False, "no_answer"
    if answer_type == "integer":
        match = _INTEGER.search(answer)
        if not match:
            return False, "unparsable"
        ok = int(match.group().replace(",", "")) == int(gold)
        return ok, "correct" if ok else "wrong"
    if answer_type == "choice":
        letter = choice_letter(answer)
        if letter is None:
            return False, "unparsable"
        ok = f"({letter})" == gold
        return ok, "correct" if ok else "wrong"
    from math_verify import verify

    gold_parsed = parse_math(gold, timeout, bare_latex=True)
    if not gold_parsed:
        raise ValueError(f"gold answer {gold!r} cannot be parsed by math-verify")
    predicted = parse_math(answer, timeout, bare_latex=fmt == "boxed")
    if not predicted:
        return False, "unparsable"
    ok = bool(verify(gold_parsed, predicted, timeout_seconds=timeout))
    return ok, "correct" if ok else "wrong"


def gold_problem(gold, kind: str) -> str | None:
    """Why a gold answer cannot be scored, or None if it can."""
    if kind == "integer":
        return None if re.fullmatch(r"-?\d+", str(gold)) else f"gold {gold!r} is not an integer"
    if kind == "math":
        return None if parse_math(str(gold), bare_latex=True) else f"gold {gold!r} cannot be parsed by math-verify"
    if kind == "choice":
        return None if _CHOICE_GOLD.fullmatch(str(gold)) else f"gold {gold!r} is not an option letter like '(A)'"
    return f"answer_type {kind!r} not in {ANSWER_TYPES}"


def validate_golds(df: pd.DataFrame, bad: BadRows) -> pd.DataFrame:
    """Every gold answer must be scorable, or every completion would silently score wrong.
    Returns the rows that passed (all of them unless `bad` skips)."""
    rows = df["row"] if "row" in df else range(len(df))
    keep = []
    for row, gold, kind in zip(rows, df["gold"], df["answer_type"]):
        problem = gold_problem(gold, kind)
        if problem:
            bad.report(row, problem)
        keep.append(problem is None)
    return df[keep]


def answer_problems(generator, rows: pd.DataFrame, prompt: dict, n: int, temperature: float,
                    top_p: float, max_new_tokens: int, seed: int, first_sample: int = 0,
                    desc: str = "generate") -> pd.DataFrame:
    """Generate answers first_sample .. first_sample + n - 1 of every problem and score
    them: one row per (id, sample)."""
    prompts = [render_prompt(q, prompt, getattr(generator, "tokenizer", None)) for q in rows["question"]]
    completions = generator.generate(prompts, n=n, temperature=temperature, top_p=top_p,
                                     max_new_tokens=max_new_tokens, seed=seed,
                                     stop=stop_strings(prompt), desc=desc, first_sample=first_sample)
    records = []
    for pid, gold, kind, samples in zip(rows["id"], rows["gold"], rows["answer_type"], completions):
        for j, c in enumerate(samples):
            correct, reason = score(c.text, gold, kind, prompt["format"])
            records.append(dict(id=pid, sample=first_sample + j, completion=c.text,
                                n_tokens=c.n_tokens, correct=correct, reason=reason))
    return pd.DataFrame(records, columns=["id", "sample", "completion", "n_tokens", "correct", "reason"])
