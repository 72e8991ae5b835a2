"""TensorFlow imported once, without its start-up lines (the training part's first import)."""

from __future__ import annotations

import os
import sys

from blazepose._quiet import native_stderr_silenced


def import_tensorflow() -> None:
    """Import TensorFlow once, without its start-up lines. The packages that use TensorFlow or Keras
    (blazepose.models, blazepose.training) call this first, as does anything that imports them lazily."""
    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_silenced():
        import tensorflow  # noqa: F401
