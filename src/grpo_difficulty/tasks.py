"""Tasks: load rows into one normalized table, render prompts, score completions.

Normalized row: id (stable hash of the question), question, gold (normalized final
answer), answer_type ("integer" → exact match, "math" → math-verify), solution,
tier (dataset-intrinsic difficulty), subject, source.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from pathlib import Path

import pandas as pd

COLUMNS = ["id", "question", "gold", "answer_type", "solution", "tier", "subject", "source"]
ANSWER_TYPES = ("integer", "math")


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


# --------------------------------------------------------------------------- arithmetic
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
    """Procedural arithmetic: one seeded stream per level, split into disjoint parts.

    `per_level` maps split name → problems per level, in order (e.g. {test: 25, train: 25});
    each split takes the next unique questions of the stream, so splits never overlap.
    """
    if split not in per_level:
        raise ValueError(f"arithmetic: split {split!r} not in per_level {sorted(per_level)}")
    rows = []
    for level in levels:
        if level not in ARITHMETIC_LEVELS:
            raise ValueError(f"arithmetic: unknown level {level}; allowed {sorted(ARITHMETIC_LEVELS)}")
        rng = random.Random(f"{seed}-{level}")
        seen: set[str] = set()
        parts: dict[str, list] = {name: [] for name in per_level}
        for name, count in per_level.items():
            attempts = 0
            while len(parts[name]) < count:
                question, answer = _arithmetic_problem(level, rng)
                attempts += 1
                if attempts > 100 * count + 1000:
                    raise ValueError(
                        f"arithmetic: level {level} has too few distinct problems for {per_level}"
                    )
                if question in seen:
                    continue
                seen.add(question)
                parts[name].append((question, answer))
        for question, answer in parts[split]:
            rows.append(dict(question=question, gold=str(answer), answer_type="integer",
                             solution="", tier=level, subject="arithmetic", source="arithmetic"))
    return _finish(pd.DataFrame(rows), BadRows("arithmetic"))


# --------------------------------------------------------------------------- GSM8K
def gsm8k_gold(answer: str) -> tuple[str, str]:
    """Split a GSM8K answer ("...worked steps...\\n#### 72") into (solution, gold)."""
    if "####" not in answer:
        raise BadRow("answer has no '#### <final answer>' line")
    solution, final = answer.rsplit("####", 1)
    gold = final.strip().replace(",", "")
    if not gold:
        raise BadRow("empty final answer after '####'")
    return solution.strip(), gold


def gsm8k_frame(records: list[dict | None], bad: BadRows, question_field="question",
                answer_field="answer") -> pd.DataFrame:
    rows = []
    for i, rec in enumerate(records):
        if rec is None:  # undecodable, already reported by read_records
            continue
        try:
            question = _required(rec, question_field)
            solution, gold = gsm8k_gold(_required(rec, answer_field))
        except BadRow as err:
            bad.report(i, err)
            continue
        # tier = number of worked steps (non-empty solution lines), as in the GSM8K paper
        steps = sum(1 for line in solution.splitlines() if line.strip())
        rows.append(dict(row=i, question=question, gold=gold, answer_type="math", solution=solution,
                         tier=steps, subject="gsm8k", source=bad.source))
    return _finish(pd.DataFrame(rows), bad)


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


def _required(rec: dict, field: str) -> str:
    value = rec.get(field)
    if value is None or (isinstance(value, float) and pd.isna(value)) or not str(value).strip():
        raise BadRow(f"missing or empty field {field!r}")
    return str(value)


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


def load_rows(spec: dict, bad: BadRows) -> pd.DataFrame:
    """Load one dataset from its config entry (see config/schema.yaml, `datasets`); bad rows
    go through `bad` (an error, or a counted skip)."""
    loader = spec["loader"]
    if loader == "arithmetic":
        return arithmetic_rows(spec["levels"], spec["per_level"], spec["split"], spec["seed"])
    if loader == "gsm8k_hub":
        import datasets  # real hub code path; tests point it at local files of the same schema

        ds = datasets.load_dataset(spec.get("path", "openai/gsm8k"), spec.get("name", "main"),
                                   split=spec["split"])
        return _limit(gsm8k_frame(list(ds), bad), spec)
    if loader == "gsm8k_file":
        records = read_records(spec["path"], bad)
        return _limit(gsm8k_frame(records, bad, spec.get("question_field", "question"),
                                  spec.get("answer_field", "answer")), spec)
    raise ValueError(f"unknown dataset loader {loader!r}")


def dataset_source(spec: dict) -> str:
    """How bad-row messages name a dataset: its file, or hub id and split."""
    if spec["loader"] == "gsm8k_file":
        return str(spec["path"])
    if spec["loader"] == "gsm8k_hub":
        return f"{spec.get('path', 'openai/gsm8k')}:{spec['split']}"
    return spec["loader"]


def _limit(df: pd.DataFrame, spec: dict) -> pd.DataFrame:
    """Optional seeded subsample (`limit`) so CPU runs can use a slice of a big dataset."""
    limit = spec.get("limit")
    if limit is None or limit >= len(df):
        return df
    return df.sample(n=limit, random_state=spec.get("seed", 0)).reset_index(drop=True)


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

    fewshot: "Q: ...\\nA: ..." worked examples then "Q: <question>\\nA:"; boxed / xml:
    an instruction plus the question. With `chat_template: true` the text goes through
    the tokenizer's chat template as one user turn (optionally after a system prompt).
    """
    fmt = prompt["format"]
    if fmt == "fewshot":
        shots = "".join(f"Q: {ex['question']}\nA: {ex['answer']}\n\n" for ex in prompt.get("examples", []))
        text = f"{shots}Q: {question}\nA:"
    else:
        text = f"{FORMAT_INSTRUCTIONS[fmt]}\n\n{question}"
    if not prompt.get("chat_template", False):
        return text
    messages = [{"role": "system", "content": prompt["system"]}] if prompt.get("system") else []
    messages.append({"role": "user", "content": text})
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def stop_strings(prompt: dict) -> list[str]:
    """Few-shot answers are one line: stop at the first newline so the model cannot ramble."""
    return ["\n"] if prompt["format"] == "fewshot" else []


