"""Every library member the project relies on beyond the public API
(grpo_difficulty.trainer.compat) is there in the installed TRL, transformers, PEFT and
vLLM with the parameters the project passes or overrides; and the list is complete: the
trainer subclasses take nothing else from GRPOTrainer and add no name TRL has, and no
other private library name is used in src/ or tests/. vLLM's entries are skipped where
vLLM is absent and run in .ci/run's vLLM stage. None of this imports the trainer
modules: with another TRL version they refuse to import, and these tests say what to
re-check."""

import ast
import importlib
import inspect
import textwrap
import typing
from pathlib import Path

import pytest

import grpo_difficulty
from grpo_difficulty.generation.models import load_tokenizer
from grpo_difficulty.trainer.compat import GRPO, MEMBERS, TABLES, Member

SRC = Path(grpo_difficulty.__file__).parent
TESTS = Path(__file__).parent
LIBRARIES = {"trl", "transformers", "peft", "vllm"}
# Trainer attributes documented by transformers' Trainer (not listed: public API)
PUBLIC = {"accelerator", "args", "model", "model_wrapped", "processing_class", "state", "train_dataset"}
# Python's own documented names that start with an underscore (os._exit: leave a forked
# child without running the parent's cleanup)
PYTHON_PUBLIC = {"_exit"}
OVERRIDES = {m.path.split(".")[-1] for m in MEMBERS if m.path.startswith(GRPO + ".") and m.params is not None}
FROM_TRL = {m.path.split(".")[-1] for m in MEMBERS if m.path.startswith(GRPO + ".")}


def installed(path: str) -> str:
    """'<library> <version>' of a member's library; skips vLLM's where it is absent."""
    name = path.split(":")[0].split(".")[0]
    if name == "vllm":
        pytest.importorskip("vllm", reason="vLLM's members are checked in .ci/run's vLLM stage")
    return f"{name} {getattr(importlib.import_module(name), '__version__', '')}".strip()


def resolve(path: str, obj=None):
    """The object at "module:qualified.name" (on `obj` instead of the module's class when
    given: an attribute of an instance); fails naming the member and the library."""
    module, _, qualname = path.partition(":")
    where = installed(path)
    names = qualname.split(".")
    if obj is None:
        obj = importlib.import_module(module)
    else:
        names = names[1:]
    for name in names:
        try:
            obj = getattr(obj, name)
        except AttributeError:
            pytest.fail(f"{path}: no {name!r} in {where}")
    return obj


@pytest.fixture(scope="module")
def grpo_trainer(tiny_model, tmp_path_factory):
    """TRL's own GRPOTrainer on the tiny model, for the attributes its __init__ sets."""
    from datasets import Dataset
    from trl import GRPOConfig

    args = GRPOConfig(
        output_dir=str(tmp_path_factory.mktemp("grpo")),
        per_device_train_batch_size=2,
        num_generations=2,
        max_completion_length=4,
        max_steps=1,
        use_cpu=True,
        report_to="none",
    )
    return resolve(GRPO)(
        model=tiny_model,
        reward_funcs=lambda completions, **_: [0.0] * len(completions),
        args=args,
        train_dataset=Dataset.from_dict({"prompt": ["1 + 1 =", "2 + 2 ="]}),
        processing_class=load_tokenizer(tiny_model),
    )


@pytest.mark.parametrize("member", MEMBERS, ids=lambda m: m.path)
def test_member_is_there_with_its_parameters(member: Member, request):
    obj = resolve(member.path, request.getfixturevalue("grpo_trainer") if member.instance else None)
    if member.params is not None:
        found = tuple(p for p in inspect.signature(obj).parameters if p != "self")
        assert found == member.params, (
            f"{member.path} in {installed(member.path)} takes {found}, the project expects {member.params} "
            f"({member.use})"
        )
    if member.calls:
        called = {  # f(...) and x.f(...)
            node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(obj))))
            if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute))
        }
        assert member.calls in called, f"{member.path} in {installed(member.path)} no longer calls {member.calls}"


def test_trl_metrics_take_new_names(grpo_trainer):
    """The learnable and dynamic-sampling trainers log by appending to _metrics['train'][name]."""
    grpo_trainer._metrics["train"]["dynamic_sampling/extra_rounds"].append(0)
    assert grpo_trainer._metrics["train"]["dynamic_sampling/extra_rounds"] == [0]


