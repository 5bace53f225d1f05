"""Finds clear-text landing passwords anywhere under a lakehouse root (tables, _delta_log, logs, artefacts)."""

from __future__ import annotations

import csv
import re
from pathlib import Path

PASSWORD_COLUMN = "Account_password"
_SYMBOLS = re.compile(r"[!#$%^&*+=?~]")


def landing_passwords(landing: Path) -> set[str]:
    """Every value that sits where a password would, in every customer file (malformed lines included)."""
    out: set[str] = set()
    for path in sorted((landing / "crm" / "customer").rglob("*")):
        if not path.is_file():
            continue
        text = path.read_bytes().decode("utf-8", errors="replace").lstrip("\ufeff")
        # Line by line: an unbalanced quote on one line must not swallow the lines after it.
        lines = [next(csv.reader([line]), []) for line in text.splitlines()]
        if not lines or PASSWORD_COLUMN not in lines[0]:
            continue
        n, p = len(lines[0]), lines[0].index(PASSWORD_COLUMN)
        for row in lines[1:]:
            if len(row) == n:
                candidates = [row[p].strip()]
            else:
                # A damaged line: the password is at its position counted from the left or from the right;
                # keep only tokens that look like one (names, e-mails and user names carry no such symbols).
                candidates = [row[i].strip() for i in {p, len(row) - (n - p)} if 0 <= i < len(row)]
                candidates = [c for c in candidates if _SYMBOLS.search(c) and "@" not in c]
            out.update(c for c in candidates if len(c) >= 6)
    return out


def _parquet_text(path: Path) -> str:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    parts = []
    for column in table.columns:
        if str(column.type) in ("string", "large_string"):
            parts.extend(v for v in column.to_pylist() if v)
    return "\n".join(parts)


def find_clear_text(root: Path, secrets: set[str], skip: tuple[str, ...] = ("landing", "_truth")) -> list[str]:
    """`path: secret` for every file under `root` that holds one of `secrets` in clear text."""
    hits = []
    encoded = [(s, s.encode()) for s in secrets]
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.relative_to(root).parts[0] in skip:
            continue
        data = path.read_bytes()
        text = _parquet_text(path) if path.suffix == ".parquet" else ""
        for s, b in encoded:
            if b in data or (text and s in text):
                hits.append(f"{path.relative_to(root)}: {s[:2]}…")
                break
    return hits
