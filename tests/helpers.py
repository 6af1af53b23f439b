"""Test helpers: the seeds with their gold roles, and the pipeline without Prefect."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from bench.seeds import SEED_NAMES, SEEDS, GoldLine, gold_lines, write_capture
from flows.archive import archive_in_process
from tasks.core.config import ArchiveParams
from tasks.write import read_archive

REPO = Path(__file__).resolve().parents[1]
RUN_AT = datetime(2026, 1, 1, tzinfo=UTC)
NEWSARCHIVE = REPO / ".venv" / "bin" / "newsarchive"  # the command as `make setup` installs it
# Root reads every file: without these capabilities its reads obey the permission bits as another
# user's do (setpriv is in Debian's util-linux). `nobody` itself cannot run this environment where
# its interpreter lies under root's home.
WITHOUT_ROOT_READ = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search",
                     "--inh-caps", "-dac_override,-dac_read_search"]  # fmt: skip
TITLE = "Trump Says He Has Spoken With Putin by Phone About Ending Ukraine War"


def newsarchive(
    *args: str, home: Path, prefix: Sequence[str] = (), timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`newsarchive ARGS` in a process of its own, with its own PREFECT_HOME (`home`), as a person runs it."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"} | {"PREFECT_HOME": str(home)}
    return subprocess.run(
        [*prefix, str(NEWSARCHIVE), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
        check=False,
    )  # fmt: skip


def without_root_read(scratch: Path) -> list[str]:
    """What to run a command under so that a folder of mode 000 cannot be read; skips the test if nothing can."""
    if os.geteuid() != 0:
        return []
    probe = scratch / "mode-000"
    probe.mkdir()
    probe.chmod(0)
    try:
        done = subprocess.run([*WITHOUT_ROOT_READ, "ls", str(probe)], capture_output=True, check=False)
    except FileNotFoundError:
        pytest.skip("running as root, and setpriv is missing: a folder of mode 000 would be read")
    finally:
        probe.chmod(0o700)
        probe.rmdir()
    if done.returncode == 0:
        pytest.skip("running as root, and setpriv could not take root's power to read every folder")
    return WITHOUT_ROOT_READ


def gold_quotes(name: str) -> list[tuple[int, int]]:
    """(comment line, quoted line) pairs of the gold."""
    rows = (SEEDS / "gold" / f"{name}.quotes.tsv").read_text(encoding="utf-8").splitlines()[1:]
    return [(int(r.split("\t")[0]), int(r.split("\t")[1])) for r in rows]


def run_stages(
    raw_dir: Path | str, out_dir: Path, params: ArchiveParams | None = None, *, run_at: datetime = RUN_AT
) -> None:
    """The archive flow's phases as plain functions (no Prefect), on a real archive directory."""
    params = params or ArchiveParams(raw_dir=str(raw_dir), out_dir=str(out_dir))
    archive_in_process(params.model_copy(update={"raw_dir": str(raw_dir), "out_dir": str(out_dir)}), run_at=run_at)


def archive_tables(raw_dir: Path, params: ArchiveParams | None = None) -> dict[str, pl.DataFrame]:
    """A fresh archive of raw_dir, read back table by table."""
    with tempfile.TemporaryDirectory() as out:
        run_stages(raw_dir, Path(out), params)
        return read_archive(Path(out))


def roles_by_line(tables: dict[str, pl.DataFrame], uri: str) -> dict[int, str]:
    """Role of every line of one capture, from `segments`."""
    source_id = tables["sources"].filter(pl.col("uri") == uri)["source_id"].item()
    segments = tables["segments"].filter(pl.col("source_id") == source_id)
    return {
        line: role
        for start, end, role in segments.select("line_start", "line_end", "role").iter_rows()
        for line in range(start, end + 1)
    }


def quote_links(tables: dict[str, pl.DataFrame], name: str) -> list[tuple[int, int]]:
    """(comment line, quoted line) of every comment that quotes, as line numbers of the seed `name`.

    Comments in `comment_no` order are the seed's comment lines, paragraphs in `paragraph_no` order its body lines.
    """
    lines = gold_lines(name)
    body = [no for no, g in enumerate(lines, start=1) if g.role == "body"]
    comment_lines = [no for no, g in enumerate(lines, start=1) if g.role == "comment"]
    comments = tables["comments"].sort("comment_no")
    line_of = dict(zip(comments["comment_id"], comment_lines, strict=True))
    links = []
    for no, paragraph, comment in comments.select("comment_no", "quotes_paragraph_no", "quotes_comment_id").rows():
        if paragraph is not None:
            links.append((comment_lines[no], body[paragraph]))
        elif comment is not None:
            links.append((comment_lines[no], line_of[comment]))
    return links


__all__ = ["SEEDS", "SEED_NAMES", "GoldLine", "gold_lines", "write_capture"]  # the seeds, for the tests


@contextmanager
def moto_s3(*buckets: str) -> Iterator[dict[str, str]]:
    """A moto S3 server on a free port with `buckets` in it, and the variables that point deltalake,
    polars and pyarrow at it, set in os.environ (so in the commands the tests start) while it runs."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ALLOW_HTTP": "true", "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test", "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1",
    }  # fmt: skip
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"])
    for bucket in buckets:
        client.create_bucket(Bucket=bucket)
    try:
        yield env
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()
