"""The archive deployment on a real Prefect server (`python -m flows.serve`, as `make serve` starts it).

One server and one serve process for the whole module: the schedule fires, bad parameters are refused,
two runs at once queue, and (marked `browser`) Prefect's UIs in Debian's Chromium start a Quick run (the default
V2 UI) and a Custom run (V1) whose archives are checked against the gold, and whose summary and quarantine are
checked in both UIs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import polars as pl
import polars.selectors as cs
import pytest
from playwright.sync_api import expect
from polars.testing import assert_frame_equal

from tasks.core.config import ArchiveParams
from tasks.core.schema import TABLES
from tasks.storage.store import read_table
from tests.helpers import REPO, SEED_NAMES, SEEDS, archive_tables, gold_lines, gold_quotes, quote_links, roles_by_line

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

pytestmark = pytest.mark.slow

DEPLOYMENT = "archive/newsarchive"
BROKEN = "broken.png"  # a capture the run must quarantine, so the quarantine table has a row
START_TIMEOUT_S = 240.0
RUN_TIMEOUT_S = 180.0
SCREENSHOTS = REPO / "test-output" / "ui"
DOCS_SCREENSHOT = REPO / "docs" / "trigger-a-run.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
# Where each of Prefect's UIs lives: V2 is the one the server's address opens (Prefect 3.8's default).
V1 = ""
V2 = "/v2"


@dataclass(frozen=True)
class Stack:
    """A running server + serve process, and where its runs read and write by default."""

    api: Api
    ui_url: str
    deployment_id: str
    raw_dir: Path
    out_dir: Path
    tmp: Path
    log: Path


class Api(httpx.Client):
    """The server's REST API, retrying as Prefect's own client does when SQLite is busy (503) or rate-limited.

    A request that times out is sent again only when sending it twice does no harm (reads, filters, deletes):
    on a loaded two-core machine a write can wait on SQLite's lock for longer than one timeout.
    """

    def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        repeatable = request.method in ("GET", "DELETE", "PATCH") or request.url.path.endswith("/filter")
        for attempt in range(6):
            try:
                response = super().send(request, **kwargs)
            except httpx.TimeoutException:
                if not repeatable or attempt == 5:
                    raise
                continue
            if response.status_code not in (429, 503):
                break
            time.sleep(0.5 * 2**attempt)
        return response


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(check: Callable[[], Any], timeout_s: float, what: str, *, every_s: float = 0.5) -> Any:
    """Poll until `check` returns something truthy."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def log_tail(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-4000:]


def serve_env(tmp: Path, port: int) -> dict[str, str]:
    """The environment of a `python -m flows.serve` of its own: this port, a Prefect home (and database) in `tmp`."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | {
        "PREFECT_HOME": str(tmp / "prefect-home"),  # its own SQLite database
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        "PREFECT_SERVER_API_PORT": str(port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # Test pace: the scheduler service looks for runs to schedule every 2 s (60 s in production). The runner's
        # poll and the wait of a queued run are the production ones: a test checks how soon a queued run starts.
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
    }


def start_serve(tmp: Path, port: int, raw: Path, out: Path, log: Path) -> subprocess.Popen[bytes]:
    """`python -m flows.serve` as `make serve` starts it, in a session of its own as a terminal's job would be."""
    with log.open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "flows.serve", "--raw-dir", str(raw), "--out-dir", str(out)],
            cwd=REPO, env=serve_env(tmp, port), stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("deploy")
    raw = tmp / "raw"
    raw.mkdir()
    for name in SEED_NAMES:
        shutil.copy(SEEDS / f"{name}.txt", raw / f"{name}.txt")
    (raw / BROKEN).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    port = free_port()
    log = tmp / "serve.log"
    out = tmp / "archive-default"
    serve = start_serve(tmp, port, raw, out, log)
    api = Api(base_url=f"http://127.0.0.1:{port}/api", timeout=60)
    try:

        def deployment() -> dict[str, Any] | None:
            assert serve.poll() is None, f"flows.serve exited with {serve.returncode}:\n{log_tail(log)}"
            try:
                reply = api.get(f"/deployments/name/{DEPLOYMENT}")
            except httpx.TransportError:
                return None
            return dict(reply.json()) if reply.status_code == 200 else None

        found = wait_for(deployment, START_TIMEOUT_S, "the server and the deployment")
        wait_for(lambda: f"Prefect UI at http://127.0.0.1:{port}" in log_tail(log), 30, "the UI address")
        yield Stack(api, f"http://127.0.0.1:{port}", found["id"], raw, out, tmp, log)
    finally:
        api.close()
        serve.send_signal(signal.SIGTERM)  # flows.serve stops the runner, then the server
        with contextlib.suppress(subprocess.TimeoutExpired):
            serve.wait(60)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(serve.pid, signal.SIGKILL)  # whatever is left in its process group
        serve.wait()


