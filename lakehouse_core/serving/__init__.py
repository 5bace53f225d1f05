"""Serving the gold layer to people: Synapse serverless SQL views, a Power BI Project, a local HTML dashboard.

Everything here is generated from the `lakedb` model, so new gold tables appear without hand edits.
"""

from lakehouse_core.errors import LakehouseError


class ServingError(LakehouseError):
    """The model cannot be served as declared (an unmapped type, a masked column that is not text, ...)."""
