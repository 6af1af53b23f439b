"""A Dask cluster under the batch stages (`--runner dask`): one that loses its workers, one that outlives the run."""

from __future__ import annotations

import time
from contextlib import suppress
from typing import Any

from prefect.futures import PrefectFuture

NO_WORKER_S = 60.0  # a worker its nanny restarts is back within seconds: none for a minute, and none will come
POLL_S = 2.0


def wait_on_cluster(future: PrefectFuture[Any], client: Any, where: str) -> None:
    """Until `future` is done; RuntimeError once the cluster has had no worker for NO_WORKER_S.

    With every worker gone, a task waits in the scheduler for one, and the run waited,
    holding the archive's lock, until the flow's timeout 6 hours later.
    """
    idle_since: float | None = None
    while not future.wrapped_future.done():  # type: ignore[attr-defined]
        future.wait(POLL_S)
        if client.scheduler_info()["workers"]:
            idle_since = None
            continue
        idle_since = idle_since or time.monotonic()
        if time.monotonic() - idle_since >= NO_WORKER_S:
            raise RuntimeError(
                f"the dask runner has had no worker for {NO_WORKER_S:.0f} s ({where}): "
                "start workers, or run with --runner processes"
            )


def forget_run_servers(client: Any) -> None:
    """On every worker of the cluster, Prefect's event and log senders drained (while the run's server
    still answers) and stopped.

    A sender keeps the API address of the run that made it, and Prefect hands it on to any
    later task on that worker: long-lived workers sent the next runs' events to the
    temporary server of a run that had ended. The next task there makes new ones.
    """
    with suppress(Exception):  # best effort: a worker that is gone keeps nothing
        client.run(_drain_prefect_senders, on_error="ignore")


async def _drain_prefect_senders() -> None:
    """Run on a worker's event loop: async, so that Prefect's drain is awaited, not left undone."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for sender in (EventsWorker, APILogWorker):
        await sender.drain_all(timeout=10, at_exit=False)  # type: ignore[misc]
