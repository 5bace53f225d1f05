"""Byte-exact writers for the landing files: CSV, JSON Lines and a deterministic xlsx.

Lines are built column-wise from object arrays of already-formatted field texts (no per-row Python in
the bulk path); only the few defective rows go through `edits`, which may rewrite fields or the line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import re
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from openpyxl import Workbook

from .defects import Injected

CHUNK_ROWS = 200_000
FIXED_TIME = dt.datetime(2020, 1, 1, 0, 0, 0)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass
class Written:
    bytes: int
    sha256: str
    data_lines: int
    injected: list[tuple[int, Injected]]  # (row, what was written), in row order


def json_line(columns: tuple[str, ...], fields: list) -> str:
    return "{" + ", ".join(f'"{c}": {v}' for c, v in zip(columns, fields, strict=True) if v is not None) + "}"


def _csv_lines(cols: list[np.ndarray]) -> list[str]:
    return list(map(",".join, zip(*[c.tolist() for c in cols], strict=True)))


def _json_lines(columns: tuple[str, ...], cols: list[np.ndarray]) -> list[str]:
    segs = []
    for j, (name, values) in enumerate(zip(columns, cols, strict=True)):
        prefix = ("{" if j == 0 else ", ") + f'"{name}": '
        absent = np.equal(values, None)
        seg = np.full(len(values), "", dtype=object)
        seg[~absent] = prefix + values[~absent]
        segs.append(seg.tolist())
    return [s + "}" for s in map("".join, zip(*segs, strict=True))]


def write_text_file(
    path: Path,
    columns: tuple[str, ...],
    n_rows: int,
    render: Callable[[int, int], list[np.ndarray]],
    edits: dict[int, Callable[[list], Injected]],
    *,
    jsonl: bool = False,
    header: bool = True,
    bom: bool = False,
    crlf: bool = False,
    empty: bool = False,
) -> Written:
    """Write rows [0, n_rows) as rendered by `render(start, stop)`; `edits[row]` damages a single row."""
    path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    injected: list[tuple[int, Injected]] = []
    eol = "\r\n" if crlf else "\n"
    edit_rows = np.array(sorted(edits), dtype=np.int64)
    tmp = _tmp(path)
    with open(tmp, "wb") as fh:

        def emit(text: str) -> None:
            nonlocal size
            data = text.encode("utf-8", "surrogateescape")
            fh.write(data)
            digest.update(data)
            size += len(data)

        if empty:
            n_rows = 0
        elif bom:
            fh.write(b"\xef\xbb\xbf")
            digest.update(b"\xef\xbb\xbf")
            size += 3
        if header and not jsonl and not empty:
            emit(",".join(columns) + eol)
        for start in range(0, n_rows, CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, n_rows)
            cols = render(start, stop)
            lines = _json_lines(columns, cols) if jsonl else _csv_lines(cols)
            lo, hi = np.searchsorted(edit_rows, [start, stop])
            for row in edit_rows[lo:hi].tolist():
                fields = [c[row - start] for c in cols]
                res = edits[row](fields)
                line = json_line(columns, res.fields) if jsonl else ",".join(res.fields)
                if res.truncate:
                    line = line[: max(8, len(line) // 2)]
                lines[row - start] = line
                injected.append((row, res))
            emit(eol.join(lines) + eol)
    replace_if_changed(tmp, path)
    return Written(size, digest.hexdigest(), n_rows, injected)


def xlsx_bytes(sheet: str, columns: tuple[str, ...], rows: list[list]) -> bytes:
    """An xlsx with one sheet whose bytes depend only on the cell values."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(list(columns))
    for row in rows:
        ws.append(row)
    wb.properties.created = FIXED_TIME
    wb.properties.modified = FIXED_TIME
    wb.properties.creator = "lakehouse simulator"
    buf = io.BytesIO()
    wb.save(buf)
    # openpyxl stamps the zip entries and docProps/core.xml "modified" with the current time on save:
    # rewrite both with fixed values.
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                              rb"\g<1>" + stamp + rb"\g<2>", data)
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            dst.writestr(info, data)
    return out.getvalue()


def write_bytes(path: Path, data: bytes) -> Written:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp(path)
    tmp.write_bytes(data)
    replace_if_changed(tmp, path)
    return Written(len(data), hashlib.sha256(data).hexdigest(), 0, [])


def _tmp(path: Path) -> Path:
    # A dot name: Spark and most readers skip hidden files, so a half-written file is never picked up.
    return path.with_name(f".{path.name}.tmp")


def replace_if_changed(tmp: Path, final: Path) -> None:
    """Move tmp over final unless final already has these bytes (then final, and its mtime, stay)."""
    if final.exists() and final.stat().st_size == tmp.stat().st_size and _same(tmp, final):
        tmp.unlink()
    else:
        os.replace(tmp, final)


def _same(a: Path, b: Path, block: int = 1 << 20) -> bool:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(block), fb.read(block)
            if x != y:
                return False
            if not x:
                return True
