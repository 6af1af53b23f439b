"""Listing the raw folder: one entry that cannot be listed is a quarantined row, never the run's end;
the raw folder itself out of reach fails the run; the archive may not overlap the raw folder."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

import tasks.discover
from tasks.core.folders import RawFolderError, is_transient, overlap_problem
from tasks.discover import list_capture_paths, new_captures
from tasks.write import read_archive
from tests.helpers import SEED_NAMES, newsarchive, without_root_read

OTHER = "A council in the harbor town voted on Monday to rebuild the old river bridge before winter.\n"


@pytest.fixture
def locked(raw: Path) -> Iterator[Path]:
    """A sub-folder of mode 000 holding a capture, opened again afterwards (for the clean-up)."""
    folder = raw / "secretdir"
    folder.mkdir()
    (folder / "story.txt").write_text(OTHER, encoding="utf-8")
    folder.chmod(0)
    yield folder
    folder.chmod(0o755)


def deep_tree(raw: Path) -> str:
    """Folders of 200-letter names nested past the system's path limit, a capture at the bottom; the uri of
    the first folder the listing cannot open (made through folder descriptors: no path that long opens)."""
    names: list[str] = []
    fd = os.open(raw, os.O_RDONLY | os.O_DIRECTORY)
    try:
        # PATH_MAX counts the closing NUL: a path of exactly that many characters is already too long.
        while len(str(raw)) + sum(len(n) + 1 for n in names) < os.pathconf(raw, "PC_PATH_MAX"):
            names.append(chr(ord("a") + len(names) % 26) * 200)
            os.mkdir(names[-1], dir_fd=fd)
            fd, parent = os.open(names[-1], os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd), fd
            os.close(parent)
        with os.fdopen(os.open("story.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd), "w") as handle:
            handle.write(OTHER)
    finally:
        os.close(fd)
    return "/".join(names)


def archived(out: Path) -> dict[str, tuple[str, str | None]]:
    """uri -> (status, error) of every `sources` row."""
    rows = read_archive(out)["sources"].select("uri", "status", "error").rows()
    return {uri: (status, error) for uri, status, error in rows}


@pytest.mark.slow
def test_an_unreadable_sub_folder_is_quarantined_and_every_other_capture_archived(
    raw: Path, locked: Path, tmp_path: Path
) -> None:
    """Through the real command, as a user who may not read the folder (on main: exit 1, nothing archived)."""
    prefix = without_root_read(tmp_path)
    out = tmp_path / "out"
    done = newsarchive("run", "--raw-dir", str(raw), "--out-dir", str(out), home=tmp_path / "home", prefix=prefix)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "quarantined: 1" in done.stdout
    assert archived(out) == {
        f"{SEED_NAMES[0]}.txt": ("archived", None),
        f"{SEED_NAMES[1]}.txt": ("archived", None),
        "secretdir": ("quarantined", "no permission to list the folder"),
    }


@pytest.mark.slow
def test_a_path_longer_than_the_system_allows_is_quarantined_and_every_other_capture_archived(
    raw: Path, tmp_path: Path
) -> None:
    """Through the real command (on main: exit 1, `[Errno 36] File name too long`, nothing archived)."""
    too_long = deep_tree(raw)
    out = tmp_path / "out"
    done = newsarchive("run", "--raw-dir", str(raw), "--out-dir", str(out), home=tmp_path / "home")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "quarantined: 1" in done.stdout
    rows = archived(out)
    assert rows.pop(too_long) == ("quarantined", tasks.discover._TOO_LONG)
    assert rows == {f"{name}.txt": ("archived", None) for name in SEED_NAMES}
    shutil.rmtree(raw)  # by folder descriptors, whatever the depth (pytest's clean-up would also)


def test_a_folder_that_disappears_while_the_raw_folder_is_listed_is_a_quarantined_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The folder is really removed, right after its parent listed it and before it is opened itself."""
    (tmp_path / "kept.txt").write_text(OTHER, encoding="utf-8")
    (tmp_path / "gone").mkdir()
    (tmp_path / "gone" / "story.txt").write_text(OTHER, encoding="utf-8")
    scandir = os.scandir

    def remove_before_opening(path: Any) -> Any:
        if isinstance(path, str | os.PathLike) and Path(path).name == "gone":  # not rmtree's own calls (by fd)
            shutil.rmtree(path)
        return scandir(path)

    monkeypatch.setattr(os, "scandir", remove_before_opening)
    listed = list_capture_paths(tmp_path)
    monkeypatch.undo()
    assert [(uri, problem) for uri, _, problem in listed] == [
        ("gone", "the folder disappeared while it was being listed"),
        ("kept.txt", None),
    ]


