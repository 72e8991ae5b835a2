"""Native libraries' start-up lines kept out of normal output: LiteRT's "Created TensorFlow Lite XNNPACK
delegate", TensorFlow's absl and oneDNN lines. Errors still come back as Python exceptions."""

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


def import_tensorflow() -> None:
    """Import TensorFlow once, without its start-up lines. The packages that use TensorFlow or Keras
    (blazepose.models, blazepose.training) call this first, as does anything that imports them lazily."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_silenced():
        import tensorflow  # noqa: F401