def create_run(stack: Stack, out_dir: Path) -> httpx.Response:
    params = {"raw_dir": str(stack.raw_dir), "out_dir": str(out_dir)}
    return stack.api.post(f"/deployments/{stack.deployment_id}/create_flow_run", json={"parameters": params})


def finished_run(stack: Stack, run_id: str) -> dict[str, Any]:
    """Wait for a run to end; fail with the serve log unless it completed."""

    def final() -> dict[str, Any] | None:
        run = dict(stack.api.get(f"/flow_runs/{run_id}").json())
        return run if run["state_type"] in FINAL else None

    run = wait_for(final, RUN_TIMEOUT_S, f"flow run {run_id}")
    assert run["state_type"] == "COMPLETED", f"{run['state_name']}: {run['state']['message']}\n{log_tail(stack.log)}"
    return run


def read_archive(out_dir: Path) -> dict[str, pl.DataFrame]:
    tables = {}
    for name in TABLES:
        frame = read_table(out_dir, name)
        assert frame is not None, f"no {name} table under {out_dir}"
        tables[name] = frame
    return tables


def assert_tables_match_gold(tables: dict[str, pl.DataFrame]) -> None:
    """Every line of both seeds has its gold role, comments quote what the gold says they quote, and the
    broken capture is quarantined with its reason."""
    for name in SEED_NAMES:
        expected = {no: g.role for no, g in enumerate(gold_lines(name), start=1) if g.role}
        assert roles_by_line(tables, f"{name}.txt") == expected
    quoted = [name for name in SEED_NAMES if (SEEDS / "gold" / f"{name}.quotes.tsv").exists()]
    assert quoted == [SEED_NAMES[0]]  # the capture with the comments
    assert quote_links(tables, SEED_NAMES[0]) == gold_quotes(SEED_NAMES[0])
    broken = tables["sources"].filter(pl.col("uri") == BROKEN).row(0, named=True)
    assert broken["status"] == "quarantined"
    assert "binary" in broken["error"]


def assert_matches_gold(out_dir: Path) -> None:
    assert_tables_match_gold(read_archive(out_dir))