def values(table) -> set:
    """The values of a library table: a Literal's, an Enum's, or an iterable's (of enum members)."""
    if typing.get_origin(table) is typing.Literal:
        return set(typing.get_args(table))
    if callable(table) and not isinstance(table, type):
        table = table()
    return {getattr(v, "value", v) for v in table}


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.path)
def test_copied_table_matches_the_library(table):
    theirs, ours = values(resolve(table.path)), values(resolve(table.copy))
    if table.subset:
        assert ours <= theirs, f"{table.copy} holds {sorted(ours - theirs)}, not in {table.path} ({table.use})"
    else:
        assert ours == theirs, (
            f"{table.copy} differs from {table.path} in {installed(table.path)}: only ours {sorted(ours - theirs)}, "
            f"only theirs {sorted(theirs - ours)} ({table.use})"
        )


def subclass_names(module: str) -> tuple[set[str], set[str]]:
    """(names the trainer classes of trainer/<module>.py define: methods and attributes they
    assign; names of GRPOTrainer they use: self.X not defined there, super().X, and
    trainer.X in the module's functions taking the trainer)."""
    tree = ast.parse((SRC / "trainer" / f"{module}.py").read_text())
    defined, used = set(), set()
    for cls in (node for node in tree.body if isinstance(node, ast.ClassDef)):
        defined |= {f.name for f in cls.body if isinstance(f, ast.FunctionDef) and not f.name.startswith("__")}
        for node in ast.walk(cls):
            if not isinstance(node, ast.Attribute):
                continue
            on_self = is_self(node.value)
            on_super = isinstance(node.value, ast.Call) and getattr(node.value.func, "id", None) == "super"
            if on_self and isinstance(node.ctx, ast.Store):
                defined.add(node.attr)
            elif on_self or (on_super and node.attr != "__init__"):
                used.add(node.attr)
    for func in (node for node in tree.body if isinstance(node, ast.FunctionDef)):
        if [a.arg for a in func.args.args[:1]] == ["trainer"]:
            used |= {n.attr for n in ast.walk(func) if isinstance(n, ast.Attribute) and is_self(n.value, "trainer")}
    return defined, used - defined


@pytest.mark.parametrize("module", ["learnable", "shared_prompts", "dynamic_sampling", "base_check"])
def test_trainer_subclasses_take_only_listed_members_of_trl(module, grpo_trainer):
    defined, used = subclass_names(module)
    trl_names = set(dir(type(grpo_trainer))) | set(vars(grpo_trainer))
    overridden = {name for name in defined if name in trl_names}
    assert overridden <= OVERRIDES, (
        f"trainer/{module}.py defines {sorted(overridden - OVERRIDES)}, which GRPOTrainer has too: "
        "list it in trainer/compat.py as an override, or rename it"
    )
    unlisted = used - FROM_TRL - PUBLIC
    assert not unlisted, f"trainer/{module}.py uses GRPOTrainer's {sorted(unlisted)}: list them in trainer/compat.py"


def project_names() -> set[str]:
    """Every name defined in the library or the tests: functions, classes, variables and
    attributes of self (an attribute set on a library object is the library's)."""
    names = set()
    for file in [*SRC.rglob("*.py"), *TESTS.glob("*.py")]:
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.FunctionDef | ast.ClassDef):
                names.add(node.name)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.add(node.id)
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and is_self(node.value):
                names.add(node.attr)
    return names


def is_self(node: ast.expr, name: str = "self") -> bool:
    return isinstance(node, ast.Name) and node.id == name


def test_no_unlisted_private_library_name_in_src_or_tests():
    """A private name imported from a library, or read as `x._name` on anything but the
    project's own names, is one of compat.py's members."""
    listed = {m.path for m in MEMBERS} | {t.path for t in TABLES}
    known = project_names() | PYTHON_PUBLIC | {path.split(".")[-1].split(":")[-1] for path in listed}
    unlisted = []
    for file in [*SRC.rglob("*.py"), *TESTS.glob("*.py")]:
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in LIBRARIES:
                for alias in node.names:
                    if alias.name.startswith("_") and f"{node.module}:{alias.name}" not in listed:
                        unlisted.append(f"{file.name}: {node.module}:{alias.name}")
            elif (
                isinstance(node, ast.Attribute)
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and node.attr not in known
            ):
                unlisted.append(f"{file.name}:{node.lineno}: .{node.attr}")
    assert not unlisted, f"private library names not in trainer/compat.py: {unlisted}"


def test_listed_members_are_unique_and_of_the_four_libraries():
    paths = [m.path for m in MEMBERS] + [t.path for t in TABLES]
    assert len(paths) == len(set(paths))
    assert {p.split(":")[0].split(".")[0] for p in paths} == LIBRARIES
