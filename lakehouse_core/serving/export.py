"""`lakehouse export powerbi|synapse-sql`: the BI artefacts, generated from the lakedb model."""

from __future__ import annotations

from pathlib import Path

from lakehouse_core.config import Config, load_config
from lakehouse_core.serving import ServingError
from lakehouse_core.serving.pbip import DEFAULT_NAME, write_pbip
from lakehouse_core.serving.synapse_sql import model_readability_problems, synapse_views_sql

SQL_FILE = "synapse_serverless_views.sql"
TARGETS = ("powerbi", "synapse-sql")


def write_synapse_sql(cfg: Config, out_dir: Path | str) -> list[Path]:
    """Write the serverless SQL script; refuses if a gold table would be unreadable by serverless SQL."""
    problems = model_readability_problems()
    if problems:
        raise ServingError("gold is not readable by Synapse serverless SQL: " + "; ".join(problems))
    path = Path(out_dir) / SQL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(synapse_views_sql(cfg), encoding="utf-8", newline="\n")
    return [path]


def export_bi(cfg: Config, out_dir: Path | str, target: str | None = None) -> list[Path]:
    """Write the SQL views script and the Power BI Project (in `powerbi/`) under `out_dir`.

    With `target`, write only that one, straight into `out_dir` (`lakehouse export powerbi --out DIR`).
    """
    if target not in (None, *TARGETS):
        raise ServingError(f"unknown BI export target {target!r} (known: {', '.join(TARGETS)})")
    if not cfg.section("synapse"):
        cfg = load_config("synapse")  # e.g. `--env local`: serverless SQL reads the lake of conf/synapse.yml
    written = []
    if target in (None, "synapse-sql"):
        written += write_synapse_sql(cfg, out_dir)
    if target == "powerbi":
        written += write_pbip(cfg, out_dir, DEFAULT_NAME)
    elif target is None:
        written += write_pbip(cfg, Path(out_dir) / "powerbi", DEFAULT_NAME)
    return written