def without_times(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Run times differ between runs by design; everything else must not."""
    return {name: frame.drop(cs.datetime()) for name, frame in tables.items()}


def test_the_deployment_is_scheduled_daily_with_one_run_at_a_time(stack: Stack) -> None:
    deployment = stack.api.get(f"/deployments/{stack.deployment_id}").json()
    [schedule] = deployment["schedules"]
    assert schedule["schedule"]["cron"] == "0 2 * * *"
    assert schedule["schedule"]["timezone"] == "UTC"
    assert schedule["active"]
    assert deployment["concurrency_options"]["collision_strategy"] == "ENQUEUE"
    assert deployment["global_concurrency_limit"]["limit"] == 1
    assert deployment["enforce_parameter_schema"]
    assert deployment["parameters"] == {"raw_dir": str(stack.raw_dir), "out_dir": str(stack.out_dir)}
    schema = deployment["parameter_openapi_schema"]
    assert schema["definitions"]["MatchConfig"]["properties"]["shingle_words"]["minimum"] == 2


@pytest.mark.parametrize(
    ("params", "field", "reason"),
    [
        ({"match": {"shingle_words": 1}}, "match.shingle_words", "1 is less than the minimum of 2"),
        ({"out_dir": ""}, "out_dir", "'' does not match '^(/|s3a?://)'"),
        ({"raw_dir": "data/raw"}, "raw_dir", "'data/raw' does not match '^(/|s3a?://)'"),
        ({"quotes": {"score_cutoff": "high"}}, "quotes.score_cutoff", "'high' is not of type 'number'"),
        ({"match": {"shingles": 3}}, "match", "Additional properties are not allowed ('shingles' was unexpected)"),
        ({"execution": {"runner": "gpu"}}, "execution.runner", "'gpu' is not one of"),
    ],
)
def test_a_bad_parameter_is_refused_before_a_run_starts(
    stack: Stack, params: dict[str, Any], field: str, reason: str
) -> None:
    reply = stack.api.post(f"/deployments/{stack.deployment_id}/create_flow_run", json={"parameters": params})
    assert reply.status_code == 409, reply.text
    message = reply.json()["detail"]
    assert f"Validation failed for field '{field}'" in message
    assert reason in message


def prefect_command(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    """Prefect's own command line against the stack's server, run from a folder of no importance."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_API_URL": f"{stack.ui_url}/api", "PREFECT_HOME": str(stack.tmp / "command-home"), "COLUMNS": "400"}
    return subprocess.run(
        [sys.executable, "-m", "prefect", *args],
        cwd=stack.tmp, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )  # fmt: skip


def test_a_run_given_some_parameters_keeps_the_deployments_folders(stack: Stack) -> None:
    """`prefect deployment run --params` with one section: the folders are the deployment's, not the runner's."""
    params = json.dumps({"quotes": {"min_quote_words": 7}})  # the gold's shortest quote has 7 words
    done = prefect_command(stack, "deployment", "run", DEPLOYMENT, "--params", params)
    assert done.returncode == 0, done.stdout + done.stderr
    found = re.search(r"UUID: ([0-9a-f-]{36})", done.stdout)
    assert found, done.stdout
    run = finished_run(stack, found[1])
    assert run["parameters"] == {
        "raw_dir": str(stack.raw_dir), "out_dir": str(stack.out_dir), "quotes": {"min_quote_words": 7}
    }  # fmt: skip
    assert_matches_gold(stack.out_dir)
    shutil.rmtree(stack.out_dir)  # the Quick run's test expects the deployment's archive new


def test_a_relative_folder_given_to_a_deployment_run_is_refused(stack: Stack) -> None:
    runs_before = stack.api.post("/flow_runs/count", json={}).json()
    done = prefect_command(stack, "deployment", "run", DEPLOYMENT, "--params", '{"out_dir": "data/processed"}')
    assert done.returncode == 1, done.stdout + done.stderr
    reason = "Validation failed for field 'out_dir'. Failure reason: 'data/processed' does not match '^(/|s3a?://)'"
    assert reason in done.stdout + done.stderr
    assert stack.api.post("/flow_runs/count", json={}).json() == runs_before


