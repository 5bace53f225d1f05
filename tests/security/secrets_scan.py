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


def main(argv: list[str] | None = None) -> int:
    """`python -m tests.security.secrets_scan ROOT`: scan a lakehouse root (after `lakehouse demo`, say)."""
    import sys

    root = Path((argv or sys.argv[1:] or ["./lakehouse"])[0]).resolve()
    secrets = landing_passwords(root / "landing")
    hits = find_clear_text(root, secrets)
    files = sum(1 for p in root.rglob("*") if p.is_file() and p.relative_to(root).parts[0] not in ("landing", "_truth"))
    print(f"{len(secrets)} landing passwords searched for in {files} files under {root}: "
          + (f"{len(hits)} hits\n" + "\n".join(hits) if hits else "none found"))
    return 1 if hits else 0


if __name__ == "__main__":
    raise SystemExit(main())
