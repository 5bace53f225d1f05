"""Local landing folders are listed from Python exactly as Hadoop lists them (the ledger compares the paths)."""

from __future__ import annotations

import os

from lakehouse_core.fs import _fs, _list_hadoop, list_files


def test_a_local_folder_is_listed_as_hadoop_lists_it(spark, tmp_path):
    root = tmp_path / "landing"
    (root / "crm" / "batch=2025-01-01").mkdir(parents=True)
    (root / "crm" / "batch=2025-01-01" / "customer_20250101.csv").write_bytes(b"a,b\n1,2\n")
    (root / "crm" / "batch=2025-01-01" / "with space.csv").write_bytes(b"x\n")
    (root / "crm" / "batch=2025-01-01" / ".hidden.csv").write_bytes(b"skipped\n")
    (root / "crm" / "batch=2025-01-01" / "_SUCCESS").write_bytes(b"")
    (root / "crm" / "batch=2025-01-01" / "customer_20250102.csv._COPYING_").write_bytes(b"a,b\n1,")  # in flight
    (root / "crm" / "_staging").mkdir()
    (root / "crm" / "_staging" / "kept.csv").write_bytes(b"a folder's name is not a file's\n")
    (root / "empty.csv").write_bytes(b"")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "linked.csv").write_bytes(b"through a symlinked folder\n")
    os.symlink(elsewhere, root / "crm" / "linked")

    listed = list_files(spark, str(root))
    assert [(f.path, f.size) for f in listed] == [
        (f"file:{root}/crm/_staging/kept.csv", 32),
        (f"file:{root}/crm/batch=2025-01-01/customer_20250101.csv", 8),
        (f"file:{root}/crm/batch=2025-01-01/with space.csv", 2),
        (f"file:{root}/crm/linked/linked.csv", 27),
        (f"file:{root}/empty.csv", 0),
    ]
    assert listed == _list_hadoop(*_fs(spark, str(root)))
    assert list_files(spark, f"file://{root}/") == listed
    assert list_files(spark, str(root / "empty.csv")) == _list_hadoop(*_fs(spark, str(root / "empty.csv")))


def test_an_absent_folder_and_a_dangling_symlink_list_nothing(spark, tmp_path):
    assert list_files(spark, str(tmp_path / "absent")) == []
    os.symlink(tmp_path / "gone.csv", tmp_path / "dangling.csv")
    assert list_files(spark, str(tmp_path)) == []