def test_the_schedule_fires_without_anyone_starting_a_run(stack: Stack) -> None:
    out = stack.tmp / "archive-scheduled"
    schedule = {
        "schedule": {"interval": 5},
        "active": True,
        "max_scheduled_runs": 1,
        # One capture per batch: the scheduled run also decodes and labels on the default process pool.
        "parameters": {
            "raw_dir": str(stack.raw_dir),
            "out_dir": str(out),
            "execution": {"decode_batch_captures": 1, "batch_captures": 1},
        },
    }
    created = stack.api.post(f"/deployments/{stack.deployment_id}/schedules", json=[schedule])
    assert created.status_code == 201, created.text
    schedule_id = created.json()[0]["id"]
    try:

        def scheduled_runs() -> list[dict[str, Any]]:
            query = {"deployments": {"id": {"any_": [stack.deployment_id]}}, "sort": "START_TIME_ASC", "limit": 50}
            runs = stack.api.post("/flow_runs/filter", json=query).json()
            mine = [r for r in runs if r["auto_scheduled"] and r["parameters"]["out_dir"] == str(out)]
            return [r for r in mine if r["state_type"] != "SCHEDULED"]  # picked up by the runner

        first = wait_for(scheduled_runs, RUN_TIMEOUT_S, "a run from the interval schedule to start")[0]
        # One started run proves the schedule; pause it so no further runs compete for the database
        # (pausing deletes only runs still waiting in Scheduled).
        paused = stack.api.patch(f"/deployments/{stack.deployment_id}/schedules/{schedule_id}", json={"active": False})
        assert paused.status_code == 204, paused.text
        run = finished_run(stack, first["id"])
    finally:  # also deletes the runs it scheduled meanwhile
        stack.api.delete(f"/deployments/{stack.deployment_id}/schedules/{schedule_id}")
    assert "auto-scheduled" in run["tags"]
    tasks = stack.api.post("/task_runs/filter", json={"flow_runs": {"id": {"any_": [run["id"]]}}}).json()
    decoding = [t for t in tasks if t["name"].startswith("decode-and-split-lines")]
    assert len(decoding) == len(list(stack.raw_dir.iterdir())), "one decoding task per capture"
    assert_matches_gold(out)


def state_time(stack: Stack, run_id: str, name: str) -> datetime:
    [entered] = [s["timestamp"] for s in stack.api.get("/flow_run_states/", params={"flow_run_id": run_id}).json()
                 if s["name"] == name]  # fmt: skip
    return datetime.fromisoformat(entered)


def test_two_runs_at_once_queue_and_the_second_starts_within_5_s_of_the_first(stack: Stack) -> None:
    """One run at a time, and no idle wait between them: the server's 30 s retry of a queued run is not used."""
    out = stack.tmp / "archive-twice"
    replies = [create_run(stack, out), create_run(stack, out)]
    assert [r.status_code for r in replies] == [201, 201], [r.text for r in replies]
    runs = sorted((finished_run(stack, r.json()["id"]) for r in replies), key=lambda r: r["start_time"])
    assert runs[0]["end_time"] <= runs[1]["start_time"], "the runs overlapped"
    first_ended = datetime.fromisoformat(runs[0]["end_time"])
    assert datetime.fromisoformat(runs[1]["created"]) < first_ended  # it was queued, not started after
    taken = state_time(stack, runs[1]["id"], "Pending") - first_ended
    started = datetime.fromisoformat(runs[1]["start_time"]) - first_ended
    # Taken by the runner within its poll interval (2 s + 30 % jitter); Running once its process has started.
    assert taken < timedelta(seconds=5), f"taken {taken} after the first run ended, running after {started}"
    once = without_times(archive_tables(stack.raw_dir))
    twice = without_times(read_archive(out))
    for name in TABLES:
        assert_frame_equal(twice[name], once[name], check_row_order=False)
    assert_matches_gold(out)


