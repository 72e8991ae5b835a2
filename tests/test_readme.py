"""The README stays true: short, free of work-log words, and every example in it parses (its dry form) with the
files it names present; the Python example runs."""

from __future__ import annotations

import re
import shlex

import pytest

from blazepose.cli import build_parser
from tests.conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def commands() -> list[list[str]]:
    out = []
    for block in blocks("bash"):
        for line in block.splitlines():
            words = shlex.split(line.split(" # ")[0].split("&&")[-1])
            if words and words[0].endswith("blazepose"):
                out.append(words[1:])
    return out


def test_readme_is_for_users():
    assert len(README.encode()) <= 15_000
    assert not re.search(r"\bsessions?\b", README, flags=re.I)
    assert "docs/figures/predictions.png" in README and (REPO / "docs" / "figures" / "predictions.png").is_file()


@pytest.mark.parametrize("args", commands(), ids=lambda a: " ".join(a[:2]))
def test_every_readme_command_parses_and_names_files_that_exist(args):
    parsed = build_parser().parse_args(args)
    assert hasattr(parsed, "func")
    for value in vars(parsed).values():
        if isinstance(value, str) and value.startswith("configs/"):
            assert (REPO / value).is_file(), value


def test_the_readme_python_example_runs(data_root, monkeypatch, capsys):
    (code,) = blocks("python")
    monkeypatch.chdir(REPO)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed and all(line.endswith("(33, 2)") for line in printed)  # the default: MediaPipe's 33