# --------------------------------------------------------------------------- scoring
_INTEGER = re.compile(r"-?\d[\d,]*")
_BOXED = re.compile(r"\\boxed\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")
_XML_ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)


def extract_answer(completion: str, fmt: str) -> str | None:
    """The span of a completion that holds its final answer, by prompt format."""
    if fmt == "boxed":
        found = _BOXED.findall(completion)
        return found[-1] if found else None
    if fmt == "xml":
        found = _XML_ANSWER.findall(completion)
        return found[-1].strip() if found else None
    line = completion.strip().split("\n", 1)[0] if completion.strip() else ""
    return line or None


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
    from math_verify import parse, verify

    gold_parsed = parse(gold, parsing_timeout=timeout)
    if not gold_parsed:
        raise ValueError(f"gold answer {gold!r} cannot be parsed by math-verify")
    predicted = parse(answer, parsing_timeout=timeout)
    if not predicted:
        return False, "unparsable"
    ok = bool(verify(gold_parsed, predicted, timeout_seconds=timeout))
    return ok, "correct" if ok else "wrong"


def gold_problem(gold, kind: str) -> str | None:
    """Why a gold answer cannot be scored, or None if it can."""
    from math_verify import parse

    if kind == "integer":
        return None if re.fullmatch(r"-?\d+", str(gold)) else f"gold {gold!r} is not an integer"
    if kind == "math":
        return None if parse(str(gold), parsing_timeout=5) else f"gold {gold!r} cannot be parsed by math-verify"
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
    """Generate n answers per problem and score them: one row per (id, sample)."""
    prompts = [render_prompt(q, prompt, getattr(generator, "tokenizer", None)) for q in rows["question"]]
    completions = generator.generate(prompts, n=n, temperature=temperature, top_p=top_p,
                                     max_new_tokens=max_new_tokens, seed=seed,
                                     stop=stop_strings(prompt), desc=desc)
    records = []
    for pid, gold, kind, samples in zip(rows["id"], rows["gold"], rows["answer_type"], completions):
        for j, c in enumerate(samples):
            correct, reason = score(c.text, gold, kind, prompt["format"])
            records.append(dict(id=pid, sample=first_sample + j, completion=c.text,
                                n_tokens=c.n_tokens, correct=correct, reason=reason))
    return pd.DataFrame(records, columns=["id", "sample", "completion", "n_tokens", "correct", "reason"])
