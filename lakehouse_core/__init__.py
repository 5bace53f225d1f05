"""The lakehouse's core: configuration, Spark session, lake database, manifest and runner."""

__version__ = "0.1.0"
