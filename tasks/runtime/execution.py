"""Where the batch stages run: Prefect task runners chosen by a flow parameter.

The flow's parameters come from the UI form, so the runner cannot be fixed when
the flow is decorated: the flow opens the runner its parameters name and submits
the batch stages to it.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import multiprocessing
import os
import pickle
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from contextvars import ContextVar
from typing import Any, Generic, NamedTuple, Self, TypeVar

from prefect.futures import PrefectFuture
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.task_runners import (
    ProcessPoolTaskRunner,
    TaskRunner,
    ThreadPoolTaskRunner,
    _initialize_process_pool_worker,
)
from prefect.tasks import Task

from tasks.core.config import ArchiveParams, ExecutionConfig
from tasks.core.folders import count_files

T = TypeVar("T")
R = TypeVar("R")


def hand_back_freed_memory() -> None:
    """Return the heap's free pages to the system (glibc's malloc_trim; elsewhere nothing).

    A stage that builds many short-lived strings leaves the heap fragmented: after grouping
    9,917 captures the flow process kept 164 MB it no longer used, 49 MB after a trim.
    """
    trim = _glibc("malloc_trim")
    if trim is not None:
        trim(0)


def _glibc(name: str) -> Any:
    """glibc's function `name`, or None where the C library is not glibc."""
    try:
        return getattr(ctypes.CDLL("libc.so.6"), name, None)
    except OSError:
        return None


# glibc's mallopt option for the size from which a block is mapped on its own, and the size: its own first value.
_M_MMAP_THRESHOLD = -3
_OWN_MAPPING_BYTES = 128 * 1024


def memory_policy_for_batches() -> None:
    """How a process that runs batch stages takes memory: large blocks mapped apart, no huge pages asked for."""
    map_large_blocks_apart()
    no_huge_page_advice()


def no_huge_page_advice() -> None:
    """numpy stops asking the kernel for huge pages for its arrays of 4 MiB and more, unless the user set it.

    Where the kernel gives huge pages only on request (transparent_hugepage "madvise") and its
    memory is fragmented, the first touch of every page of such an array waits on compaction,
    often to get no huge page at all: a stage's arrays are made and dropped by the hundred.
    NUMPY_MADVISE_HUGEPAGE, numpy's own setting, is left to rule where it is set.
    """
    if "NUMPY_MADVISE_HUGEPAGE" in os.environ:
        return
    toggle = getattr(_numpy_multiarray(), "_set_madvise_hugepage", None)
    if toggle is not None:
        toggle(False)


def _numpy_multiarray() -> Any:
    """numpy's C core module, where its huge page setting lives (numpy._core from 2.0, numpy.core before)."""
    try:
        return importlib.import_module("numpy._core.multiarray")
    except ImportError:
        return importlib.import_module("numpy.core.multiarray")


def map_large_blocks_apart() -> None:
    """Blocks of 128 KiB or more (a batch's arrays) mapped apart, and so given back to the system when freed.

    glibc starts so, but raises the size each time such a block is freed (up to 32 MiB): then the
    arrays come from the heap, and the heap keeps what they leave until malloc_trim. Set for the
    whole process (glibc's mallopt; elsewhere nothing).
    """
    mallopt = _glibc("mallopt")
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, _OWN_MAPPING_BYTES)


# glibc's largest size for mapping blocks apart: from it on, a block is always mapped on its own.
_LARGEST_MAPPING_THRESHOLD = 32 * 1024 * 1024


@contextmanager
def large_blocks_from_the_heap() -> Iterator[None]:
    """Blocks under 32 MiB taken from the heap for a while, then mapped apart again and the heap trimmed.

    For a part that makes and drops many arrays of a few MiB (the model, quote linking): each
    mapped apart is fresh memory for the system to map and zero, page by page.
    """
    mallopt = _glibc("mallopt")
    if mallopt is not None:
        mallopt(_M_MMAP_THRESHOLD, _LARGEST_MAPPING_THRESHOLD)
    try:
        yield
    finally:
        if mallopt is not None:
            mallopt(_M_MMAP_THRESHOLD, _OWN_MAPPING_BYTES)
        hand_back_freed_memory()


@contextmanager
def gc_paused(*, freeze_survivors: bool = False) -> Iterator[None]:
    """Python's cycle collector off for one batch: its objects are acyclic tuples, freed by reference counts.

    Millions of new tuples make the collector run again and again over all that is
    alive: 30 % of decoding 4,970 captures (1.64 s, 1.07 s without) and 9 % of building
    their articles. A batch is bounded, and the collector runs again after it.

    `freeze_survivors`, for a whole run: what is still alive at the end (every capture,
    line and row of the run, freed by reference counts when the flow returns) is left out
    of later collections (gc.freeze), or the first one visits it all: 0.4 s after 100,187
    captures. What an earlier run froze is unfrozen when the next one starts.
    """
    was_enabled = gc.isenabled()
    if freeze_survivors:
        gc.unfreeze()
    gc.disable()
    try:
        yield
    finally:
        if freeze_survivors:
            gc.freeze()
        if was_enabled:
            gc.enable()


