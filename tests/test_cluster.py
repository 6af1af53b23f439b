"""The batch stages on a Dask cluster that outlives the run (`--runner dask --dask-address`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from distributed import Client, LocalCluster

from tasks.core.config import ArchiveParams, ExecutionConfig, ReadConfig
from tasks.decode import ReadingBatch, decode_captures
from tasks.runtime.execution import batch_runner
from tasks.synth.corpus import write_corpus
from tasks.write import read_archive

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]


@pytest.fixture
def cluster() -> Iterator[LocalCluster]:
    """A scheduler and a worker process started before the run, and still there after it."""
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster


def prefect_senders() -> list[str]:
    """Run on a worker: Prefect's event and log senders alive there."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    return [type(s).__name__ for c in (EventsWorker, APILogWorker) for s in c._instances.values() if not s._stopped]


def test_a_run_leaves_no_prefect_sender_on_the_workers_and_its_folders_reach_them_whole(
    cluster: LocalCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.archive import archive

    write_corpus(tmp_path / "corpus", articles=8, seed=3, workers=1)
    monkeypatch.chdir(tmp_path)  # the worker runs where the cluster was started, not here
    on_cluster = ExecutionConfig(
        runner="dask", dask_address=cluster.scheduler_address, decode_batch_captures=10, batch_captures=10
    )
    # The flow takes absolute folders only (the command makes its relative ones absolute where it starts).
    params = ArchiveParams(raw_dir=str(tmp_path / "corpus" / "raw"), out_dir=str(tmp_path / "archive"),
                           execution=on_cluster)  # fmt: skip
    summary = archive(**params.flow_parameters())
    assert summary["archived"] == summary["captures"] > 20
    assert read_archive(tmp_path / "archive")["articles"].height == summary["articles"]
    with Client(cluster.scheduler_address) as client:
        # The senders keep the API of the run that made them (a temporary server, gone with its run).
        assert set(map(tuple, client.run(prefect_senders).values())) == {()}


def test_a_batch_stage_fails_naming_the_runner_once_the_cluster_has_no_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tasks.runtime.cluster.NO_WORKER_S", 2.0)  # a minute in a run
    monkeypatch.setattr("tasks.runtime.cluster.POLL_S", 0.2)
    failed: list[BaseException] = []

    def run_stage(address: str) -> None:
        batches = [ReadingBatch([]), ReadingBatch([])]
        try:
            with batch_runner(ExecutionConfig(runner="dask", dask_address=address)) as runner:
                runner.map(decode_captures, batches, limits=ReadConfig(), shelf_dir=str(tmp_path))
        except BaseException as err:
            failed.append(err)

    with LocalCluster(n_workers=0, processes=True, dashboard_address=None) as workerless:
        stage = threading.Thread(target=run_stage, args=(workerless.scheduler_address,), daemon=True)
        stage.start()
        stage.join(60)
        assert not stage.is_alive(), "still waiting for a worker after 60 s"
    assert len(failed) == 1
    error: Any = failed[0]
    assert isinstance(error, RuntimeError)
    assert str(error).startswith("the dask runner has had no worker for 2 s (scheduler tcp://")
