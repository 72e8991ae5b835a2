"""The one exception type for user mistakes (bad file, bad config, bad argument).

The CLI prints its message and exits with status 2, without a traceback. Anything else is a bug and keeps
its traceback.
"""


class BlazePoseError(Exception):
    """A problem the user can fix: the message says which file or value, what is wrong, what was expected."""