def worker_count(cfg: ExecutionConfig) -> int:
    """The workers asked for, or one per core this process may use."""
    return cfg.workers or len(os.sched_getaffinity(0))


def make_task_runner(cfg: ExecutionConfig, preload: Sequence[str] = ()) -> TaskRunner[Any]:
    """The task runner the parameters name (not started); a process pool's workers import `preload` first."""
    workers = worker_count(cfg)
    if cfg.runner == "threads":
        return ThreadPoolTaskRunner(max_workers=workers)
    if cfg.runner == "dask":
        from prefect_dask.task_runners import DaskTaskRunner  # imported here: Dask is heavy and most runs never use it

        if cfg.dask_address:
            return DaskTaskRunner(address=cfg.dask_address)
        # One thread per worker process: the stages are pure Python and hold the GIL.
        return DaskTaskRunner(cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True})
    worker_args = (os.getpid(), tuple(preload))
    return StagePoolTaskRunner(max_workers=workers, initializer=start_stage_worker, initargs=worker_args)


class _StartedPool(NamedTuple):
    executor: ProcessPoolExecutor
    messages: Any  # the queue through which the workers send Prefect's events and logs to this process
    workers: int


_started_pool: _StartedPool | None = None


@contextmanager
def workers_started_early(params: ArchiveParams, preload: Sequence[str] = ()) -> Iterator[None]:
    """Start the process pool's workers before the flow, for a run that will surely use them.

    On Prefect's temporary server a run first waits about 3 s for the server, a core idle,
    and the workers then took 1.3 s more to start (each spends 1.7 CPU-s importing Prefect
    and the stages) before the first batch. Started here, they import while the server
    starts, and the flow's task runner takes them over (StagePoolTaskRunner). Workers the
    run did not take are stopped on the way out.
    """
    global _started_pool
    execution = params.execution
    smallest_batch = min(execution.batch_captures, execution.decode_batch_captures)
    wanted = execution.runner == "processes" and _started_pool is None
    # count_files is 0 for a missing folder: the flow says what is wrong with it
    if wanted and count_files(params.raw_dir) > smallest_batch:
        workers = worker_count(execution)
        context = multiprocessing.get_context("spawn")  # as Prefect's pool: a fork would copy this process's threads
        messages = context.Queue()
        executor = ProcessPoolExecutor(
            max_workers=workers, mp_context=context,
            initializer=_initialize_process_pool_worker,
            initargs=(messages, start_stage_worker, (os.getpid(), tuple(preload))),
        )  # fmt: skip
        for _ in range(workers):
            executor.submit(os.getpid)  # each submit to a busy pool starts one more worker
        _started_pool = _StartedPool(executor, messages, workers)
    try:
        yield
    finally:
        _discard_started_pool()


def _take_started_pool(workers: int) -> _StartedPool | None:
    """The started pool, when it has as many workers as wanted (else it is stopped); it is no longer held here."""
    global _started_pool
    pool, _started_pool = _started_pool, None
    if pool is not None and pool.workers != workers:
        _stop(pool)
        return None
    return pool


def _discard_started_pool() -> None:
    global _started_pool
    pool, _started_pool = _started_pool, None
    if pool is not None:
        _stop(pool)


def _stop(pool: _StartedPool) -> None:
    pool.executor.shutdown(cancel_futures=True)
    pool.messages.close()


class StagePoolTaskRunner(ProcessPoolTaskRunner):
    """Prefect's process pool, on workers workers_started_early() started when it did.

    __enter__ is Prefect 3.8's, with the started pool's executor and message queue in place
    of new ones (Prefect is pinned: see pyproject.toml).
    """

    def __enter__(self) -> Self:
        pool = _take_started_pool(self._max_workers)
        if pool is None:
            return super().__enter__()
        TaskRunner.__enter__(self)
        self._subprocess_message_queue = pool.messages
        self._message_forwarding_thread = threading.Thread(
            target=self._forward_subprocess_messages, name="ProcessPoolTaskRunnerMessageForwarder", daemon=True
        )
        self._message_forwarding_thread.start()
        self._executor = pool.executor
        self._resolver_executor = ThreadPoolExecutor(max_workers=self._max_workers)
        return self


