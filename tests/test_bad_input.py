"""Bad captures beside the good seeds, through the real flow: each is archived or quarantined
with a reason a person understands, and the seeds are archived exactly as without it."""

from __future__ import annotations

import codecs
import hashlib
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

import tasks.discover
from tasks.core.schema import TABLES
from tasks.decode import decode_batch, read_all
from tasks.discover import hash_capture, list_capture_paths, new_captures
from tasks.write import read_archive
from tests.helpers import REPO, SEED_NAMES, SEEDS, WITHOUT_ROOT_READ

pytestmark = pytest.mark.slow
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
OTHER = "A council in the harbor town voted on Monday to rebuild the old river bridge before winter.\n"


def write(name: str, data: bytes) -> Callable[[Path], None]:
    return lambda raw: (raw / name).write_bytes(data)


def looping_link(raw: Path) -> None:
    (raw / "loop-a.txt").symlink_to(raw / "loop-b.txt")
    (raw / "loop-b.txt").symlink_to(raw / "loop-a.txt")


def link_outside(raw: Path) -> None:
    outside = raw.parent / "outside.txt"
    outside.write_text(OTHER, encoding="utf-8")
    (raw / "escape.txt").symlink_to(outside)


def directory_named_like_a_capture(raw: Path) -> None:
    (raw / "003_0123456789abcdef.txt").mkdir()


def linked_folder_outside(raw: Path) -> None:
    outside = raw.parent / "elsewhere"
    outside.mkdir()
    (outside / "story.txt").write_text(OTHER, encoding="utf-8")
    (raw / "more").symlink_to(outside)


def named_pipe(raw: Path) -> None:
    os.mkfifo(raw / "pipe.txt")
    release_a_blocked_reader(raw / "pipe.txt")


def link_to_a_named_pipe(raw: Path) -> None:
    """The pipe in a hidden folder (not listed itself), the link beside the seeds."""
    (raw / ".pipes").mkdir()
    os.mkfifo(raw / ".pipes" / "pipe")
    (raw / "piped.txt").symlink_to(raw / ".pipes" / "pipe")
    release_a_blocked_reader(raw / ".pipes" / "pipe")


def release_a_blocked_reader(fifo: Path, data: bytes = b"", *, after: float = 30.0) -> None:
    """If something blocks opening the pipe to read it, a writer comes after `after` seconds, writes
    `data` and goes: the test then fails on what was read instead of hanging."""

    def release() -> None:
        time.sleep(after)
        for _ in range(300):
            try:  # fails (ENXIO) while no reader waits
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.1)
                continue
            os.set_blocking(fd, True)  # the reader takes data larger than the pipe's buffer
            os.write(fd, data)
            os.close(fd)
            return

    threading.Thread(target=release, daemon=True).start()


def unix_socket(raw: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(raw / "socket.txt"))  # the name stays when the socket is closed
    server.close()


