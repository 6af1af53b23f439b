"""How `newsarchive run` ends on Ctrl-C or SIGTERM: within seconds, its run marked Crashed, nothing left running.

From the start of a run SIGINT and SIGTERM are blocked in every thread (threads and child
processes inherit the mask), and one thread waits for them. Whatever the flow is doing when one
comes (a stage in native code, a wait on its workers, Prefect's flush at exit), that thread marks
the flow run Crashed, stops the workers and the temporary server, and ends the process with
128 + the signal's number. A Python handler runs only on the main thread between bytecodes,
and the KeyboardInterrupt it raised inside Prefect left the run waiting for minutes on a
temporary server that the same Ctrl-C had stopped.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import signal
import sys
import threading
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing import resource_tracker
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.client.schemas.objects import FlowRun, State

STOPPING = frozenset({signal.SIGINT, signal.SIGTERM})
MARK_TIMEOUT_S = 2.0  # the Crashed state takes about 0.1 s; a server that does not answer must not hold the exit
EXIT_WITHIN_S = 4.5  # after the signal, whatever its clean-up is waiting on: Ctrl-C ends a run within 5 s


@dataclass
class RunWatch:
    """What the signal thread knows of the run: its flow run, once there is one."""

    flow_run_id: UUID | None = None
    flow_run_name: str = ""

    def note_run_for_ctrl_c(self, flow: Flow[..., Any], flow_run: FlowRun, state: State) -> None:
        """The flow's on_running hook."""
        self.flow_run_id, self.flow_run_name = flow_run.id, flow_run.name


def stop_on_signals() -> RunWatch:
    """From now on, for the rest of the process, SIGINT and SIGTERM end it as the module says.

    Call it before any thread or process starts: they inherit the blocked signals.
    """
    # multiprocessing's helper process unblocks both on the thread that starts it: started first, it
    # starts with them unblocked and ignores them itself, and nothing unblocks them later.
    resource_tracker.ensure_running()
    signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING)
    watch = RunWatch()
    threading.Thread(target=_stop_on_signal, args=(watch,), name="stop-on-signal", daemon=True).start()
    return watch


def _stop_on_signal(watch: RunWatch) -> None:
    signum = signal.sigwait(STOPPING)
    code = 128 + signum
    deadline = threading.Timer(EXIT_WITHIN_S, os._exit, (code,))  # whatever below hangs, the process ends
    deadline.daemon = True
    deadline.start()
    _signal_children(signal.SIGSTOP)  # frozen, not killed: a dead worker would fail the run before it is marked
    outcome = _mark_crashed(watch, signum) if watch.flow_run_id is not None else "before the flow run began"
    print(f"newsarchive: stopped by {signal.Signals(signum).name}, {outcome}", file=sys.stderr, flush=True)
    _silence()  # what the flow's threads say as they are cut short would bury that line
    _signal_children(signal.SIGKILL)
    if "tasks.runtime.server" in sys.modules:  # else Prefect is not even imported yet: no server to stop
        from tasks.runtime.server import kill_temporary_server

        kill_temporary_server()
    # What multiprocessing does first at a normal exit: its queues' semaphores unlinked here, not
    # left to its helper process, which removed them too but printed a warning for them.
    multiprocessing.util._run_finalizers(0)  # type: ignore[attr-defined]
    os._exit(code)


def _signal_children(signum: int) -> None:
    """The workers this process started (a process pool's, a local Dask cluster's); not the temporary server."""
    for child in multiprocessing.active_children():
        if child.pid is not None:
            with suppress(ProcessLookupError):
                os.kill(child.pid, signum)


def _mark_crashed(watch: RunWatch, signum: int) -> str:
    """Mark the flow run Crashed, as Prefect marks a run it sees interrupted, unless it has ended; what became of it."""
    from prefect import get_client
    from prefect.states import Crashed

    assert watch.flow_run_id is not None
    run_id, name = watch.flow_run_id, watch.flow_run_name
    outcome = [f"flow run {name!r} not marked Crashed: the Prefect server did not answer"]

    def mark() -> None:
        from tasks.runtime.server import on_server

        try:
            with on_server(), get_client(sync_client=True) as client:
                state = client.read_flow_run(run_id).state
                if state is not None and state.is_final():
                    outcome[0] = f"after flow run {name!r} ended {state.name}"
                    return
                message = f"Execution was aborted by {signal.Signals(signum).name}."
                client.set_flow_run_state(run_id, Crashed(message=message), force=True)
            outcome[0] = f"flow run {name!r} marked Crashed; the next run finishes or drops what it began"
        except Exception as err:
            outcome[0] = f"flow run {name!r} not marked Crashed: {err}"

    marking = threading.Thread(target=mark, name="mark-crashed", daemon=True)
    marking.start()
    marking.join(MARK_TIMEOUT_S)
    return outcome[0]


def _silence() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)


class InterruptUntilHeard:
    """A signal handler for `make serve`'s processes: KeyboardInterrupt, raised again until `heard()` is called.

    Python drops an exception that a handler raises while a callback runs (a weak reference's, inside an
    import): it printed "Exception ignored", and the process went on as if no signal had come. So the first
    signal starts a thread that sends it again every `every_s` seconds, while this is still the signal's
    handler (Prefect's runner takes SIGTERM over once it starts), until the clean-up begins.
    """

    def __init__(self, every_s: float = 0.5) -> None:
        self.every_s = every_s
        self._heard = threading.Event()
        self._again: threading.Thread | None = None

    def __call__(self, signum: int, frame: object) -> None:
        if self._heard.is_set():
            return  # one sent again as the clean-up began
        if self._again is None and not self._heard.is_set():
            self._again = threading.Thread(target=self._send_again, args=(signum,), name="interrupt-again", daemon=True)
            self._again.start()
        raise KeyboardInterrupt

    def heard(self) -> None:
        """The clean-up has begun: no more signals from this handler."""
        self._heard.set()

    def _send_again(self, signum: int) -> None:
        while not self._heard.wait(self.every_s) and signal.getsignal(signum) is self:
            os.kill(os.getpid(), signum)