def test_a_raw_folder_that_cannot_be_listed_ends_the_listing_with_a_permanent_error(tmp_path: Path) -> None:
    with pytest.raises(RawFolderError, match="cannot be listed: No such file or directory") as raised:
        new_captures(tmp_path / "missing", {})
    assert not is_transient(raised.value)  # the discover task does not retry it (tests/test_storage_retries.py)
    assert is_transient(OSError(errno.EIO, "Input/output error"))  # a mount's hiccup is
    (tmp_path / "file").write_text(OTHER, encoding="utf-8")
    with pytest.raises(RawFolderError, match="Not a directory"):
        list_capture_paths(tmp_path / "file")


@pytest.mark.parametrize(
    ("raw", "out", "words"),
    [
        ("/srv/raw", "/srv/raw", "are the same folder"),
        ("/srv/raw", "/srv/raw/archive", "the archive lies inside the raw directory"),
        ("/srv/raw", "/srv/raw/.hidden/archive", "the archive lies inside the raw directory"),
        ("/srv/raw", "/srv", "the raw directory lies inside the archive"),
        ("/srv/raw", "/srv/raw-archive", None),  # a sibling whose name starts alike
        ("/srv/raw", "/srv/archive", None),
    ],
)
def test_the_archive_folder_may_not_be_the_raw_folder_inside_it_or_hold_it(
    raw: str, out: str, words: str | None
) -> None:
    problem = overlap_problem(PurePosixPath(raw), PurePosixPath(out))
    if words is None:
        assert problem is None
    else:
        assert problem is not None
        assert words in problem
        assert f"'{raw}'" in problem
        assert f"'{out}'" in problem


@pytest.mark.parametrize("where", ["the raw folder", "inside it", "holding it", "a link to it"])
def test_the_command_refuses_an_archive_folder_overlapping_the_raw_folder_before_anything_starts(
    raw: Path, tmp_path: Path, where: str
) -> None:
    """Exit 2 (a usage error) naming both folders, and nothing written (on main: the run read its own files)."""
    out = {
        "the raw folder": raw, "inside it": raw / "archive", "holding it": tmp_path, "a link to it": tmp_path / "link",
    }[where]  # fmt: skip
    if where == "a link to it":
        out.symlink_to(raw)
    before = sorted(tmp_path.rglob("*"))
    done = newsarchive("run", "--raw-dir", str(raw), "--out-dir", str(out), home=tmp_path / "home", timeout=60)
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-3000:]
    assert f"'{raw.resolve()}'" in done.stderr
    assert f"'{out.resolve()}'" in done.stderr
    assert sorted(tmp_path.rglob("*")) == before  # no archive, no lock, no Prefect home


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_the_flow_refuses_an_archive_folder_inside_the_raw_folder_before_anything_starts(raw: Path) -> None:
    """A deployment's run fails with the reason, naming both folders, and writes nothing."""
    from flows.archive import archive

    with pytest.raises(ValueError, match="lies inside the raw directory") as raised:
        archive(raw_dir=str(raw), out_dir=str(raw / "archive"))
    assert f"'{raw.resolve()}'" in str(raised.value)
    assert f"'{raw.resolve() / 'archive'}'" in str(raised.value)
    assert sorted(p.name for p in raw.iterdir()) == sorted(f"{name}.txt" for name in SEED_NAMES)
