"""Small exception classes; only the CLI turns them into a message and an exit code."""


class FactoryError(Exception):
    """Base class: the message says what went wrong, why, and the fix."""


class ConfigError(FactoryError):
    """matrix.toml, a profile, or a data table is malformed."""


class PlanError(FactoryError):
    """The matrix cannot be expanded (unknown package, profile selects nothing, ...)."""