def test_the_command_reports_to_a_running_server_when_prefect_api_url_is_set(stack: Stack) -> None:
    """`newsarchive run` with PREFECT_API_URL starts no temporary server: its run is on that server's page."""
    out = stack.tmp / "archive-from-the-command"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_API_URL": f"{stack.ui_url}/api", "PREFECT_HOME": str(stack.tmp / "command-home")}
    done = subprocess.run(
        [sys.executable, "-m", "flows.cli", "run", "--raw-dir", str(stack.raw_dir), "--out-dir", str(out)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT_S, check=False,
    )  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    assert "quarantined: 1" in done.stdout
    assert "temporary server" not in output.lower(), output[-3000:]
    runs = stack.api.post("/flow_runs/filter", json={"sort": "EXPECTED_START_TIME_DESC", "limit": 50}).json()
    ours = [r for r in runs if r["parameters"].get("out_dir") == str(out)]
    assert [r["state_type"] for r in ours] == ["COMPLETED"], ours
    assert ours[0]["deployment_id"] is None  # started by the command, not by the deployment
    assert_matches_gold(out)


# --- The UI in a real browser ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        missing = f"{CHROMIUM} is missing: `apt-get install -y chromium` (.ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(missing)  # CI installs it: a browser test that cannot run there is a failure
        pytest.skip(f"{missing}; skipped because CI is not set")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield page
    context.close()


def form_field(page: Page, title: str, control: str) -> Locator:
    """The input of the V1 Custom run form's property titled `title` (its labels are not tied to the inputs)."""
    titled = f"(normalize-space() = '{title}' or normalize-space() = '{title} (Optional)')"  # required or not
    label = f"//span[contains(@class, 'schema-form-property__label') and {titled}]"
    prop = "ancestor::div[contains(concat(' ', normalize-space(@class), ' '), ' schema-form-property ')][1]"
    return page.locator(f"xpath={label}/{prop}//{control}")


def open_run_menu(page: Page, stack: Stack, ui: str = V1) -> None:
    """Deployments → newsarchive → Run: the menu with Quick run and Custom run, in the V1 UI or the default (V2)."""
    if ui == V1:
        page.goto(f"{stack.ui_url}/deployments")
    else:  # as a person gets there: the server's address opens the default UI, whose menu leads to the deployments
        page.goto(stack.ui_url)
        page.wait_for_url(f"**{V2}/**")
        page.get_by_role("link", name="Deployments", exact=True).click()
    page.get_by_role("link", name="newsarchive", exact=True).first.click()
    page.wait_for_url("**/deployments/deployment/**")
    expect(page.get_by_text(re.compile(r"^At 02:00 AM")).first).to_be_visible()
    page.get_by_role("button", name="Run", exact=True).click()
    expect(page.get_by_text("Custom run", exact=True)).to_be_visible()


def deployment_run_ids(stack: Stack) -> set[str]:
    body = {"deployments": {"id": {"any_": [stack.deployment_id]}}}
    return {run["id"] for run in stack.api.post("/flow_runs/filter", json=body).json()}


UI_ATTEMPTS = 3
UI_ATTEMPT_WAIT_S = 60
# A refusal as each UI shows it: V1's toast with an error icon, V2's toast of type error.
ERROR_TOASTS = ".p-toast__icon--error, [data-sonner-toast][data-type='error']"
TOASTS = ".p-toast__message, [data-sonner-toast]"


def start_run_from_the_ui(page: Page, stack: Stack, click: Callable[[], None]) -> str:
    """Click what starts a run; returns the id of the run it started.

    The run is found through the API, not through the "View run" toast: the toast lives a few seconds and on a
    loaded machine the submit's reply can come after it would have gone (CI once missed it for 30 s). Prefect's
    UI does not retry a request its API refuses (SQLite busy on a loaded machine), nor one that is lost: a click
    answered with an error toast, or with nothing for UI_ATTEMPT_WAIT_S, is made again, as a person would, at most
    UI_ATTEMPTS times in all. A late answer to an earlier click may then start a second run: the test takes the
    first and waits for the others, so that they do not run into the next test.
    """
    errors = page.locator(ERROR_TOASTS)
    runs_before = deployment_run_ids(stack)
    outcomes: list[str] = []
    for attempt in range(UI_ATTEMPTS):
        errors_before = errors.count()
        click()
        deadline = time.monotonic() + UI_ATTEMPT_WAIT_S * (2 if attempt == UI_ATTEMPTS - 1 else 1)
        while time.monotonic() < deadline:
            started = deployment_run_ids(stack) - runs_before
            if started:
                run_id, *late = sorted(started, key=lambda run: stack.api.get(f"/flow_runs/{run}").json()["created"])
                for other in late:
                    finished_run(stack, other)
                return run_id
            if errors.count() > errors_before:
                outcomes.append("refused: " + " | ".join(page.locator(TOASTS).all_inner_texts()))
                break
            time.sleep(0.5)
        else:
            page.screenshot(path=SCREENSHOTS / f"no-run-started-{attempt + 1}.png")
            toasts = page.locator(TOASTS).all_inner_texts()
            outcomes.append(f"no run {UI_ATTEMPT_WAIT_S} s after the click; toasts: {toasts}")
    raise AssertionError(f"the UI started no run in {UI_ATTEMPTS} clicks: {outcomes}\n{log_tail(stack.log)}")


def submit_form(page: Page, fill: Callable[[], None]) -> Callable[[], None]:
    """The custom run form's Submit, for start_run_from_the_ui: a click made again comes after the form is
    loaded anew and `fill` has filled it in again (a refused submit can leave the form answering no click)."""
    clicks = 0

    def submit() -> None:
        nonlocal clicks
        if clicks:
            page.reload()
            fill()
        clicks += 1
        page.get_by_role("button", name="Submit").click()

    return submit


def run_artifact_ids(stack: Stack, run_id: str) -> dict[str, str]:
    """The run's artifacts by key: the pages of its own, not the newest of each key (another run's, maybe)."""
    artifacts = stack.api.post("/artifacts/filter", json={"flow_runs": {"id": {"any_": [run_id]}}}).json()
    return {artifact["key"]: artifact["id"] for artifact in artifacts}


def check_finished_run_page(page: Page, stack: Stack, run_id: str, shots: str) -> None:
    """In both UIs, once the run completed: its page lists its artifacts; the summary shows the counts and the
    quarantined capture, the quarantine table its row with the reason."""
    finished_run(stack, run_id)
    artifacts = run_artifact_ids(stack, run_id)
    for ui in (V2, V1):
        name = "v2" if ui else "v1"
        page.goto(f"{stack.ui_url}{ui}/runs/flow-run/{run_id}")
        expect(page.get_by_text("Completed", exact=True).first).to_be_visible()
        artifacts_tab = (
            page.get_by_role("tab", name="Artifacts") if ui == V2 else page.get_by_text("Artifacts", exact=True)
        )
        artifacts_tab.click()
        for key in ("archive-run-summary", "archive-quarantine", "archive-progress"):
            expect(page.get_by_text(key, exact=True).last).to_be_visible()
        page.screenshot(path=SCREENSHOTS / f"{shots}-{name}-run-artifacts.png")
        page.goto(f"{stack.ui_url}{ui}/artifacts/artifact/{artifacts['archive-run-summary']}")
        expect(page.get_by_role("heading", name="Archive run")).to_be_visible()
        expect(page.get_by_role("row", name="captures read 3")).to_be_visible()
        expect(page.get_by_role("row", name="quarantined 1")).to_be_visible()
        expect(page.get_by_text(BROKEN).first).to_be_visible()
        expect(page.get_by_role("heading", name="Time per stage")).to_be_visible()
        page.screenshot(path=SCREENSHOTS / f"{shots}-{name}-run-summary.png", full_page=True)
        page.goto(f"{stack.ui_url}{ui}/artifacts/artifact/{artifacts['archive-quarantine']}")
        row = page.get_by_role("row").filter(has_text=BROKEN)
        expect(row).to_have_count(1)  # V2 showed "No results." for a table given as columns
        expect(row).to_contain_text("binary data, not text")
        page.screenshot(path=SCREENSHOTS / f"{shots}-{name}-run-quarantine.png")


@pytest.mark.browser
def test_quick_run_from_the_default_ui_archives_the_seeds(stack: Stack, page: Page) -> None:
    open_run_menu(page, stack, V2)
    page.screenshot(path=SCREENSHOTS / "1-deployment-run-menu.png")
    if os.environ.get("NEWSARCHIVE_UPDATE_DOCS_SCREENSHOT"):
        shutil.copy(SCREENSHOTS / "1-deployment-run-menu.png", DOCS_SCREENSHOT)
    clicks = 0

    def quick_run() -> None:
        nonlocal clicks
        if clicks:  # the menu closed with the click before
            open_run_menu(page, stack, V2)
        clicks += 1
        page.get_by_role("menuitem", name="Quick run").click()
        # The folders are required parameters: V2 shows them, filled in with the deployment's, before it runs.
        dialog = page.get_by_role("dialog", name="Run Deployment")
        expect(dialog.get_by_label("Archive directory", exact=True)).to_have_value(str(stack.out_dir))
        dialog.get_by_role("button", name="Run", exact=True).click()

    run_id = start_run_from_the_ui(page, stack, quick_run)
    check_finished_run_page(page, stack, run_id, "2-quick")
    assert_matches_gold(stack.out_dir)


@pytest.mark.browser
def test_custom_run_from_the_ui_writes_where_the_form_says(stack: Stack, page: Page) -> None:
    out = stack.tmp / "archive-custom"
    open_run_menu(page, stack)
    page.get_by_text("Custom run", exact=True).click()
    page.wait_for_url("**/run?**")
    archive_dir = form_field(page, "Archive directory", "textarea")
    expect(archive_dir).to_have_value(str(stack.out_dir))
    # Each section of the form says what it is for (its help text), the Grouping section included.
    expect(page.get_by_text(str(ArchiveParams.model_fields["match"].description), exact=True)).to_be_visible()
    archive_dir.fill(str(out))
    page.screenshot(path=SCREENSHOTS / "3-custom-run-form.png")
    run_id = start_run_from_the_ui(page, stack, submit_form(page, lambda: archive_dir.fill(str(out))))
    check_finished_run_page(page, stack, run_id, "4-custom")
    assert_matches_gold(out)


@pytest.mark.browser
def test_a_custom_run_with_the_archive_directory_cleared_keeps_the_deployments(stack: Stack, page: Page) -> None:
    """Cleared in the default UI's form, the folder is left out of the run's parameters: the deployment's stands."""
    open_run_menu(page, stack, V2)
    page.get_by_role("menuitem", name="Custom run").click()
    page.wait_for_url("**/run**")
    archive_dir = page.get_by_label("Archive directory", exact=True)
    expect(archive_dir).to_have_value(str(stack.out_dir))
    archive_dir.fill("")
    page.screenshot(path=SCREENSHOTS / "6-v2-custom-run-cleared.png", full_page=True)
    run_id = start_run_from_the_ui(page, stack, submit_form(page, lambda: archive_dir.fill("")))
    run = finished_run(stack, run_id)
    assert (run["parameters"]["raw_dir"], run["parameters"]["out_dir"]) == (str(stack.raw_dir), str(stack.out_dir))
    assert_matches_gold(stack.out_dir)


@pytest.mark.browser
def test_the_form_refuses_a_bad_value_and_names_the_field(stack: Stack, page: Page) -> None:
    runs_before = stack.api.post("/flow_runs/count", json={}).json()
    open_run_menu(page, stack)
    page.get_by_text("Custom run", exact=True).click()
    page.wait_for_url("**/run?**")
    form_field(page, "Shingle length (words)", "input").fill("1")
    page.get_by_role("button", name="Submit").click()
    refusal = page.get_by_text("Validation failed for field 'match.shingle_words'").last  # toasts come in twos
    expect(refusal).to_contain_text("1 is less than the minimum of 2")
    expect(page.locator(ERROR_TOASTS).first).to_be_visible()  # as start_run_from_the_ui tells refusals
    page.screenshot(path=SCREENSHOTS / "5-custom-run-refused.png")
    assert page.url.split("?")[0].endswith("/run")  # still on the form
    assert stack.api.post("/flow_runs/count", json={}).json() == runs_before
