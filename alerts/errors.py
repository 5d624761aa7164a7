"""The alerts and cases exception hierarchy."""


class YuqingError(Exception):
    """Base of the errors this package raises on purpose."""


class ConfigError(YuqingError):
    """A configuration file is missing or invalid; the message names file and field."""


class RuleError(YuqingError):
    """A rule failed while evaluating; the engine disables it and reports."""


class CaseError(YuqingError):
    """A case action is not allowed (closing without a response, say)."""
