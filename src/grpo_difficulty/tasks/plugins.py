"""Your own verifier: a dataset's `scorer: "<file.py or module>:<function>"`.

The function is called as `function(completion: str, gold: str, row: dict) -> bool | float`
with a reward in [0, 1]; `row` holds the dataset row's own fields (the record as the
loader read it, e.g. Countdown's numbers and target). One call runs at most
`scorer_timeout` seconds (default DEFAULT_TIMEOUT): past it the answer scores 0 with
reason "timeout". An exception, or a value that is no bool or number, NaN or outside
[0, 1], stops the job naming the function, the dataset (datasets.<name>) and the row.

A file path is read relative to the working directory, then to the workflow directory
(the checkout holding the Snakefile); an absolute path as it is. A module name is
imported. The scorer's reference (config.keys.scorer_fields) holds a hash of its source
file, so editing it reruns the probe, training and evaluations of its datasets only.
Torch-free: rules/common.smk hashes sources at parse time.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import math
import numbers
import signal
import sys
import threading
from pathlib import Path

import numpy as np

from .scoring import score

DEFAULT_TIMEOUT = 5.0
WORKFLOW_DIR = Path(__file__).resolve().parents[3]  # src/grpo_difficulty/tasks/ → the checkout


class ScorerTimeout(BaseException):
    """A scorer call ran past its time limit. A BaseException, so that a scorer's own
    `except Exception` cannot swallow it."""


class ScorerError(ValueError):
    """A scorer raised, or returned a value that is no reward in [0, 1]."""


def split_reference(text: str) -> tuple[str, str]:
    """("file.py" or "module", "function") of "<file.py or module>:<function>"."""
    target, sep, function = str(text).rpartition(":")
    if not sep or not target or not function.isidentifier():
        raise ValueError(f"{text!r} is not '<file.py or module>:<function>' (e.g. examples/countdown_scorer.py:score)")
    return target, function


def is_file(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def scorer_file(target: str) -> Path:
    """The scorer's source file: a .py path (working directory, then workflow directory),
    or the file a module name is imported from."""
    if is_file(target):
        path = Path(target)
        candidates = [path] if path.is_absolute() else [Path.cwd() / path, WORKFLOW_DIR / path]
        for candidate in candidates:
            if candidate.is_file():
                return candidate.resolve()
        raise ValueError(f"file not found: {' nor '.join(str(c) for c in candidates)}")
    try:
        spec = importlib.util.find_spec(target)
    except (ImportError, ValueError) as err:
        raise ValueError(f"module {target!r} cannot be found: {err}") from None
    if spec is None or not spec.origin or not Path(spec.origin).is_file():
        raise ValueError(f"module {target!r} cannot be found (not importable from this environment)")
    return Path(spec.origin)


def defined_names(source: str, path: Path) -> set[str]:
    """Names a module's top level binds (def, class, assignment, import), read by ast."""
    import ast

    names = set()
    for node in ast.parse(source, str(path)).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {target.id for target in targets if isinstance(target, ast.Name)}
    return names


def scorer_reference(spec: dict, dataset: str) -> dict | None:
    """What decides a dataset's plugin scores: its name (datasets.<name>), the reference as
    written, its source's hash and the timeout; None without `scorer`. ValueError (for
    datasets.<name>.scorer) when the file or module is missing or lacks the function."""
    if not spec.get("scorer"):
        return None
    target, function = split_reference(spec["scorer"])
    path = scorer_file(target)
    source = path.read_bytes()
    if function not in defined_names(source.decode(), path):
        raise ValueError(f"{path} defines no {function!r} at its top level")
    return dict(
        dataset=dataset,
        scorer=spec["scorer"],
        source=hashlib.sha256(source).hexdigest()[:16],
        timeout=float(spec.get("scorer_timeout", DEFAULT_TIMEOUT)),
    )


