"""Synapse serverless SQL views generated from the model, and the check that keeps gold readable by them."""

from __future__ import annotations

import re

import pytest

import lakedb
from lakedb.model import Table, col
from lakehouse_core.catalog import ensure_tables
from lakehouse_core.config import load_config
from lakehouse_core.serving import ServingError
from lakehouse_core.serving.synapse_sql import (
    masked,
    model_readability_problems,
    synapse_views_sql,
    table_readability_problems,
    tsql_type,
    view_sql,
)

CONTACT = Table(
    layer="gold", name="dim_contact", comment="Contacts.\nTwo lines.",
    columns=(
        col("contact_sk", "BIGINT", "Key.", nullable=False),
        col("email", "STRING", "E-mail.", pii="email"),
        col("phone", "STRING", "Phone.", pii="phone"),
        col("amount", "DECIMAL(12, 2)", "Money."),
    ),
    keys=("contact_sk",),
    properties={"delta.enableDeletionVectors": "false"},
)


@pytest.fixture
def synapse_cfg():
    return load_config("synapse")


def test_view_reads_the_delta_folder_with_typed_columns_and_masks_personal_data():
    assert view_sql(CONTACT) == (
        "-- gold.dim_contact: Contacts. Two lines.\n"
        "CREATE OR ALTER VIEW [bi].[dim_contact] AS\n"
        "SELECT\n"
        "    [contact_sk],\n"
        "    CASE WHEN CHARINDEX('@', [email]) > 1 THEN LEFT([email], 1) + '***@' + "
        "SUBSTRING([email], CHARINDEX('@', [email]) + 1, 8000) WHEN [email] IS NOT NULL THEN '***' END AS [email],\n"
        "    CASE WHEN LEN([phone]) > 4 THEN '******' + RIGHT([phone], 4) WHEN [phone] IS NOT NULL THEN '***' END"
        " AS [phone],\n"
        "    [amount]\n"
        "FROM OPENROWSET(\n"
        "    BULK 'dim_contact/',\n"
        "    DATA_SOURCE = 'gold_delta',\n"
        "    FORMAT = 'DELTA'\n"
        ") WITH (\n"
        "    [contact_sk] BIGINT,\n"
        "    [email] VARCHAR(8000) COLLATE Latin1_General_100_BIN2_UTF8,\n"
        "    [phone] VARCHAR(8000) COLLATE Latin1_General_100_BIN2_UTF8,\n"
        "    [amount] DECIMAL(12,2)\n"
        ") AS [rows];\n"
        "GO\n"
    )


def test_spark_types_map_to_tsql_and_unknown_types_are_refused():
    got = {t: tsql_type(t) for t in ("STRING", "BIGINT", "INT", "DECIMAL(18,8)", "DATE", "TIMESTAMP",
                                     "BOOLEAN", "DOUBLE", "ARRAY<STRING>")}
    assert got == {
        "STRING": "VARCHAR(8000) COLLATE Latin1_General_100_BIN2_UTF8",
        "BIGINT": "BIGINT",
        "INT": "INT",
        "DECIMAL(18,8)": "DECIMAL(18,8)",
        "DATE": "DATE",
        "TIMESTAMP": "DATETIME2(7)",
        "BOOLEAN": "BIT",
        "DOUBLE": "FLOAT",
        "ARRAY<STRING>": "VARCHAR(8000) COLLATE Latin1_General_100_BIN2_UTF8",
    }
    with pytest.raises(ServingError, match="TIMESTAMP_NTZ"):
        tsql_type("TIMESTAMP_NTZ")
    with pytest.raises(ServingError, match="pii=phone but is BIGINT"):
        masked(col("phone", "BIGINT", "A phone stored as a number.", pii="phone"))


