"""What editing each config key reruns: config/rerun_effects.yaml, one row per leaf key of
config/schema.yaml (a `<name>` key once per instance of it in the tests' rerun config),
each with the edit tests/test_rerun_effects.py makes on a completed run and the rules
whose jobs Snakemake's dry run then plans. docs/config.md shows it (config.docs)."""

from __future__ import annotations

import yaml

from .sections import SCHEMA

TABLE = SCHEMA.with_name("rerun_effects.yaml")
# the map-valued sections: their keys are named by the user (datasets.<name>.seed)
NAMED = ("datasets", "subsets")


def leaf_keys(schema: dict | None = None) -> list[str]:
    """Every key of the schema that holds no other keys, dotted; a map of objects
    (datasets, subsets) as `<name>`; a list (even of objects) is one leaf."""
    schema = schema or yaml.safe_load(SCHEMA.read_text())
    keys = []

    def walk(node: dict, prefix: str) -> None:
        if "$ref" in node:
            node = {**schema["$defs"][node["$ref"].rsplit("/", 1)[1]], **node}
        inner = node.get("additionalProperties")
        if "properties" in node:
            for name, child in node["properties"].items():
                walk(child, f"{prefix}{name}.")
        elif isinstance(inner, dict) and "properties" in inner:
            walk(inner, f"{prefix}<name>.")
        else:
            keys.append(prefix[:-1])

    walk(schema, "")
    return keys


def schema_key(key: str) -> str:
    """A table row's key as the schema names it: datasets.train.seed → datasets.<name>.seed."""
    parts = key.split(".")
    if parts[0] in NAMED and len(parts) > 2:
        parts[1] = "<name>"
    return ".".join(parts)


def load_table() -> dict[str, dict]:
    return yaml.safe_load(TABLE.read_text())["keys"]


def instances() -> dict[str, str]:
    """The roles of the named instances the table's rows use (`datasets.train`: ...)."""
    return yaml.safe_load(TABLE.read_text())["instances"]


def effect(row: dict) -> str:
    """A row's effect in words: the rules it reruns, or what it shares them with."""
    if "data_key" in row:
        return f"its dataset's data key (as `seed`; loaders {', '.join(row['data_key'])})"
    rules = row["reruns"]
    text = ", ".join(rules) if rules else "nothing"
    notes = [row["note"]] if "note" in row else []
    notes += [f"not tested: {row['untested']}"] if "untested" in row else []
    return f"{text} ({'; '.join(notes)})" if notes else text


def docs_cell(key: str, table: dict[str, dict] | None = None) -> str:
    """The "edit reruns" cell of a docs/config.md row (`key` as config.docs spells it:
    `.{a,b}` for neighbours alike, `[]` inside a list); empty for a key holding others."""
    table = table if table is not None else load_table()
    key = key.split("[]", 1)[0]  # a list's entries are edits of the list
    if "{" in key:
        head, rest = key.split("{", 1)
        names, tail = rest.split("}", 1)
        cells = {docs_cell(f"{head}{name}{tail}", table) for name in names.split(",")}
        return cells.pop() if len(cells) == 1 else "; ".join(sorted(cells))
    rows = {name: row for name, row in table.items() if schema_key(name) == key}
    if list(rows) == [key]:
        return effect(rows[key])
    roles = instances()
    return "; ".join(f"{roles['.'.join(name.split('.')[:2])]}: {effect(row)}" for name, row in rows.items())
