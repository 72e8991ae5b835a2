"""Native libraries' start-up lines kept out of normal output: LiteRT's "Created TensorFlow Lite XNNPACK
delegate", TensorFlow's absl and oneDNN lines (``_tensorflow.import_tensorflow``). Errors still come back as
Python exceptions."""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def native_stderr_silenced():
    """Send what native code writes to file descriptor 2 to /dev/null for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
