"""Tables written by the ML jobs (churn scores, customer segments, feature snapshots)."""

from __future__ import annotations

from lakedb.model import Table

TABLES: tuple[Table, ...] = ()
