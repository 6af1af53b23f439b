"""The archive in object storage: `s3://` against a real S3 API server (moto's) on 127.0.0.1, started here."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from tasks.core.schema import TABLES, conform
from tasks.storage.store import ArchiveBusy, Manifest, archive_lock, publish, recover, run_rows
from tasks.write import read_archive
from tests.helpers import REPO, moto_s3, run_stages
from tests.test_store import NEW, OLD, Killed, by_bucket, killed_after, same

BUCKET = "newsroom"
RUN_TIME_COLUMNS = ["ingested_at", "first_seen_at", "last_seen_at"]


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    """A moto S3 server on a free port, a bucket in it, and the variables that point deltalake and polars at it."""
    with moto_s3(BUCKET) as env:
        yield env


def without_run_times(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    return {t: f.drop(RUN_TIME_COLUMNS, strict=False) for t, f in tables.items()}


def test_the_seeds_archived_in_object_storage_equal_the_archive_on_disk(
    s3: dict[str, str], raw: Path, tmp_path: Path
) -> None:
    out = f"s3://{BUCKET}/seeds"
    run_stages(raw, out)  # type: ignore[arg-type]
    run_stages(raw, tmp_path / "local")
    remote, local = without_run_times(read_archive(out)), without_run_times(read_archive(tmp_path / "local"))
    for table in TABLES:
        assert_frame_equal(remote[table], local[table])
    runs = run_rows(out).height
    run_stages(raw, out)  # type: ignore[arg-type]  # nothing new: no commit
    assert run_rows(out).height == runs


def test_a_commit_killed_in_object_storage_is_put_back_by_the_next_run(s3: dict[str, str]) -> None:
    root = f"s3://{BUCKET}/killed"
    first = publish(root, Manifest(), by_bucket(OLD), "run1")
    with killed_after(1, []), pytest.raises(Killed):
        publish(root, first, by_bucket(NEW), "run2")
    assert same(read_archive_tables(root), OLD)
    assert recover(root) == ["articles"]
    assert same({t: conform(t, pl.read_delta(f"{root}/{t}")) for t in ("articles", "paragraphs")}, OLD)


def read_archive_tables(root: str) -> dict[str, pl.DataFrame]:
    from tasks.storage.store import read_tables

    return read_tables(root, ["articles", "paragraphs"])


def test_one_writer_at_a_time_in_object_storage(s3: dict[str, str]) -> None:
    root = f"s3://{BUCKET}/leased"
    holding, release = threading.Event(), threading.Event()

    def first_run() -> None:
        with archive_lock(root, wait_seconds=0):
            holding.set()
            release.wait(30)

    first = threading.Thread(target=first_run)
    first.start()
    assert holding.wait(30)
    told: list[str] = []
    with (
        pytest.raises(ArchiveBusy, match=f"pid {os.getpid()}"),
        archive_lock(root, wait_seconds=2, on_wait=told.append),
    ):
        pass
    assert len(told) == 1
    assert "waiting for pid" in told[0]
    release.set()
    first.join()
    with archive_lock(root, wait_seconds=5):  # given back: the next run takes it
        pass


@pytest.mark.slow
def test_newsarchive_run_writes_an_archive_in_object_storage(s3: dict[str, str], raw: Path) -> None:
    out = f"s3://{BUCKET}/cli"
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", "--raw-dir", str(raw), "--out-dir", out],
        cwd=REPO, env={**os.environ, **s3}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    tables = read_archive(out)
    assert tables["articles"].height == 1
    assert tables["sources"]["status"].to_list() == ["archived", "archived"]
    history = subprocess.run(
        [sys.executable, "-m", "flows.cli", "history", "--out-dir", out],
        cwd=REPO, env={**os.environ, **s3}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert "2 captures read (2 archived, 0 quarantined); articles: 1 new" in history.stdout


def test_a_damaged_archive_in_object_storage_is_repaired_from_the_raw_captures(
    s3: dict[str, str], raw: Path, tmp_path: Path
) -> None:
    import boto3
    from deltalake import DeltaTable

    from flows.repair import repair_archive
    from tasks.core.config import ArchiveParams
    from tasks.storage.store import ArchiveDamaged, find_damage

    out = f"s3://{BUCKET}/damaged"
    run_stages(raw, out)  # type: ignore[arg-type]
    run_stages(raw, tmp_path / "local")
    client = boto3.client("s3", endpoint_url=s3["AWS_ENDPOINT_URL"])
    for table in ("comments", "paragraphs"):  # one deleted, one truncated
        key = sorted(DeltaTable(f"{out}/{table}").file_uris())[0].removeprefix(f"s3://{BUCKET}/")
        body = b"" if table == "comments" else client.get_object(Bucket=BUCKET, Key=key)["Body"].read()[:100]
        if table == "comments":
            client.delete_object(Bucket=BUCKET, Key=key)
        else:
            client.put_object(Bucket=BUCKET, Key=key, Body=body)
    with pytest.raises(ArchiveDamaged, match=f"newsarchive repair --raw-dir {raw} --out-dir {out}"):
        run_stages(raw, out)  # type: ignore[arg-type]
    done = repair_archive(ArchiveParams(raw_dir=str(raw), out_dir=out), wait_seconds=10)
    assert sorted(done.damaged) == ["comments", "paragraphs"]
    assert find_damage(out) == []
    remote, local = without_run_times(read_archive(out)), without_run_times(read_archive(tmp_path / "local"))
    for table in TABLES:
        assert_frame_equal(remote[table], local[table])
    assert run_rows(out)["kind"].to_list()[-1] == "repair"
