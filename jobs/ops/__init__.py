"""Operational jobs: table maintenance."""
