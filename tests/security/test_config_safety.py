"""Configuration is checked before any of it reaches SQL, and `conf/` holds no secret."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from lakehouse_core import cli
from lakehouse_core.catalog import qualified
from lakehouse_core.config import load_config
from lakehouse_core.errors import ConfigError
from lakehouse_core.jdbc import jdbc_source

PROJECT = Path(__file__).resolve().parents[2]
SECRET_KEY = re.compile(r"(pass(word)?|secret|token|credential|api_?key|account_?key|sas)$", re.IGNORECASE)
SECRET_TEXT = re.compile(r"(password\s*=\s*(?!\.\.\.|\$)\S|AccountKey=|SharedAccessSignature|[?&]sig=|-----BEGIN|dapi[0-9a-f]{32})",
                         re.IGNORECASE)


def secret_settings(node, path="") -> list[str]:
    """Settings whose name says secret and whose value is not the name of an environment variable."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}" if path else str(key)
            if SECRET_KEY.search(str(key)) and value not in (None, "") and not (
                    isinstance(value, str) and re.fullmatch(r"[A-Z][A-Z0-9_]*", value)):
                found.append(where)
            found += secret_settings(value, where)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += secret_settings(value, f"{path}[{i}]")
    return found


@pytest.mark.parametrize("conf", sorted(p.name for p in (PROJECT / "conf").glob("*.yml")))
def test_no_secret_lives_in_conf(conf):
    text = (PROJECT / "conf" / conf).read_text()
    assert secret_settings(yaml.safe_load(text)) == []
    assert SECRET_TEXT.findall(text) == []


def test_secret_settings_are_recognised():
    assert secret_settings({"sources": {"payments": {"password": "hunter2", "password_env": "PG_PASSWORD"}},
                            "storage": {"account_key": "abc=="}, "secrets": {"key_env": "LAKEHOUSE_SECRET_KEY"}}) \
        == ["sources.payments.password", "storage.account_key"]


@pytest.mark.parametrize("name", ["ops; DROP TABLE silver.customer --", "ops`", "gold.x", "", "1ops", "ops\n"])
def test_a_database_name_from_conf_is_refused_before_any_sql(tmp_path, monkeypatch, capsys, name):
    conf = tmp_path / "conf"
    shutil.copytree(PROJECT / "conf", conf)
    raw = yaml.safe_load((conf / "local.yml").read_text())
    raw["databases"]["ops"] = name
    (conf / "local.yml").write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("LAKEHOUSE_CONF_DIR", str(conf))
    with pytest.raises(ConfigError, match=re.escape(f"invalid database name for ops {name!r}: expected letters, "
                                                    "digits and underscores")):
        load_config("local", str(tmp_path / "lake"))
    assert cli.main(["run", "--root", str(tmp_path / "lake")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lakehouse run: invalid database name for ops") and err.count("\n") == 1
    assert not (tmp_path / "lake").exists()


def test_table_names_are_checked_where_they_are_put_together(tmp_path):
    cfg = load_config("local", str(tmp_path / "lake"))
    assert qualified(cfg, "silver.customer") == "silver.customer"
    cfg.raw["databases"]["silver"] = "silver; DROP TABLE x"  # changed after loading: still caught
    with pytest.raises(ConfigError, match="invalid database 'silver; DROP TABLE x'"):
        qualified(cfg, "silver.customer")


@pytest.mark.parametrize("key, value, reason", [
    ("table", 'public."x"; DROP TABLE y; --', "invalid table name"),
    ("table", "public.x--", "invalid table name"),
    ("watermark_column", "modified_at) OR (1=1", "watermark_column is not a column name"),
    ("partition_column", "id; DELETE", "partition_column is not a column name"),
])
def test_jdbc_table_and_column_names_from_conf_are_refused(tmp_path, key, value, reason):
    cfg = load_config("local", str(tmp_path / "lake"))
    cfg.raw["sources"] = {"payments": {
        "kind": "jdbc", "url": "jdbc:postgresql://127.0.0.1:5432/payments", "table": 'public."The_transaction"',
        "user": "lakehouse", "password_env": "LAKEHOUSE_PG_PASSWORD", "partition_column": "transaction_id",
        "watermark_column": "modified_at", key: value}}
    with pytest.raises(ConfigError, match=re.escape(reason)):
        jdbc_source(cfg, "payments/The_transaction")
