"""The one exception class for a user's mistakes.

A `UserError` says what was wrong and what to do; the CLI prints its message on one line (exit 2)
and the app shows it as a toast. Anything else is a bug: the CLI shows its traceback (exit 1) and
the app logs it and says so. It subclasses ValueError, so callers that catch ValueError keep
working. Errors of other libraries (huggingface_hub, datasets, pyarrow) are caught where we call
them and re-raised as a UserError with what to do.
"""


class UserError(ValueError):
    """A mistake the user can fix: a bad setting, a missing file, a corpus that cannot train."""


__all__ = ["UserError"]
