"""Gold: the star schema, the original platform's reports, and customer KPIs (declared by the gold issue)."""

from __future__ import annotations

from lakedb.model import Table

TABLES: tuple[Table, ...] = ()
