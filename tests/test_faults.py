"""Damaged cache files are detected, with a message that says how to regenerate them."""

import pandas as pd
import pyarrow.parquet as pq
import pytest

from grpo_difficulty.files import read_table, write_table


@pytest.fixture
def table(tmp_path):
    path = tmp_path / "pass_rates_k8.parquet"
    write_table(pd.DataFrame({"id": ["a", "b"], "pass_rate": [0.25, 1.0], "tier": [1, 2]}), path)
    return path


def test_a_table_round_trips(table):
    df = read_table(table, required=["id", "pass_rate"])
    assert df["pass_rate"].tolist() == [0.25, 1.0] and df.attrs == {}


def test_truncated_file_is_detected(table):
    data = table.read_bytes()
    table.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="pass_rates_k8.parquet: cannot be read .*delete it and rerun snakemake"):
        read_table(table)


def test_hand_edited_value_is_detected(table):
    df = pd.read_parquet(table)
    df.loc[0, "pass_rate"] = 0.5  # pandas keeps the file's checksum in attrs: now stale
    df.to_parquet(table, index=False)
    with pytest.raises(ValueError, match="do not match their checksum .*delete it and rerun snakemake"):
        read_table(table)


def test_file_rewritten_by_another_tool_is_detected(table):
    pq.write_table(pq.read_table(table).replace_schema_metadata({}), table)
    with pytest.raises(ValueError, match="has no content_sha256"):
        read_table(table)


def test_missing_column_is_named(table):
    with pytest.raises(ValueError, match=r"missing columns \['n_correct'\]"):
        read_table(table, required=["id", "n_correct"])
