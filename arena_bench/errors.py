"""One exception hierarchy for everything a user can get wrong.

The command line catches :class:`ArenaBenchError` alone and prints its message without a
traceback; anything else is a bug and keeps its traceback. Each message names the file,
line or field at fault and says what to do next. The subclasses also derive from the
built-in they replace, so code that caught ``ValueError`` or ``KeyError`` keeps working.
"""

from __future__ import annotations


class ArenaBenchError(Exception):
    """Base of every error meant for the user."""


class ConfigError(ArenaBenchError, ValueError):
    """A setting or command-line option that cannot work (names the option)."""


class ScenarioError(ArenaBenchError, ValueError):
    """A scenario breaks the rules of SPEC section 1 (names the field)."""


class TaskSetError(ArenaBenchError, ValueError):
    """A task set is missing, altered or malformed (names the file and line)."""


class GeniusError(ArenaBenchError, ValueError):
    """A GENIUS/ANAC XML file that cannot be imported (names the file and element)."""


class UnknownPlayer(ArenaBenchError, KeyError):
    """A player spec, panel or provider that is not registered ("did you mean")."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0]) if self.args else ""


class MissingExtra(ArenaBenchError, ImportError):
    """An optional dependency is not installed; the message names the pip command."""


class PolicyError(ArenaBenchError, ValueError):
    """A policy file that is missing or of another features version."""


class ResultsError(ArenaBenchError, ValueError):
    """A results file or game record that is missing or malformed (names the file and line)."""


class RunError(ArenaBenchError, RuntimeError):
    """A run that cannot start or continue as asked."""


class StopRun(RunError):
    """A run must stop now, every game with it; what is stored stays and ``--resume`` continues."""


class BackendUnavailable(StopRun):
    """No call to a model has ever succeeded (server unreachable, bad key): the run stops at once
    instead of spending every game's retries."""


class StoreLost(StopRun):
    """The games file cannot be kept as written: replaced or truncated under the run, or the disk
    is full. The run stops at once; ``--resume`` continues from what is on disk."""


class BudgetExhausted(StopRun):
    """The next call could take the run's spend past ``--budget-usd``."""


class SubmitError(ArenaBenchError, RuntimeError):
    """A submission that cannot be made (no token, Hub refused it)."""
