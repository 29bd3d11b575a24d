"""The one exception root of Exodus.

Every package raises a subclass of :class:`ExodusError`; the CLI turns any of them into a
one-line message and exit code 2 ("could not run"). Anything else is a bug and keeps its
traceback.

Only a :class:`Retryable` error is retried: a handler reports the messages it touched in
``batchItemFailures`` so they are redelivered, and a poller backs off and polls again. Every
other error is final -- a caller bug or a bad setting -- and retrying it would only hide it
behind a redelivery loop, so it propagates (on Lambda, a raised exception fails the batch).
"""

from __future__ import annotations


class ExodusError(Exception):
    """Root of every error Exodus raises on purpose."""


class ConfigError(ExodusError):
    """A setting, flag or file is wrong; the message names which and why."""


class StateDirError(ExodusError):
    """A state dir is missing, locked by another stack, or not a stack's."""


class Retryable(ExodusError):
    """A transient failure of a queue or store: the same call may succeed later."""


class QueueUnavailable(Retryable):
    """The queue could not take or give messages right now: a transient, retryable failure.

    ``code`` mirrors what AWS would say (ThrottlingException, InternalError, ...), so an
    injected fault and a real one look alike to the handlers.
    """

    def __init__(self, message: str, code: str = "ServiceUnavailable") -> None:
        super().__init__(message)
        self.code = code


class InvalidMessageContents(ExodusError):
    """A message body SQS would refuse (not valid UTF-8): a caller bug, never retried."""


class StoreUnavailable(Retryable):
    """The wish store could not complete a write or read right now: transient, retryable."""

    def __init__(self, message: str, code: str = "ServiceUnavailable") -> None:
        super().__init__(message)
        self.code = code


class InvalidWish(ExodusError):
    """A wish breaks the contract. ``field`` names the offending field for the 4xx body."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(f"{field}: {detail}")
        self.field = field
        self.detail = detail