def load_function(text: str):
    """Import the scorer's module (a file under a name of its own) and return the function."""
    target, function = split_reference(text)
    if is_file(target):
        path = scorer_file(target)
        name = f"grpo_difficulty_scorer_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"
        module = sys.modules.get(name)
        if module is None:
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            if str(path.parent) not in sys.path:
                sys.path.append(str(path.parent))  # a scorer may import the helpers beside it
            spec.loader.exec_module(module)
    else:
        module = importlib.import_module(target)
    func = getattr(module, function, None)
    if not callable(func):
        raise ValueError(f"scorer {text!r}: {function!r} is not a function of {module.__name__}")
    return func


def call_with_timeout(func, args: tuple, seconds: float):
    """func(*args), or ScorerTimeout past `seconds`. In the main thread a SIGALRM timer
    interrupts it; elsewhere (no signals there) it runs in a daemon thread that is left
    behind when it runs late."""
    if threading.current_thread() is threading.main_thread():

        def expire(signum, frame):
            raise ScorerTimeout

        previous = signal.signal(signal.SIGALRM, expire)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            return func(*args)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    outcome = {}

    def work():
        try:
            outcome["value"] = func(*args)
        except Exception as err:
            outcome["error"] = err

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        raise ScorerTimeout
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def reward_of(value) -> float:
    """A scorer's return value as a reward; ValueError unless it is a bool or a number in [0, 1]."""
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if not isinstance(value, numbers.Real):
        raise ValueError(f"returned {value!r} of type {type(value).__name__}, not a bool or a number in [0, 1]")
    reward = float(value)
    if math.isnan(reward) or not 0.0 <= reward <= 1.0:
        raise ValueError(f"returned {value!r}, outside [0, 1]")
    return reward


class PluginScorer:
    """One dataset's scorer function with its time limit; `reward` checks every result."""

    def __init__(self, reference: dict):
        self.reference = reference  # scorer_reference's: what decides its scores
        self.name, self.dataset, self.timeout = reference["scorer"], reference["dataset"], reference["timeout"]
        self.function = load_function(self.name)

    @classmethod
    def of(cls, reference: dict | None) -> PluginScorer | None:
        """The scorer of a reference (a rule's param), None for the built-in scorers."""
        return cls(reference) if reference else None

    def reward(self, completion: str, gold: str, row: dict, row_id) -> tuple[float, str]:
        """(reward, reason): reason "correct" at 1, "partial" between, "wrong" at 0, "timeout"."""
        try:
            value = call_with_timeout(self.function, (completion, gold, row), self.timeout)
        except ScorerTimeout:
            return 0.0, "timeout"
        except Exception as err:
            raise ScorerError(self._where(row_id, row, completion, f"raised {type(err).__name__}: {err}")) from err
        try:
            reward = reward_of(value)
        except ValueError as err:
            raise ScorerError(self._where(row_id, row, completion, str(err))) from None
        return reward, "correct" if reward == 1.0 else "partial" if reward > 0 else "wrong"

    def _where(self, row_id, row: dict, completion: str, what: str) -> str:
        fields = json.dumps(row, default=str)
        return (
            f"scorer {self.name} of datasets.{self.dataset} {what}; on row id {row_id!r} "
            f"(fields {fields[:300]}), completion {completion[:200]!r}"
        )


def row_fields(row: dict) -> dict:
    """The row a scorer sees: the dataset's own record when the loader kept it (column
    `record`, JSON), else the normalized row's fields."""
    record = row.get("record")
    if isinstance(record, str):
        return json.loads(record)
    return {key: value for key, value in row.items() if key != "record"}


def grade(completion: str, row: dict, fmt: str, plugin: PluginScorer | None) -> tuple[float, str]:
    """(reward, reason) of a completion to a normalized row: the dataset's plugin scorer,
    else the built-in scorer of its answer type (reward 1.0 or 0.0)."""
    if plugin is None:
        correct, reason = score(completion, row["gold"], row["answer_type"], fmt)
        return float(correct), reason
    return plugin.reward(completion, str(row["gold"]), row_fields(row), row["id"])
