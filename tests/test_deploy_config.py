"""The deployment's options and the run report's text, without a server."""

from __future__ import annotations

import inspect
import logging
import os
import signal
import subprocess
import sys
import time
import weakref
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError

from flows.deploy import DEFAULT_CRON, AtCapacityNowAndThen, archive_deployment, parse_args
from flows.lifetime import InterruptUntilHeard
from tasks.core.config import ArchiveParams
from tasks.report import quarantined_captures, summary_markdown
from tests.helpers import REPO


def test_defaults_are_daily_at_two_utc_with_absolute_directories(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NEWSARCHIVE_CRON", "NEWSARCHIVE_TIMEZONE", "NEWSARCHIVE_RAW_DIR", "NEWSARCHIVE_OUT_DIR"):
        monkeypatch.delenv(name, raising=False)
    args = parse_args([])
    assert (args.cron, args.timezone) == ("0 2 * * *", "UTC") == (DEFAULT_CRON, "UTC")
    assert args.raw_dir == str(Path("data/raw").resolve())
    assert args.out_dir == str(Path("data/processed").resolve())


def test_schedule_comes_from_the_environment_or_the_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSARCHIVE_CRON", "30 5 * * 1-5")
    monkeypatch.setenv("NEWSARCHIVE_TIMEZONE", "Europe/Berlin")
    assert (parse_args([]).cron, parse_args([]).timezone) == ("30 5 * * 1-5", "Europe/Berlin")
    assert parse_args(["--cron", "0 */6 * * *"]).cron == "0 */6 * * *"


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--cron", "every day"], "--cron: 'every day' is not a valid cron expression"),
        (["--cron", "61 2 * * *"], "--cron: '61 2 * * *' is not a valid cron expression"),
        (["--timezone", "Mars/Olympus"], "--timezone: 'Mars/Olympus' is not an IANA time zone"),
    ],
)
def test_a_bad_schedule_is_refused_before_anything_starts(
    argv: list[str], complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        parse_args(argv)
    assert stopped.value.code == 2
    assert complaint in capsys.readouterr().err


def test_one_deployment_with_the_cron_schedule_and_a_queue_of_one() -> None:
    deployment = archive_deployment(
        cron="15 3 * * *", timezone="America/New_York", raw_dir="/data/raw", out_dir="/data/archive"
    )
    assert deployment.name == "newsarchive"
    [schedule] = deployment.schedules or []
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("15 3 * * *", "America/New_York")  # type: ignore[union-attr]
    assert deployment.concurrency_limit == 1
    assert deployment.concurrency_options is not None
    assert deployment.concurrency_options.collision_strategy == "ENQUEUE"
    assert deployment.enforce_parameter_schema
    assert deployment.parameters == {"raw_dir": "/data/raw", "out_dir": "/data/archive"}
    assert deployment.entrypoint == "flows/archive.py:archive"


def test_the_summary_names_every_count_each_quarantined_capture_and_the_time_of_each_stage() -> None:
    sources = pl.DataFrame(
        {
            "uri": ["a.txt", "z.bin", "b.txt", "c.txt"],
            "status": ["archived", "quarantined", "duplicate", "quarantined"],
            "error": [None, "binary data, not text", None, "cannot read the file: no permission"],
            "size_bytes": [10, 20, 10, 0],
        }
    )
    quarantined = quarantined_captures(sources)
    assert quarantined["capture"].to_list() == ["c.txt", "z.bin"]
    summary = {"captures": 4, "archived": 1, "duplicates": 1, "quarantined": 2, "articles": 1}
    text = summary_markdown(
        summary, quarantined, {"discover-captures": 0.25, "write-archive": 1.5}, raw_dir="/r", out_dir="/x"
    )
    assert "| captures read | 4 |" in text
    assert "| quarantined | 2 |" in text
    assert "- `c.txt`: cannot read the file: no permission" in text
    assert "- `z.bin`: binary data, not text" in text
    assert "| write-archive | 1.50 |" in text
    assert "| **total** | **1.75** |" in text
    assert "wrote `/x`" in text


def test_a_clean_run_says_nothing_was_quarantined() -> None:
    sources = pl.DataFrame({"uri": ["a.txt"], "status": ["archived"], "error": [None], "size_bytes": [1]})
    text = summary_markdown({"captures": 1}, quarantined_captures(sources), {}, raw_dir="/r", out_dir="/x")
    assert "## Quarantined\n\nNone.\n" in text


def test_every_field_of_the_custom_run_form_has_a_title_and_help_text() -> None:
    """The UI's Custom run form shows each property's title and description, the sections' as well."""
    deployment = archive_deployment(cron=DEFAULT_CRON, timezone="UTC", raw_dir="/r", out_dir="/x")
    schema = deployment._parameter_openapi_schema.model_dump()
    assert schema["properties"]["match"]["title"] == "Grouping"  # not the parameter's name, Prefect's default
    models = {"parameters": schema, **schema["definitions"]}
    untold = [
        f"{model}.{name}"
        for model, definition in models.items()
        for name, field in definition["properties"].items()
        if not (field.get("title") and field.get("description"))
    ]
    assert not untold, f"fields without a title or a description: {untold}"


def test_the_flow_takes_every_setting_as_a_top_level_parameter_and_the_folders_are_required() -> None:
    """So a run given some parameters keeps the deployment's other ones, and never runs without folders."""
    from flows.archive import archive

    schema = archive_deployment(cron=DEFAULT_CRON, timezone="UTC", raw_dir="/r", out_dir="/x")._parameter_openapi_schema
    assert list(schema.properties) == list(ArchiveParams.model_fields)
    assert schema.required == ["raw_dir", "out_dir"]
    assert list(inspect.signature(archive.fn).parameters) == list(ArchiveParams.model_fields)
    with pytest.raises(ValidationError, match="'data/raw' is not an absolute path"):
        ArchiveParams(raw_dir="data/raw", out_dir="/x")


def test_serve_help_names_the_command_the_port_variable_and_ctrl_c() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flows.serve", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.startswith("usage: python -m flows.serve "), done.stdout
    assert "PREFECT_SERVER_API_PORT=4300 python -m flows.serve" in done.stdout
    assert "Ctrl-C (or SIGTERM) stops everything it started" in done.stdout


def test_the_runners_at_capacity_line_comes_at_most_once_a_minute() -> None:
    """With a run queued behind another, Prefect's runner says so at every poll: the terminal gets it now and then."""
    quiet = AtCapacityNowAndThen()

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("prefect.runner", logging.INFO, __file__, 1, msg, (1,), None)

    assert quiet.filter(record("%d scheduled runs skipped (at capacity)"))
    assert not quiet.filter(record("%d scheduled runs skipped (at capacity)"))
    assert quiet.filter(record("Runner 'newsarchive' submitting flow run"))


class _Referent:
    pass


def test_a_stop_signal_python_drops_inside_a_callback_comes_again_until_heard() -> None:
    # `make serve` once ignored SIGTERM for good: it arrived while a weak reference's callback ran, inside an import.
    interrupt = InterruptUntilHeard(every_s=0.05)
    dropped: list[str] = []
    previous = signal.signal(signal.SIGUSR1, interrupt)
    old_hook = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: dropped.append(type(unraisable.exc_value).__name__)
    try:
        referent = _Referent()

        def callback(ref: object) -> None:
            os.kill(os.getpid(), signal.SIGUSR1)
            for _ in range(1000):  # bytecodes for the handler to run between, inside the callback
                pass

        reference = weakref.ref(referent, callback)

        def drop_it_then_wait() -> None:
            nonlocal referent
            del referent  # the last reference: the callback runs now
            time.sleep(5)  # the signal comes again within 0.05 s

        with pytest.raises(KeyboardInterrupt):
            drop_it_then_wait()
        assert "KeyboardInterrupt" in dropped  # dropped once at least, and still it came
        interrupt.heard()
        time.sleep(0.2)  # none comes after: this would raise
        assert reference() is None
    finally:
        interrupt.heard()
        sys.unraisablehook = old_hook
        signal.signal(signal.SIGUSR1, previous)
