"""Validating a dataset: counts, missing or unreadable images, coordinate ranges, flag polarities."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from blazepose.data.datasets import LSP_SIZE, READERS
from blazepose.data.images import load_image
from blazepose.data.lsp import load_joints_mat
from blazepose.errors import BlazePoseError

# Slack, in pixels, before an annotated joint counts as outside its image.
OUTSIDE_TOLERANCE = 2.0
# More than this share of the annotated joints outside their images is reported as a problem (wrong scale,
# swapped x and y, another image size): LSP has none, and a joint beyond the border is rare in any set.
OUTSIDE_SHARE = 0.05


@dataclass
class CheckReport:
    name: str
    folder: Path
    samples: int = 0
    valid: int = 0
    bad_images: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # reader problems (NaN coordinates...)
    joints_annotated: int = 0
    joints_total: int = 0
    joints_outside: int = 0
    flag_lines: list[str] = field(default_factory=list)  # what the flags mean and how they are spread
    warnings: list[str] = field(default_factory=list)  # suspicious things (e.g. a polarity that looks inverted)

    @property
    def ok(self) -> bool:
        return not self.bad_images and not self.problems and not self.warnings


def _flag_lines(name: str, folder: Path) -> tuple[list[str], list[str]]:
    """Describe the raw flags and sanity-check their polarity against the coordinates."""
    lines, warnings = [], []
    if name == "lsp":
        flags = load_joints_mat(folder / "joints.mat", "3x14xN")[2]
        occluded = float(np.mean(flags == 1))
        lines.append(f"row 3 = occluded (1) / visible (0): {occluded:.1%} of joints occluded")
        if occluded > 0.5:
            warnings.append(f"{occluded:.0%} of LSP joints flagged occluded: is the flag's polarity inverted?")
    elif name == "lspet":
        joints = load_joints_mat(folder / "joints.mat", "14x3xN")
        flags, xy = joints[:, 2], joints[:, :2]
        annotated = flags == 1
        off = ~annotated
        nonpos = (xy <= 0).any(axis=1)  # (14, N): a coordinate <= 0
        share_off = float(np.mean(nonpos[off])) if off.any() else float("nan")
        share_on = float(np.mean(nonpos[annotated])) if annotated.any() else float("nan")
        lines.append(
            f"column 3 = annotated (1) / not annotated (0, masked): {annotated.mean():.1%} annotated; "
            f"coordinates <= 0 in {share_off:.1%} of unannotated and {share_on:.1%} of annotated joints"
        )
        if share_on > share_off:
            warnings.append(
                "LSPet: annotated joints sit at <= 0 more often than unannotated ones: is the flag's polarity inverted?"
            )
    return lines, warnings


def check_dataset(name: str, folder: str | Path, workers: int = 4, progress: bool = True) -> CheckReport:
    """Read dataset `name` (a reader name) from `folder` and decode every image once; collect what is wrong."""
    folder = Path(folder)
    samples, problems = READERS[name](folder)
    report = CheckReport(name=name, folder=folder, samples=len(samples), problems=list(problems))
    if not samples:
        raise BlazePoseError(f"{folder}: no samples found")
    if name == "lsp" and len(samples) != LSP_SIZE:
        report.problems.append(
            f"LSP has {len(samples)} samples; the standard split (train, evaluate) needs {LSP_SIZE} "
            "and refuses this set"
        )
    report.flag_lines, report.warnings = _flag_lines(name, folder)

    def decode(path: str) -> tuple[int, int] | str:
        try:
            image, _ = load_image(path)
        except BlazePoseError as exc:
            return str(exc)
        return image.shape[1], image.shape[0]

    paths = sorted({s.image_path for s in samples})
    with ThreadPoolExecutor(workers) as pool:
        results = dict(
            zip(
                paths,
                tqdm(pool.map(decode, paths), total=len(paths), desc=f"check {name}", unit="img", disable=not progress),
                strict=True,
            )
        )
    report.bad_images = [r for r in results.values() if isinstance(r, str)]
    for s in samples:
        size = results[s.image_path]
        known = s.mask > 0
        report.joints_total += len(s.mask)
        report.joints_annotated += int(known.sum())
        if isinstance(size, str) or not known.any():
            continue
        report.valid += 1
        xy = s.keypoints[known]
        w, h = size
        outside = (xy[:, 0] < -OUTSIDE_TOLERANCE) | (xy[:, 1] < -OUTSIDE_TOLERANCE)
        outside |= (xy[:, 0] > w - 1 + OUTSIDE_TOLERANCE) | (xy[:, 1] > h - 1 + OUTSIDE_TOLERANCE)
        report.joints_outside += int(outside.sum())
    if report.joints_annotated and report.joints_outside > OUTSIDE_SHARE * report.joints_annotated:
        report.warnings.append(
            f"{report.joints_outside} of {report.joints_annotated} annotated joints lie outside their images "
            f"(over {OUTSIDE_SHARE:.0%}): wrong scale, x and y swapped, or images of another size?"
        )
    return report


def format_report(report: CheckReport) -> str:
    lines = [
        f"{report.name}: {report.folder}",
        f"  samples: {report.samples}, valid: {report.valid}, unreadable images: {len(report.bad_images)}",
        f"  annotated joints: {report.joints_annotated} of {report.joints_total}; "
        f"outside their image (> {OUTSIDE_TOLERANCE:g} px): {report.joints_outside}",
    ]
    lines += [f"  flags: {line}" for line in report.flag_lines]
    lines += [f"  bad image: {msg}" for msg in report.bad_images[:20]]
    if len(report.bad_images) > 20:
        lines.append(f"  ... and {len(report.bad_images) - 20} more bad images")
    lines += [f"  problem: {msg}" for msg in report.problems[:20]]
    lines += [f"  WARNING: {msg}" for msg in report.warnings]
    lines.append("  OK" if report.ok else "  NOT OK")
    return "\n".join(lines)