def character_device(raw: Path) -> None:
    try:  # the kernel's null device: reads end at once, so only the check can tell it is no capture
        os.mknod(raw / "device.txt", stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("making a device node needs root")


def name_not_utf8(raw: Path) -> None:
    """A name written in Latin-1, as an old scraper might: b'caf\\xe9 news.txt'."""
    (raw / os.fsdecode(b"caf\xe9 news.txt")).write_text(OTHER, encoding="utf-8")


# name: (make the bad capture in raw, its uri, expected status, words its error must hold)
CASES: dict[str, tuple[Callable[[Path], None], str | None, str | None, str]] = {
    "empty file": (write("empty.txt", b""), "empty.txt", "quarantined", "empty"),
    "white space only": (write("blank.txt", b" \n\t\r\n  \n"), "blank.txt", "quarantined", "only white space"),
    "binary data (PNG)": (write("image.txt", PNG), "image.txt", "quarantined", "binary"),
    "NUL bytes in text": (write("nul.txt", OTHER.replace("town", "to\x00wn").encode()), "nul.txt", "archived", ""),
    "invalid UTF-8": (write("bad-utf8.txt", "caf\u00e9 \u2019".encode() + b"\xff\xfe\x80 " + OTHER.encode()),
                      "bad-utf8.txt", "archived", ""),
    "UTF-16 with BOM": (write("utf16.txt", OTHER.encode("utf-16")), "utf16.txt", "archived", ""),
    "Windows-1252": (write("cp1252.txt", ("\u201c" + OTHER + "\u201d").encode("cp1252")), "cp1252.txt", "archived", ""),
    "a 50 MB capture": (write("huge.txt", (OTHER * 560_000).encode()), "huge.txt", "quarantined",
                        "larger than the limit"),
    "a single line of 5 MB": (write("one-line.txt", b"word " * 1_000_000), "one-line.txt", "quarantined",
                              "longer than the limit"),
    "a symbolic link that loops": (looping_link, "loop-a.txt", "quarantined", "symbolic link loop"),
    "a link out of the raw directory": (link_outside, "escape.txt", "quarantined", "outside the raw directory"),
    "names with spaces and non-ASCII letters": (write("Zürich news – day 1.txt", OTHER.encode()),
                                                "Zürich news – day 1.txt", "archived", ""),
    "a directory named like a capture": (directory_named_like_a_capture, None, None, ""),
    "a linked folder out of the raw directory": (linked_folder_outside, "more", "quarantined",
                                                 "outside the raw directory"),
    "a named pipe": (named_pipe, "pipe.txt", "quarantined", "not a regular file (a named pipe)"),
    "a link to a named pipe": (link_to_a_named_pipe, "piped.txt", "quarantined",
                               "symbolic link to a named pipe; not followed"),
    "a socket": (unix_socket, "socket.txt", "quarantined", "not a regular file (a socket)"),
    "a character device": (character_device, "device.txt", "quarantined", "not a regular file (a character device)"),
    "a name that is not UTF-8": (name_not_utf8, "caf\\xe9 news.txt", "quarantined", "not valid UTF-8"),
}  # fmt: skip


def seeds_into(raw: Path) -> None:
    for name in SEED_NAMES:
        shutil.copy(SEEDS / f"{name}.txt", raw / f"{name}.txt")


def seed_tables(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """The rows that come from the seeds, without times."""
    seed_uris = [f"{n}.txt" for n in SEED_NAMES]
    sources = tables["sources"].filter(pl.col("uri").is_in(seed_uris))
    articles = list(set(sources["article_id"]))
    out = {"sources": sources.drop("ingested_at", "modified_at")}
    for table in TABLES:
        if table not in ("sources", "authors"):
            frame = tables[table].filter(pl.col("article_id").is_in(articles))
            out[table] = frame.drop("first_seen_at", "last_seen_at", strict=False)
    authors = out["articles"]["author_id"].drop_nulls().to_list()
    out["authors"] = tables["authors"].filter(pl.col("author_id").is_in(authors))
    return out


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory, prefect_harness: None) -> dict[str, pl.DataFrame]:
    from flows.archive import archive

    raw = tmp_path_factory.mktemp("raw")
    seeds_into(raw)
    out = tmp_path_factory.mktemp("out")
    archive(raw_dir=str(raw), out_dir=str(out))
    return seed_tables(read_archive(out))


@pytest.mark.parametrize("case", list(CASES))
def test_bad_capture_beside_the_seeds(tmp_path: Path, case: str, baseline: dict[str, pl.DataFrame]) -> None:
    from flows.archive import archive

    make, uri, status, words = CASES[case]
    raw = tmp_path / "raw"
    raw.mkdir()
    seeds_into(raw)
    make(raw)
    summary = archive(raw_dir=str(raw), out_dir=str(tmp_path / "out"))
    tables = read_archive(tmp_path / "out")
    for table, frame in seed_tables(tables).items():
        assert_frame_equal(frame, baseline[table])
    if uri is None:
        assert sorted(tables["sources"]["uri"]) == sorted(f"{n}.txt" for n in SEED_NAMES)
        return
    row = tables["sources"].filter(pl.col("uri") == uri).row(0, named=True)
    assert row["status"] == status, row
    if status == "quarantined":
        assert words in row["error"]
        assert row["article_id"] is None
        assert summary["quarantined"] == (tables["sources"]["status"] == "quarantined").sum() >= 1
    else:
        assert row["error"] is None
        assert tables["articles"].filter(pl.col("article_id") == row["article_id"]).height == 1


def test_a_capture_removed_between_listing_and_reading(tmp_path: Path) -> None:
    (tmp_path / "gone.txt").write_text(OTHER, encoding="utf-8")
    listed = list_capture_paths(tmp_path)
    (tmp_path / "gone.txt").unlink()
    raw = [hash_capture(uri, path, problem) for uri, path, problem in listed]
    assert raw[0].error == "the file disappeared between listing and reading"
    assert decode_batch(raw).quarantined == {"gone.txt": "the file disappeared between listing and reading"}


def test_a_capture_listed_unread_and_removed_before_decoding(tmp_path: Path) -> None:
    """A new file is read first by decoding (listing only names it)."""
    (tmp_path / "gone.txt").write_text(OTHER, encoding="utf-8")
    (tmp_path / "kept.txt").write_text(OTHER + "\n", encoding="utf-8")
    listed, _ = new_captures(tmp_path, {})
    assert [(r.uri, r.unread) for r in listed] == [("gone.txt", True), ("kept.txt", True)]
    (tmp_path / "gone.txt").unlink()
    raw, batch = read_all(listed)
    assert batch.quarantined == {"gone.txt": "the file disappeared between listing and reading"}
    assert [c.uri for c in batch.captures] == ["kept.txt"]
    assert raw[0].error == "the file disappeared between listing and reading"
    assert raw[1].sha256 == hashlib.sha256((OTHER + "\n").encode()).hexdigest()
    assert raw[1].size_bytes == len((OTHER + "\n").encode())


def test_a_capture_removed_between_listing_and_reading_by_the_flow(
    tmp_path: Path, baseline: dict[str, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real flow; the file goes right after the discover stage lists it (in this process)."""
    from flows.archive import archive

    raw = tmp_path / "raw"
    raw.mkdir()
    seeds_into(raw)
    (raw / "gone.txt").write_text(OTHER, encoding="utf-8")
    list_paths = tasks.discover.list_capture_paths

    def list_then_remove(raw_dir: Path) -> list[tuple[str, str, str | None]]:
        listed = list_paths(raw_dir)
        (raw / "gone.txt").unlink()
        return listed

    monkeypatch.setattr(tasks.discover, "list_capture_paths", list_then_remove)
    summary = archive(raw_dir=str(raw), out_dir=str(tmp_path / "out"))
    tables = read_archive(tmp_path / "out")
    row = tables["sources"].filter(pl.col("uri") == "gone.txt").row(0, named=True)
    assert (row["status"], row["error"], row["article_id"]) == (
        "quarantined", "the file disappeared between listing and reading", None
    )  # fmt: skip
    assert summary["quarantined"] == 1
    for table, frame in seed_tables(tables).items():
        assert_frame_equal(frame, baseline[table])


def test_a_capture_removed_between_hashing_and_decoding(tmp_path: Path) -> None:
    (tmp_path / "gone.txt").write_text(OTHER, encoding="utf-8")
    raw = [hash_capture(uri, path, problem) for uri, path, problem in list_capture_paths(tmp_path)]
    (tmp_path / "gone.txt").unlink()
    assert "cannot read the file" in decode_batch(raw).quarantined["gone.txt"]


def pipe_in_place(path: Path) -> None:
    """The file replaced by a named pipe; a reader that blocks on it would be fed the file's bytes."""
    data = path.read_bytes()
    path.unlink()
    os.mkfifo(path)
    release_a_blocked_reader(path, data)


def test_a_capture_replaced_by_a_named_pipe_after_listing(tmp_path: Path) -> None:
    """Listed as a file, a pipe when decoding opens it: quarantined at once, not waited on."""
    (tmp_path / "piped.txt").write_text(OTHER, encoding="utf-8")
    listed, _ = new_captures(tmp_path, {})
    pipe_in_place(tmp_path / "piped.txt")
    assert read_all(listed)[1].quarantined == {"piped.txt": "not a regular file (a named pipe)"}


def test_a_capture_hashed_at_listing_then_replaced_by_a_named_pipe(tmp_path: Path) -> None:
    """A known file that changed is hashed at listing and read again by decoding: a pipe by then."""
    (tmp_path / "piped.txt").write_text(OTHER, encoding="utf-8")
    raw = [hash_capture(uri, path, problem) for uri, path, problem in list_capture_paths(tmp_path)]
    pipe_in_place(tmp_path / "piped.txt")
    assert decode_batch(raw).quarantined == {"piped.txt": "cannot read the file: not a regular file (a named pipe)"}


def test_a_capture_without_read_permission(tmp_path: Path, baseline: dict[str, pl.DataFrame]) -> None:
    """Through the real command, with the file's mode 000."""
    raw, out = tmp_path / "raw", tmp_path / "out"
    raw.mkdir()
    seeds_into(raw)
    (raw / "secret.txt").write_text(OTHER, encoding="utf-8")
    (raw / "secret.txt").chmod(0)
    prefix = WITHOUT_ROOT_READ if os.geteuid() == 0 else []
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "flows.cli", "run", "--raw-dir", str(raw), "--out-dir", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "quarantined: 1" in done.stdout
    tables = read_archive(out)
    row = tables["sources"].filter(pl.col("uri") == "secret.txt").row(0, named=True)
    assert (row["status"], row["error"]) == ("quarantined", "no permission to read the file")
    for table, frame in seed_tables(tables).items():
        assert_frame_equal(frame, baseline[table])


def test_bom_variants_decode_to_the_same_text() -> None:
    text = OTHER
    for data in (codecs.BOM_UTF8 + text.encode(), text.encode("utf-16"), text.encode("utf-32")):
        raw_dir = Path(tempfile.mkdtemp())
        (raw_dir / "c.txt").write_bytes(data)
        batch = decode_batch([hash_capture(u, p, e) for u, p, e in list_capture_paths(raw_dir)])
        assert batch.captures[0].lines[0].text == text.strip()
        shutil.rmtree(raw_dir)