def start_stage_worker(parent: int, preload: tuple[str, ...]) -> None:
    """Run once in each new worker process: tie it to `parent`, then import the stage modules `preload` names.

    Named by the flow, which knows its batch stages; imported up front, with polars, numpy and
    rapidfuzz, while the flow still lists and reads.

    Ctrl-C reaches the terminal's whole process group, workers included: they ignore it,
    and the parent alone decides what happens. A worker of `newsarchive run` starts with
    SIGINT and SIGTERM blocked, as the run blocks them (flows/lifetime.py): unblocked here,
    so that its pool can still stop it with SIGTERM, as it does when the pool breaks.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    exit_with_parent(parent)
    memory_policy_for_batches()
    for module in preload:
        importlib.import_module(module)


def exit_with_parent(parent: int, *, every_s: float = 0.2) -> None:
    """End this process as soon as `parent` has ended, however it ended (SIGKILL included).

    Without it a pool's workers lived on under PID 1 after their parent was killed: they
    share the pipes of their task queue with one another, so none of them sees it close.
    The parent's pid is handed over, not read here: the parent may have died while this
    process started. (PR_SET_PDEATHSIG would fire when the thread that started a worker
    ends, not its process, and Prefect starts workers from threads of its own.)
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class Sealed(Generic[T]):
    """A stage's result that Prefect hands on without looking inside; read it with `value`.

    Prefect walks a task's result to link each item to its state: 1.2 s for the 100,187
    captures discovery returns. Across processes it travels as one pickled bytes object,
    unpickled when `value` is first read: Prefect's process pool unpickles every result
    twice (once in a callback that only checks that it can): about 3 CPU-s of the flow
    process at 100,000 captures, taken from the workers' two cores.
    """

    __slots__ = ("_pickled", "_value")

    def __init__(self, value: T) -> None:
        self._value = value
        self._pickled: bytes | None = None

    @property
    def value(self) -> T:
        if self._pickled is not None:
            self._value = pickle.loads(self._pickled)
            self._pickled = None
        return self._value

    def __reduce__(self) -> tuple[Any, ...]:
        return (_sealed, (pickle.dumps(self.value, protocol=pickle.HIGHEST_PROTOCOL),))


def _sealed(pickled: bytes) -> Sealed[Any]:
    sealed: Sealed[Any] = Sealed.__new__(Sealed)
    sealed._pickled = pickled
    return sealed


