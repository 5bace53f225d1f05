"""Build dist/lakehouse_py_files.zip for spark-submit --py-files (and Synapse pyFiles), with Python's zipfile.

The zip holds the packages as the wheel lays them out (conf/*.yml as lakehouse_core/conf/), in sorted order
with fixed timestamps, so the same sources give the same bytes.
"""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

PACKAGES = ("lakehouse_core", "lakedb", "jobs", "ml")
FIXED_TIME = (2020, 1, 1, 0, 0, 0)


def members(project: Path) -> list[tuple[Path, str]]:
    out = []
    for package in PACKAGES:
        for path in sorted((project / package).rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo"):
                out.append((path, path.relative_to(project).as_posix()))
    out += [(p, f"lakehouse_core/conf/{p.name}") for p in sorted((project / "conf").glob("*.yml"))]
    return out


def build(project: Path, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, name in members(project):
            info = zipfile.ZipInfo(name, FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, path.read_bytes())
    tmp.replace(out)
    return out


if __name__ == "__main__":
    project = Path(__file__).resolve().parent.parent
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else project / "dist" / "lakehouse_py_files.zip"
    print(build(project, target))
