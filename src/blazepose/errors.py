"""The one exception type for user mistakes (bad file, bad config, bad argument), and a JSON reader using it.

The CLI prints its message and exits with status 2, without a traceback. Anything else is a bug and keeps
its traceback.
"""


class BlazePoseError(Exception):
    """A problem the user can fix: the message says which file or value, what is wrong, what was expected."""


class Terminated(BaseException):
    """SIGTERM, raised in the main thread so that every `finally` runs (locks released, temporary files
    removed) before the command ends."""


_TERMINATING: list[bool] = []


def terminate(signum, frame):
    """The CLI's SIGTERM handler: remember it, then raise ``Terminated`` where the main thread is."""
    _TERMINATING.append(True)
    raise Terminated()


def check_terminated() -> None:
    """Raise ``Terminated`` again if SIGTERM arrived: Python runs a signal handler wherever the main thread is,
    and where that is a finalizer (``__del__``: TensorFlow's traced functions have them) the exception is
    printed and dropped, and the command would go on (measured: a training worker trained to the end). Long
    loops call this once per step or batch."""
    if _TERMINATING:
        raise Terminated()


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


# Packages that the runtime install (pip install blazepose) leaves out: the extra that brings each, and what
# needs it.
TRAINING_PACKAGES = {
    "tensorflow": ("cpu", "training, export and Keras models"),
    "keras": ("cpu", "training, export and Keras models"),
    "tensorboard": ("cpu", "training"),
    "matplotlib": ("cpu", "training curves"),
    "tf2onnx": ("export", "ONNX export"),
    "onnx": ("export", "ONNX export"),
    "onnxruntime": ("export", "ONNX models"),
}


def missing_package_message(name: str) -> str | None:
    """What to say when importing the top-level package `name` failed, or None when it is not one that an
    install of this toolkit may leave out (a bug, not the user's set-up)."""
    if name not in TRAINING_PACKAGES:
        return None
    extra, what = TRAINING_PACKAGES[name]
    gpu = " (with an NVIDIA GPU: [gpu] instead of [cpu])" if extra == "cpu" else ""
    return (
        f"{name} is not installed (needed for {what}); the runtime install (pip install blazepose) runs .tflite "
        f"models only: pip install 'blazepose[{extra}]', or in a checkout of the source pip install -e '.[{extra}]'"
        f"{gpu}"
    )


def require(module: str, package: str):
    """Import an optional dependency, or say which package (and extra) to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        message = missing_package_message(package)
        raise BlazePoseError(message or f"{package} is not installed: pip install {package}") from None
