"""Raw captures in object storage (`--raw-dir s3://bucket/prefix`), against moto's S3 server started here."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl
import pytest

from bench.same_archive import archive_tables, table_differences
from tasks.core.config import ArchiveParams, ReadConfig
from tasks.core.folders import FolderOverlapError, RawFolderError, absolute_folders, is_transient
from tasks.core.ids import source_id_of
from tasks.core.rawstore import raw_folder_problem, read_object
from tasks.decode import decode_new
from tasks.discover import new_captures
from tests.helpers import REPO, SEED_NAMES, SEEDS, moto_s3, run_stages
from tests.test_bad_input import PNG

BUCKET = "raw"
SEED_BYTES = {f"{name}.txt": (SEEDS / f"{name}.txt").read_bytes() for name in SEED_NAMES}
BINARY = "binary data, not text (the file starts like an image or archive)"
# A read of one object (GET of a key), as the server logs it (perhaps in colour); a listing GETs the bucket.
_OBJECT_REQUEST = re.compile(r"GET /(?P<bucket>[^/?\s]+)/(?P<key>[^?\s]+) HTTP")


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    with moto_s3(BUCKET) as env:
        yield env


def put(key: str, data: bytes) -> None:
    import boto3

    boto3.client("s3").put_object(Bucket=BUCKET, Key=key, Body=data)


def put_seeds(prefix: str) -> str:
    for name, data in SEED_BYTES.items():
        put(f"{prefix}/{name}", data)
    return f"s3://{BUCKET}/{prefix}"


class _Requests(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def objects_read(self) -> list[str]:
        return [f"{m['bucket']}/{m['key']}" for line in self.lines if (m := _OBJECT_REQUEST.search(line))]


@contextmanager
def requests_seen() -> Iterator[_Requests]:
    """The requests the moto server (in this process) answers meanwhile, from here or from a command."""
    seen = _Requests()
    server_log = logging.getLogger("werkzeug")
    server_log.addHandler(seen)
    try:
        yield seen
    finally:
        server_log.removeHandler(seen)


# Folders and parameters: no server needed.


def test_two_object_store_folders_are_kept_apart_as_two_local_folders_are() -> None:
    assert absolute_folders("s3://raw/x/", "s3://raw/archive") == ("s3://raw/x", "s3://raw/archive")
    assert absolute_folders("s3://raw/x", "/tmp/archive") == ("s3://raw/x", "/tmp/archive")
    for raw_dir, out_dir, says in [
        ("s3://raw/x", "s3://raw/x/", "are the same folder"),
        ("s3://raw/x", "s3a://raw/x/archive", "the archive lies inside the raw directory"),
        ("s3a://raw/x/in", "s3://raw/x", "the raw directory lies inside the archive"),
    ]:
        with pytest.raises(FolderOverlapError, match=says) as caught:
            absolute_folders(raw_dir, out_dir)
        assert raw_dir.rstrip("/") in str(caught.value)
        assert out_dir.rstrip("/") in str(caught.value)
    assert absolute_folders("s3://raw/x", "s3://raw/xy") == ("s3://raw/x", "s3://raw/xy")  # a sibling, not inside


def test_the_raw_folder_parameter_takes_an_object_store_uri_and_says_so_in_the_form() -> None:
    params = ArchiveParams(raw_dir="s3://raw/x", out_dir="/tmp/archive")
    assert params.raw_dir == "s3://raw/x"
    field = ArchiveParams.model_json_schema()["properties"]["raw_dir"]
    assert re.match(field["pattern"], "s3a://raw/x")
    assert not re.match(field["pattern"], "data/raw")
    assert "s3://bucket/prefix" in field["description"]


def test_a_deployment_keeps_object_store_folders_as_given() -> None:
    from flows.deploy import parse_args

    args = parse_args(["--raw-dir", "s3://raw/x", "--out-dir", "s3a://archive/news"])
    assert (args.raw_dir, args.out_dir) == ("s3://raw/x", "s3a://archive/news")


def test_a_plain_http_endpoint_is_refused_unless_allowed_as_for_the_archive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("AWS_ENDPOINT_URL_S3", raising=False)
    monkeypatch.delenv("AWS_ALLOW_HTTP", raising=False)
    assert raw_folder_problem("s3://raw/x") == (
        "raw directory 's3://raw/x' cannot be listed: AWS_ENDPOINT_URL 'http://127.0.0.1:9' is plain http: "
        "set AWS_ALLOW_HTTP=true to use it"
    )


# Listing and reading against the server, without the flow.


def test_the_listing_finds_every_object_below_the_prefix_and_skips_hidden_names_and_folder_markers(
    s3: dict[str, str],
) -> None:
    root = put_seeds("listed")
    put("listed/day/2/late.txt", b"A late capture.\n")
    put("listed/.partial/upload.txt", b"half")
    put("listed/.hidden.txt", b"hidden")
    put("listed/empty-folder/", b"")
    put("listed-not/next.txt", b"beside the prefix, not below it")
    found, unchanged = new_captures(root, {})
    assert unchanged == 0
    assert [c.uri for c in found] == [f"{root}/{name}" for name in [*SEED_BYTES, "day/2/late.txt"]]
    assert all(c.unread and c.path == c.uri and c.modified_at is not None for c in found)
    assert [c.size_bytes for c in found] == [*map(len, SEED_BYTES.values()), 16]


def test_a_rerun_lists_the_prefix_and_reads_no_object_and_a_replaced_one_is_hashed_again(s3: dict[str, str]) -> None:
    root = put_seeds("again")
    listed, _ = new_captures(root, {})
    known = {c.uri: frozenset({(c.size_bytes, c.modified_at)}) for c in listed}  # as the archive keeps them
    with requests_seen() as seen:
        assert new_captures(root, known) == ([], 2)
    assert seen.lines, "the server logged no request"
    assert seen.objects_read() == []
    name, data = next(iter(SEED_BYTES.items()))
    put(f"again/{name}", data + b"\nOne more line.\n")
    found, unchanged = new_captures(root, known)
    assert unchanged == 1
    assert [(c.uri, c.sha256) for c in found] == [
        (f"{root}/{name}", hashlib.sha256(data + b"\nOne more line.\n").hexdigest())
    ]


def test_a_missing_bucket_or_prefix_ends_the_listing_for_good(s3: dict[str, str]) -> None:
    for root, says in [("s3://no-such-bucket/x", "the bucket 'no-such-bucket' does not exist"),
                       ("s3://raw/no-such-prefix", "no object lies under the prefix")]:  # fmt: skip
        with pytest.raises(RawFolderError, match=says) as caught:
            new_captures(root, {})
        assert caught.value.errno == errno.ENOENT
        assert not is_transient(caught.value)


def test_objects_are_decoded_and_quarantined_by_the_local_rules(s3: dict[str, str]) -> None:
    root = put_seeds("rules")
    put("rules/image.txt", PNG)
    put("rules/latin1.txt", "Café au lait, the council said, and the bridge will be rebuilt.\n".encode("cp1252"))
    listed, _ = new_captures(root, {})
    decoded = decode_new(listed, ReadConfig())
    assert decoded.quarantined == {f"{root}/image.txt": BINARY}
    assert decoded.encodings[f"{root}/latin1.txt"] == "cp1252"
    assert sorted(c.uri for c in decoded.captures) == sorted(f"{root}/{n}" for n in [*SEED_BYTES, "latin1.txt"])
    assert {c.uri: c.source_id for c in decoded.captures}[f"{root}/latin1.txt"] == source_id_of(
        f"{root}/latin1.txt", decoded.read[f"{root}/latin1.txt"].sha256 or ""
    )
    small = decode_new(listed, ReadConfig(max_capture_mb=0.01))  # the seeds are 19 KB and 2 KB
    largest = max(SEED_BYTES, key=lambda n: len(SEED_BYTES[n]))
    assert "larger than the limit of 0.01 MB" in small.quarantined[f"{root}/{largest}"]


def test_an_object_gone_between_listing_and_reading_is_quarantined_and_the_others_read(s3: dict[str, str]) -> None:
    import boto3

    root = put_seeds("gone")
    put("gone/deleted.txt", b"A capture removed before it was read.\n")
    listed, _ = new_captures(root, {})
    boto3.client("s3").delete_object(Bucket=BUCKET, Key="gone/deleted.txt")
    decoded = decode_new(listed, ReadConfig())
    assert decoded.quarantined == {f"{root}/deleted.txt": "the object disappeared between listing and reading"}
    assert sorted(c.uri for c in decoded.captures) == [f"{root}/{name}" for name in SEED_BYTES]


def test_an_object_larger_than_what_is_held_is_hashed_as_a_stream(s3: dict[str, str]) -> None:
    data = b"line of a long capture\n" * 200_000  # 4.6 MB: read in several chunks
    put("big/one.txt", data)
    assert read_object(f"s3://{BUCKET}/big/one.txt", max_bytes=1000) == (
        None, hashlib.sha256(data).hexdigest(), len(data)
    )  # fmt: skip
    assert read_object(f"s3://{BUCKET}/big/one.txt", max_bytes=len(data))[0] == data


def test_a_scratch_folder_beside_an_archive_in_a_bucket_shelves_lines_and_rows_there_and_is_removed_after(
    s3: dict[str, str],
) -> None:
    from pyarrow.fs import FileSelector

    from tasks.core.rawstore import object_path, s3_filesystem
    from tasks.core.shelf import pack, read_entries, read_frame, scratch_folder, shelve_frames, unpack, write_shelf

    archive = f"s3://{BUCKET}/archives/scratch"
    entries = [pack(["First line.", "Second line."], ["first line", "second line"]), pack(["Alone."], ["alone"])]
    with scratch_folder(archive, beside_the_archive=True) as folder:
        assert folder.path.startswith(f"{archive}/.scratch/")
        refs = write_shelf(folder.path, entries)
        first, second = read_entries(refs)
        assert unpack(first, refs[0].keys_length, 2) == (["First line.", "Second line."], ["first line", "second line"])
        assert unpack(second, refs[1].keys_length, 1) == (["Alone."], ["alone"])
        assert read_entries(refs[1:], keys_only=True) == [b"alone"]
        frame = pl.DataFrame({"id": ["a", "b"], "n": [1, 2]})
        assert read_frame(shelve_frames(folder.path, {"rows": frame})["rows"]).equals(frame)
        listed = s3_filesystem().get_file_info(FileSelector(object_path(folder.path), recursive=True))
        assert len(listed) == 2
    left = s3_filesystem().get_file_info(FileSelector(object_path(archive), recursive=True, allow_not_found=True))
    assert [info.path for info in left if info.type.name == "File"] == []


# The command, as a person runs it.


def newsarchive(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """`newsarchive ARGS` in a process of its own (this checkout's code), with its own PREFECT_HOME."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "flows.cli", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip


def located_as_on_disk(tables: dict[str, pl.DataFrame], root: str) -> dict[str, pl.DataFrame]:
    """An archive of captures read from `root` in object storage, named as if read from a local folder: uris
    relative to it, the source ids made from those (ids come from the uri), the objects' times left out."""
    sources = tables["sources"]
    relative = sources["uri"].str.strip_prefix(f"{root}/")
    local_ids = [source_id_of(u, s or "") for u, s in zip(relative, sources["sha256"], strict=True)]
    renamed = dict(zip(sources["source_id"], local_ids, strict=True))
    moved = {}
    for table, frame in tables.items():
        if "source_id" in frame.columns:
            frame = frame.with_columns(pl.col("source_id").replace_strict(renamed, default=pl.col("source_id")))
        moved[table] = frame
    moved["sources"] = moved["sources"].with_columns(uri=relative).drop("modified_at")
    return moved


def without_times(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    return {**tables, "sources": tables["sources"].drop("modified_at")}


@pytest.mark.slow
def test_newsarchive_run_reads_the_seeds_from_a_bucket_as_from_disk_and_only_what_is_new_again(
    s3: dict[str, str], raw: Path, tmp_path: Path
) -> None:
    root = put_seeds("seeds")
    home, out = tmp_path / "home", tmp_path / "from-bucket"
    done = newsarchive("run", "--raw-dir", root, "--out-dir", str(out), home=home)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run_stages(raw, tmp_path / "from-disk")
    tables = archive_tables(out)
    assert sorted(tables["sources"]["uri"]) == [f"{root}/{name}" for name in SEED_BYTES]
    local = without_times(archive_tables(tmp_path / "from-disk"))
    assert table_differences(located_as_on_disk(tables, root), local) == []
    assert table_differences(without_times(tables), local) != []  # the uris and ids do differ

    with requests_seen() as seen:
        rerun = newsarchive("run", "--raw-dir", root, "--out-dir", str(out), home=home)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "nothing new: 2 captures already archived (1 article)" in rerun.stdout
    assert any(f"/{BUCKET}?" in line for line in seen.lines)  # listed
    assert seen.objects_read() == []

    name, data = next(iter(SEED_BYTES.items()))
    edited = data.replace(b"Putin", b"Vladimir Putin", 1) + b"\nAn update added later.\n"
    put(f"seeds/{name}", edited)
    with requests_seen() as seen:
        again = newsarchive("run", "--raw-dir", root, "--out-dir", str(out), home=home)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "captures read: 1, articles: 1" in again.stdout
    # The edited object, and the other capture of its article: read again to rebuild the article (tasks/related.py).
    assert set(seen.objects_read()) == {f"{BUCKET}/seeds/{n}" for n in SEED_BYTES}
    sources = archive_tables(out)["sources"].filter(pl.col("uri") == f"{root}/{name}")
    assert sorted(sources["sha256"]) == sorted(hashlib.sha256(d).hexdigest() for d in (data, edited))
    assert sources["status"].to_list() == ["archived", "archived"]


@pytest.mark.slow
def test_a_binary_object_is_quarantined_beside_the_archived_ones_and_a_missing_bucket_exits_3(
    s3: dict[str, str], tmp_path: Path
) -> None:
    root = put_seeds("with-image")
    put("with-image/photo.txt", PNG)
    run_stages(root, tmp_path / "out")  # the stages in process; the command for the missing bucket below
    sources = archive_tables(tmp_path / "out")["sources"].sort("uri")
    assert sources.select("uri", "status", "error").rows() == [
        (f"{root}/{name}", "archived", None) for name in SEED_BYTES
    ] + [(f"{root}/photo.txt", "quarantined", BINARY)]

    missing = newsarchive(
        "run", "--raw-dir", "s3://no-such-bucket/x", "--out-dir", str(tmp_path / "out"), home=tmp_path / "home"
    )
    assert missing.returncode == 3, missing.stderr
    assert "the bucket 'no-such-bucket' does not exist" in missing.stderr


def test_newsarchive_run_refuses_an_archive_under_the_raw_prefix(s3: dict[str, str], tmp_path: Path) -> None:
    """Before Prefect starts (a bucket into a bucket archived: the test of Dask workers apart, below)."""
    root = put_seeds("both")
    inside = newsarchive("run", "--raw-dir", root, "--out-dir", f"{root}/archive", home=tmp_path / "home")
    assert inside.returncode == 2
    assert "the archive lies inside the raw directory" in inside.stderr


@pytest.mark.slow
def test_dask_workers_of_their_own_reach_only_the_bucket_and_the_archive_is_the_default_runners(
    s3: dict[str, str], tmp_path: Path
) -> None:
    """`dask scheduler` and `dask worker` started apart, the worker in an empty folder of its own: raw captures,
    archive and the run's scratch files all go through the S3 API, and the tables equal the default runner's."""
    from tasks.synth.corpus import write_corpus

    write_corpus(tmp_path / "corpus", articles=8, seed=5, workers=1)
    files = sorted((tmp_path / "corpus" / "raw").iterdir())
    for file in files:
        put(f"elsewhere/{file.name}", file.read_bytes())
    root, out = f"s3://{BUCKET}/elsewhere", f"s3://{BUCKET}/archives/elsewhere"
    dask = str(Path(sys.executable).parent / "dask")
    worker_home = tmp_path / "worker"
    worker_home.mkdir()
    address_file = tmp_path / "scheduler.json"
    started = []
    try:
        started.append(subprocess.Popen(
            [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             "--scheduler-file", str(address_file)],
            cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
        deadline = time.monotonic() + 120
        while not address_file.exists():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)
        address = json.loads(address_file.read_text())["address"]
        started.append(subprocess.Popen(
            [dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
             "--local-directory", str(worker_home)],
            cwd=worker_home, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ))  # fmt: skip
        with requests_seen() as seen:
            done = newsarchive(
                "run", "--raw-dir", root, "--out-dir", out, "--runner", "dask", "--dask-address", address,
                "--decode-batch-captures", "50", "--batch-captures", "50", home=tmp_path / "home",
            )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(60)
    shelved = {m.group(1) for line in seen.lines if (m := re.search(r'"PUT /[^ ]*/\.scratch/[^ ]*/(\w+)-', line))}
    assert shelved == {"lines", "rows"}  # decoded lines and article rows, both written to the bucket
    from pyarrow.fs import FileSelector

    from tasks.core.rawstore import object_path, s3_filesystem
    from tasks.write import read_archive

    left = s3_filesystem().get_file_info(FileSelector(object_path(out), recursive=True))
    assert [info.path for info in left if "/.scratch/" in info.path and info.type.name == "File"] == []

    run_stages(tmp_path / "corpus" / "raw", tmp_path / "from-disk")
    local = without_times(read_archive(tmp_path / "from-disk"))
    assert table_differences(located_as_on_disk(read_archive(out), root), local) == []
