"""Named errors raised at the project's boundaries; the CLI prints them as one line."""


class LakehouseError(Exception):
    """Base class: a problem a user can act on, reported as a one-line message."""


class ConfigError(LakehouseError):
    """An environment file, root folder or setting is missing or invalid."""


class ManifestError(LakehouseError):
    """The pipeline manifest is unreadable, refers to something unknown, or has a cycle."""


class JobFailed(LakehouseError):
    """A job of the pipeline raised; the message names the job and the reason."""


class ContractViolation(LakehouseError):
    """Data broke a rule whose action is `fail`, or a schema contract."""


class RunLocked(LakehouseError):
    """Another `lakehouse run` holds the lock on this root."""
