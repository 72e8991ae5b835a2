"""The one exception type for user mistakes (bad file, bad config, bad argument), and a JSON reader using it.

The CLI prints its message and exits with status 2, without a traceback. Anything else is a bug and keeps
its traceback.
"""


class BlazePoseError(Exception):
    """A problem the user can fix: the message says which file or value, what is wrong, what was expected."""


def read_json(path, what: str):
    """Parse the JSON file at `path`; `what` says what it should be, for the error messages."""
    import json
    from pathlib import Path

    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BlazePoseError(f"{path} does not exist (expected {what})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BlazePoseError(f"{path} is not valid JSON (expected {what}): {exc}") from None
