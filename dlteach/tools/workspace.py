"""The learner's workspace: their own copies of the lessons, never overwritten.

``notebooks/`` belongs to the course (``dlteach generate`` writes it, the tests check
it), so a learner works in a folder of their own, ``workspace/`` in the course folder
by default (ignored by git). ``dlteach open`` fills it:

- on first open it copies every learner notebook (and the start page) in;
- later it adds the lessons that are new since, and never overwrites a notebook that
  exists there, whatever it holds;
- when the course has a newer version of a notebook the learner already has (a
  ``git pull`` brought a corrected lesson), it says so, and leaves their copy alone.

Which version a copy came from is the fingerprint ``generate`` stamps into every
learner notebook's metadata (``metadata["dlteach"]["generated_sha256"]``), which the
copy keeps and JupyterLab preserves when it saves. Whether the learner has worked in it
is whether its cells still have that fingerprint.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from dlteach.tools.catalog import NOTEBOOKS_DIR, SOLUTIONS_DIR, CourseError
from dlteach.tools.learner import FINGERPRINT_KEY, METADATA_KEY, cells_fingerprint

DEFAULT_WORKSPACE = "workspace"
ENV_VARIABLE = "DLTEACH_WORKSPACE"

UP_TO_DATE, NEWER, NOT_COPIED, UNREADABLE = (
    "up to date", "newer version in the course", "not copied yet", "unreadable")


@dataclass(frozen=True)
class NotebookState:
    """One course notebook as the learner's workspace holds it.

    state: "up to date", "newer version in the course", "not copied yet" or "unreadable".
    worked: the learner's copy differs from the version it was copied from.
    """

    name: str
    state: str
    worked: bool = False


@dataclass
class SyncResult:
    """What :func:`sync_workspace` did: the workspace, the files it copied, the states."""

    workspace: Path
    copied: list[str] = field(default_factory=list)
    states: list[NotebookState] = field(default_factory=list)

    @property
    def newer(self) -> list[NotebookState]:
        return [s for s in self.states if s.state == NEWER]


def resolve_workspace(course: Path, workspace: str | os.PathLike | None = None) -> Path:
    """The workspace folder: ``workspace`` (relative to the current directory), else
    ``$DLTEACH_WORKSPACE``, else ``<course>/workspace``. It must lie outside the
    course's ``notebooks/`` and ``solutions/`` and must not be the course folder itself.
    """
    if workspace is None:
        workspace = os.environ.get(ENV_VARIABLE) or course / DEFAULT_WORKSPACE
    folder = Path(workspace).expanduser().resolve()
    course = course.resolve()
    if folder == course:
        raise CourseError(f"the workspace {folder} is the course folder itself; choose a "
                          f"folder of its own, such as {course / DEFAULT_WORKSPACE}.")
    for reserved in (NOTEBOOKS_DIR, SOLUTIONS_DIR):
        owned = course / reserved
        if folder == owned or owned in folder.parents or folder in owned.parents:
            raise CourseError(
                f"the workspace {folder} overlaps the course's {reserved}/ folder, which "
                f"the course tools rewrite; choose a folder outside it, such as "
                f"{course / DEFAULT_WORKSPACE}.")
    if folder.exists() and not folder.is_dir():
        raise CourseError(f"the workspace {folder} exists and is not a folder.")
    return folder


def _course_notebooks(course: Path) -> list[Path]:
    folder = course / NOTEBOOKS_DIR
    if not folder.is_dir():
        raise CourseError(f"{folder} does not exist: run 'dlteach generate' first.")
    # Backups that `generate --force` leaves beside a notebook are not lessons.
    return sorted(p for p in folder.glob("*.ipynb") if ".backup-" not in p.name)


def _stamp(nb) -> str | None:
    return nb.metadata.get(METADATA_KEY, {}).get(FINGERPRINT_KEY)


def _copy_new(source: Path, target: Path) -> bool:
    """Copy ``source`` to ``target`` unless ``target`` exists (even if it appears meanwhile)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        shutil.copyfile(source, tmp)
        try:
            os.link(tmp, target)  # fails if target exists: never clobber the learner's file
        except FileExistsError:
            return False
        except OSError:  # file systems without hard links
            if target.exists():
                return False
            os.replace(tmp, target)
        return True
    finally:
        Path(tmp).unlink(missing_ok=True)


def notebook_state(course_file: Path, copy: Path) -> NotebookState:
    """How the learner's ``copy`` of ``course_file`` stands (see :class:`NotebookState`)."""
    if not copy.exists():
        return NotebookState(copy.name, NOT_COPIED)
    try:
        mine = nbformat.read(copy, as_version=4)
    except Exception:  # a file the learner broke is still theirs: report, never touch
        return NotebookState(copy.name, UNREADABLE, worked=True)
    course_nb = nbformat.read(course_file, as_version=4)
    copied_from = _stamp(mine)
    worked = copied_from is None or cells_fingerprint(mine) != copied_from
    latest = _stamp(course_nb) or cells_fingerprint(course_nb)
    return NotebookState(copy.name, UP_TO_DATE if copied_from == latest else NEWER, worked)


def workspace_status(course: Path, workspace: Path) -> list[NotebookState]:
    """The state of every course notebook in the workspace, in course order."""
    return [notebook_state(p, workspace / p.name) for p in _course_notebooks(course)]


def sync_workspace(course: Path, workspace: Path) -> SyncResult:
    """Copy into ``workspace`` every course notebook it does not hold yet; touch nothing else."""
    workspace.mkdir(parents=True, exist_ok=True)
    result = SyncResult(workspace)
    for source in _course_notebooks(course):
        if not (workspace / source.name).exists() and _copy_new(source, workspace / source.name):
            result.copied.append(source.name)
    result.states = workspace_status(course, workspace)
    return result


def update_advice(state: NotebookState) -> str:
    """One line telling the learner what a newer version means for them."""
    stem = Path(state.name).stem
    if state.worked:
        return (f"{state.name}: the course has a newer version; your copy (with your work) is "
                f"kept. To get the new one, rename yours (e.g. {stem}-mine.ipynb) and run "
                "'dlteach open' again.")
    return (f"{state.name}: the course has a newer version; you have not changed your copy, "
            "so you can delete it and run 'dlteach open' again to get the new one.")
