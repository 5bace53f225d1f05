"""The data dictionary, derived from the model: one section per table, and a Mermaid ERD of silver and gold."""

from __future__ import annotations

import lakedb
from lakedb.sources import SOURCES


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def erd() -> str:
    tables = [t for t in lakedb.TABLES if t.layer in ("silver", "gold")]
    if not tables:
        return "_No silver or gold tables are declared yet._\n"
    lines = ["```mermaid", "erDiagram"]
    for t in tables:
        lines.append(f"  {t.layer}_{t.name} {{")
        for c in t.columns:
            typ = c.type.split("(")[0].split("<")[0].lower()
            mark = " PK" if c.name in t.keys else (" FK" if c.name in t.references else "")
            lines.append(f"    {typ} {c.name}{mark}")
        lines.append("  }")
    for t in tables:
        for column, target in sorted(t.references.items()):
            lines.append(f"  {target.replace('.', '_')} ||--o{{ {t.layer}_{t.name} : \"{column}\"")
    lines.append("```")
    return "\n".join(lines) + "\n"


def data_dictionary() -> str:
    out = [
        "# Data dictionary",
        "",
        "Generated from `lakedb/` by `lakehouse docs`; do not edit by hand (a test checks it is current).",
        "",
        "## Landing sources",
        "",
        "| source | format | columns | key | notes |",
        "|---|---|---|---|---|",
    ]
    for s in SOURCES:
        secret = f" Secret, never stored: {', '.join(s.secrets)}." if s.secrets else ""
        out.append(f"| `{s.name}` | {s.format} | {', '.join(s.columns)} | {', '.join(s.keys)} | "
                   f"{_escape(s.description)}{secret} |")
    out += ["", "## Entity-relationship diagram (silver and gold)", "", erd()]
    for layer in lakedb.LAYERS:
        tables = [t for t in lakedb.TABLES if t.layer == layer]
        if not tables:
            continue
        out += [f"## `{layer}`", ""]
        for t in tables:
            out += [f"### `{t.id}`", "", _escape(t.comment), ""]
            if t.keys:
                out.append(f"Key: {', '.join(f'`{k}`' for k in t.keys)}. ")
            if t.partition_by:
                out.append(f"Partitioned by: {', '.join(t.partition_by)}. ")
            out += ["", "| column | type | null | description |", "|---|---|---|---|"]
            for c in t.columns:
                out.append(f"| `{c.name}` | {c.type} | {'yes' if c.nullable else 'no'} | {_escape(c.comment)} |")
            if t.rules:
                out += ["", "| rule | action | expectation | meaning |", "|---|---|---|---|"]
                for r in t.rules:
                    out.append(f"| `{r.name}` | {r.action}{' + CHECK' if r.constraint else ''} | "
                               f"`{_escape(r.expr)}` | {_escape(r.description)} |")
            out.append("")
    return "\n".join(out).rstrip() + "\n"