def test_script_has_the_database_guard_data_source_schema_and_one_view_per_gold_table(synapse_cfg):
    sql = synapse_views_sql(synapse_cfg)
    gold = [t.name for t in lakedb.TABLES if t.layer == "gold"]
    assert gold, "lakedb declares no gold table"
    assert re.findall(r"^CREATE OR ALTER VIEW \[bi\]\.\[(\w+)\] AS$", sql, re.M) == gold
    assert re.findall(r"BULK '(\w+)/'", sql) == gold
    assert sql.count("FORMAT = 'DELTA'") == len(gold)
    assert "IF DB_ID(N'lakehouse_serving') IS NULL\n    CREATE DATABASE [lakehouse_serving]" in sql
    assert ("CREATE EXTERNAL DATA SOURCE [gold_delta] WITH (LOCATION = "
            "N'abfss://lake@contosolake.dfs.core.windows.net/customer-lakehouse/warehouse/gold.db/');") in sql
    assert "IF SCHEMA_ID(N'bi') IS NULL\n    EXEC (N'CREATE SCHEMA [bi]');" in sql
    # Every column the model marks as personal data is masked, and nothing else is.
    pii = sorted((t.name, c.name) for t in lakedb.TABLES if t.layer == "gold" for c in t.columns if c.pii)
    current, found = None, []
    for view, column in re.findall(r"VIEW \[bi\]\.\[(\w+)\]|END AS \[(\w+)\]", sql):
        current = view or current
        if column:
            found.append((current, column))
    assert sorted(found) == pii
    assert {("dim_customer", "email"), ("dim_customer", "phone")} <= set(pii)


def test_the_declared_gold_tables_are_readable_by_serverless_sql():
    assert model_readability_problems() == []


def test_deletion_vectors_column_mapping_and_v2_checkpoints_are_reported_from_the_model():
    base = dict(layer="gold", comment="x", columns=(col("a", "INT", "a"),))
    tables = [
        Table(name="implicit_dv", **base),
        Table(name="dv_on", properties={"delta.enableDeletionVectors": "true"}, **base),
        Table(name="mapped", properties={"delta.enableDeletionVectors": "false",
                                         "delta.columnMapping.mode": "name"}, **base),
        Table(name="v2", properties={"delta.enableDeletionVectors": "false", "delta.checkpointPolicy": "v2"},
              **base),
        Table(name="fine", properties={"delta.enableDeletionVectors": "false", "delta.columnMapping.mode": "none"},
              **base),
    ]
    assert model_readability_problems(tables) == [
        "gold.implicit_dv: delta.enableDeletionVectors must be 'false' (is None; serverless SQL cannot read "
        "deletion vectors)",
        "gold.dv_on: delta.enableDeletionVectors must be 'false' (is 'true'; serverless SQL cannot read "
        "deletion vectors)",
        "gold.mapped: delta.columnMapping.mode is 'name'; serverless SQL reads only 'none'",
        "gold.v2: delta.checkpointPolicy is 'v2'; serverless SQL reads only classic checkpoints",
    ]


def test_real_delta_tables_are_checked_with_show_tblproperties(spark, lake_cfg):
    good = lakedb.table("gold.rpt_customers_by_gender")
    bad = Table(layer="gold", name="rpt_unreadable", comment="Upgraded protocol.",
                columns=(col("a", "INT", "a"),),
                properties={"delta.enableDeletionVectors": "true", "delta.columnMapping.mode": "name"})
    missing = lakedb.table("gold.rpt_customers_by_country")
    ensure_tables(spark, lake_cfg, [good, bad])
    gold = lake_cfg.database("gold")
    assert table_readability_problems(spark, lake_cfg, [good, bad, missing]) == [
        f"{gold}.rpt_unreadable: delta.enableDeletionVectors must be 'false' (is 'true'; serverless SQL cannot "
        "read deletion vectors)",
        f"{gold}.rpt_unreadable: delta.columnMapping.mode is 'name'; serverless SQL reads only 'none'",
        f"{gold}.rpt_unreadable: delta.minReaderVersion is 3; serverless SQL reads reader version 1 only",
        f"{gold}.rpt_customers_by_country: does not exist (run the gold jobs first)",
    ]