def batch_count(items: int, size: int, *, parts_multiple_of: int = 1) -> int:
    """How many batches of at most `size` of the items; when several, a multiple of `parts_multiple_of`
    where the items allow: with one per worker, no worker is left with the last batch while the others wait."""
    if items == 0:
        return 0
    n = -(-items // size)
    return min(items, -(-n // parts_multiple_of) * parts_multiple_of) if n > 1 else n


def split_evenly(items: Sequence[T], size: int, *, parts_multiple_of: int = 1) -> list[list[T]]:
    """Consecutive batches of the items, `batch_count()` of them, as even as that allows (no tiny last batch)."""
    n = batch_count(len(items), size, parts_multiple_of=parts_multiple_of)
    if n == 0:
        return []
    bounds = [round(i * len(items) / n) for i in range(n + 1)]
    return [list(items[bounds[i] : bounds[i + 1]]) for i in range(n)]


_CORES_FOR_THIS_BATCH: ContextVar[int] = ContextVar("cores_for_this_batch", default=1)


def cores_for_this_batch() -> int:
    """The cores a batch task may use: every worker's when its batch is the stage's only one (it runs in the
    flow's process, the workers idle), else its own."""
    return _CORES_FOR_THIS_BATCH.get()


class BatchRunner:
    """Runs one task over many batches: in this process when there is a single batch, else on the task runner.

    The runner starts on first use, so a run with little to do never pays for
    starting worker processes or a Dask cluster.
    """

    def __init__(self, cfg: ExecutionConfig, preload: Sequence[str] = ()) -> None:
        self.cfg = cfg
        self.preload = tuple(preload)  # the modules a process pool's workers import first
        self._runner: TaskRunner[Any] | None = None
        self._stack = ExitStack()  # the task runner: may be left on another thread (release)
        # Settings live in context variables: they are restored on the thread that set them.
        self._settings = ExitStack()
        self._closing: Future[None] | None = None

    def map(
        self, task: Task[..., Sealed[R]], batches: Sequence[Any], *, on_done: Callable[[int], None] | None = None,
        **common: Any,
    ) -> list[R]:  # fmt: skip
        """`task(batch, **common)` for every batch, results unsealed in batch order; `on_done(n)` after each n-th.

        Batches should be plain objects (not collections or dataclasses), and the common
        arguments small: Prefect walks collections looking for futures, and Dask rebuilds
        tuples, which undoes `quote()`.
        """
        results: list[R] = []

        def collect(result: Sealed[R]) -> None:
            results.append(result.value)
            if on_done is not None:
                on_done(len(results))

        if len(batches) <= 1:
            alone = _CORES_FOR_THIS_BATCH.set(worker_count(self.cfg))  # the workers have nothing else to do
            try:
                for batch in batches:
                    collect(task(batch, **common))
            finally:
                _CORES_FOR_THIS_BATCH.reset(alone)
            return results
        runner = self._started()
        # A few batches in flight per worker, not all: each one submitted is a copy of its input.
        window = 2 * worker_count(self.cfg)
        futures: deque[PrefectFuture[Sealed[R]]] = deque()
        for batch in batches:
            if len(futures) == window:
                collect(self._result(futures.popleft()))
            futures.append(runner.submit(task, {"batch": batch, **common}))
        while futures:
            collect(self._result(futures.popleft()))
        return results

    def _result(self, future: PrefectFuture[Sealed[R]]) -> Sealed[R]:
        if self.cfg.runner == "dask":
            from tasks.runtime.cluster import wait_on_cluster

            where = f"scheduler {self.cfg.dask_address}" if self.cfg.dask_address else "its local cluster"
            wait_on_cluster(future, getattr(self._runner, "client", None), where)
        return future.result()

    def start_workers_for(self, new_files: int) -> None:
        """Start the task runner and its workers now, while the flow does other work, if
        `new_files` (a guess from counting names) surely makes several batches of a stage.

        A process pool otherwise starts its workers on the first batches: 4.5 s (spawning,
        importing) before a run's first batch began, the whole run waiting.
        """
        if new_files <= min(self.cfg.batch_captures, self.cfg.decode_batch_captures):
            return  # perhaps a single batch, run in the flow's process: no pool to start
        runner = self._started()
        # Prefect's process pool keeps its executor here (3.8); Dask starts its cluster on entry.
        executor = getattr(runner, "_executor", None)
        if isinstance(executor, ProcessPoolExecutor):
            for _ in range(worker_count(self.cfg)):
                executor.submit(os.getpid)  # each submit to a busy pool starts one more worker

    def _started(self) -> TaskRunner[Any]:
        if self._runner is None:
            url = temporary_server_url()
            if url is not None:  # workers report to this run's server instead of starting their own
                self._settings.enter_context(temporary_settings({PREFECT_API_URL: url}))
            self._runner = self._stack.enter_context(make_task_runner(self.cfg, self.preload))
            if self.cfg.dask_address:  # workers that outlive the run: what earlier runs left there, and this one
                from tasks.runtime.cluster import forget_run_servers

                client = getattr(self._runner, "client", None)
                forget_run_servers(client)
                self._stack.callback(forget_run_servers, client)  # before the runner disconnects
        return self._runner

    def release(self) -> None:
        """Shut the task runner down while the flow goes on; `close()` waits for it.

        Its worker processes take 0.4 s to exit after a 100,000-capture run (they free
        their memory first): the flow plans the tables meanwhile.
        """
        stack, self._stack, self._runner = self._stack, ExitStack(), None
        closing: Future[None] = Future()

        def shut_down() -> None:
            try:
                stack.close()
            except BaseException as err:  # handed to close(), on the flow's thread
                closing.set_exception(err)
            else:
                closing.set_result(None)

        threading.Thread(target=shut_down, name="batch-runner-shutdown", daemon=True).start()
        self._closing = closing

    def close(self) -> None:
        """Shut the task runner down (waiting for a release() under way) and restore the settings."""
        closing, self._closing = self._closing, None
        try:
            self._stack.close()
            self._runner = None
            if closing is not None:
                closing.result()
        finally:
            self._settings.close()


def temporary_server_url() -> str | None:
    """The API of the temporary server this process started, when no PREFECT_API_URL names a server.

    Without it every worker process would start a temporary server of its own (20 s each),
    and the batch tasks would be recorded there instead of beside their flow run.
    """
    if PREFECT_API_URL.value():
        return None
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer._instances.get(None)  # the one get_client() starts in embedded mode
    return server.api_url if server is not None and server.running else None


@contextmanager
def batch_runner(cfg: ExecutionConfig, preload: Sequence[str] = ()) -> Iterator[BatchRunner]:
    """A BatchRunner whose task runner (if one was started) is shut down on the way out."""
    runner = BatchRunner(cfg, preload)
    try:
        yield runner
    finally:
        runner.close()
