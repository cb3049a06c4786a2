"""The one exception class for a user's mistakes.

A `UserError` says what was wrong and what to do; the CLI prints its message on one line (exit 2)
and the app shows it as a toast. Anything else is a bug: the CLI shows its traceback (exit 1) and
the app logs it and says so. It subclasses ValueError, so callers that catch ValueError keep
working. Errors of other libraries (huggingface_hub, datasets, pyarrow) are caught where we call
them and re-raised as a UserError with what to do.
"""


class UserError(ValueError):
    """A mistake the user can fix: a bad setting, a missing file, a corpus that cannot train."""


def first_line(error: BaseException, limit: int = 200) -> str:
    """What a UserError quotes of another library's error: its first line, cut at `limit` characters."""
    return str(error).split("\n")[0][:limit]


__all__ = ["UserError", "first_line"]
