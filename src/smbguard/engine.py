"""The scan engine: many targets, bounded concurrency, results streamed as hosts finish.

``Engine.scan(targets)`` is an async iterator of :class:`~smbguard.model.HostResult`
in completion order. Targets are pulled lazily from any iterable (a /8 streams).

Two paths, chosen by :attr:`EngineOptions.preconnect` (default: automatic):

* **direct** (small scans): every target goes straight to the collector
  (``probes.host.collect``), which connects, negotiates and reports the port
  state itself. No extra connection per host.
* **sweep first** (large scans, where most addresses are usually closed): a
  connect phase runs non-blocking ``connect()`` calls on raw sockets watched by
  one ``epoll`` object registered with the event loop (no asyncio transport,
  task or future per address: refusals on a LAN or loopback come back from
  ``connect()`` itself). Only addresses whose port accepted go to the collector.
  Plain ``asyncio.open_connection`` manages 3,000-5,000 closed loopback addresses a second
  here; this path does about three times that (see docs/scanning.md).

``--rate`` is a token bucket on new hosts (sweep connects and collector starts),
``--retries`` repeats a host whose connection timed out or failed, ``--timeout``
bounds each connect and each read, and a per-host budget bounds a collector that
misbehaves. :meth:`Engine.stop` (Ctrl-C) stops starting hosts, cancels those in
progress and ends the iteration cleanly; everything finished before is yielded.
No worker swallows an exception: a collector crash becomes an ``internal`` error
on that host and the scan goes on.
"""

from __future__ import annotations

import _socket
import asyncio
import contextlib
import dataclasses
import errno
import resource
import select
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from smbguard.model import HostFacts, HostResult, PortState, ProbeError, Target

Collector = Callable[[Target], Awaitable[HostFacts]]
Evaluator = Callable[[HostFacts], HostResult]
ProgressCallback = Callable[["Progress"], None]

# A scan of fewer targets than this goes straight to the collector (auto mode).
AUTO_PRECONNECT_MIN = 512
# Let other tasks run after this many synchronous connect() calls.
_YIELD_EVERY = 128


@dataclass(frozen=True, slots=True)
class EngineOptions:
    """How hard and how long to scan. ``rate`` 0 means unlimited."""

    concurrency: int = 256
    rate: float = 0.0
    timeout: float = 3.0
    retries: int = 0
    preconnect: bool | None = None  # None: sweep first when there are many targets
    host_timeout: float | None = None  # whole-host budget; default derived from timeout

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        if self.rate < 0:
            raise ValueError("rate must be >= 0")
        if self.timeout <= 0:
            raise ValueError("timeout must be > 0")
        if self.retries < 0:
            raise ValueError("retries must be >= 0")

    @property
    def host_budget(self) -> float:
        """Upper bound on one host's collection: a few sequential exchanges, each
        bounded by ``timeout``, plus slack."""
        return self.host_timeout if self.host_timeout is not None else self.timeout * 6 + 2


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot for progress displays."""

    done: int
    total: int | None
    open: int
    elapsed: float

    @property
    def rate(self) -> float:
        """Hosts finished per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left at the current rate, None when unknown."""
        if self.total is None or self.rate <= 0:
            return None
        return max(self.total - self.done, 0) / self.rate


class TokenBucket:
    """``rate`` tokens per second, bursts up to ``burst``. ``rate`` 0 never waits."""

    def __init__(self, rate: float, burst: float | None = None, clock: Callable[[], float] = time.monotonic):
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate / 10)
        self._clock = clock
        self._tokens = self.burst
        self._last = clock()

    def reserve(self) -> float:
        """Take one token; return how long to wait before using it (0 = now)."""
        if self.rate <= 0:
            return 0.0
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= 1
        if self._tokens >= 0:
            return 0.0
        return -self._tokens / self.rate

    async def acquire(self) -> None:
        delay = self.reserve()
        if delay > 0:
            await asyncio.sleep(delay)


def raise_fd_limit(wanted: int = 65536) -> int:
    """Raise the soft open-files limit towards ``wanted`` (bounded by the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
    return soft


def _now() -> datetime:
    return datetime.now(UTC)


def _collector_failed(
    target: Target, known_open: bool, connect_ms: float | None, started: datetime, error: ProbeError
) -> HostFacts:
    """A host's facts when its collector gave none (timeout or bug): the engine's error only."""
    return HostFacts(
        target=target,
        port_state=PortState.OPEN if known_open else PortState.ERROR,
        connect_ms=connect_ms,
        started=started,
        finished=_now(),
        errors=(error,),
    )


def plain_result(facts: HostFacts) -> HostResult:
    """The evaluator used when no checks are available: facts, no findings."""
    return HostResult(facts=facts)


_CONNECT_ERRORS: dict[int, tuple[PortState, str]] = {
    errno.ECONNREFUSED: (PortState.CLOSED, "refused"),
    errno.ETIMEDOUT: (PortState.FILTERED, "timeout"),
    errno.EHOSTUNREACH: (PortState.ERROR, "unreachable"),
    errno.ENETUNREACH: (PortState.ERROR, "unreachable"),
    errno.ECONNRESET: (PortState.ERROR, "reset"),
    errno.EADDRNOTAVAIL: (PortState.ERROR, "internal"),
    errno.EACCES: (PortState.ERROR, "denied"),
    errno.EPERM: (PortState.ERROR, "denied"),
}


def _sockaddr(target: Target) -> tuple[int, tuple[object, ...]]:
    if ":" not in target.address:
        return socket.AF_INET, (target.address, target.port)
    info = socket.getaddrinfo(
        target.address, target.port, socket.AF_INET6, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST
    )
    return socket.AF_INET6, tuple(info[0][4])


class _Sweeper:
    """Non-blocking connects on raw sockets, watched by one epoll fd on the loop.

    ``start(target)`` is synchronous: an immediate answer (refusal, local error)
    is reported at once through ``on_result``; a pending connect is completed by
    the epoll callback or expired by a timer. ``on_result(target, state, ms, error)``.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        timeout: float,
        on_result: Callable[[Target, PortState, float | None, ProbeError | None], None],
    ) -> None:
        self._loop = loop
        self._timeout = timeout
        self._on_result = on_result
        self._ep = select.epoll()
        self._pending: dict[int, tuple[_socket.socket, Target, float]] = {}
        self._deadlines: deque[tuple[float, int, _socket.socket]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        loop.add_reader(self._ep.fileno(), self._on_ready)

    @property
    def inflight(self) -> int:
        return len(self._pending)

    def start(self, target: Target) -> None:
        started = time.monotonic()
        try:
            family, addr = _sockaddr(target)
            # the C socket type: no Python-level wrapper work per address
            sock = _socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        except OSError as exc:
            self._report_error(target, exc.errno or 0, started, str(exc.strerror or exc))
            return
        err = sock.connect_ex(addr)
        if err == errno.EINPROGRESS:
            # On a LAN or loopback the refusal has often been processed before
            # connect() returns: then no epoll round trip is needed at all.
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) or errno.EINPROGRESS
        if err == errno.EINPROGRESS:
            fd = sock.fileno()
            self._pending[fd] = (sock, target, started)
            self._ep.register(fd, select.EPOLLOUT | select.EPOLLERR | select.EPOLLHUP)
            deadline = started + self._timeout
            self._deadlines.append((deadline, fd, sock))
            if self._timer is None:
                self._timer = self._loop.call_at(self._loop_time(deadline), self._expire)
            return
        sock.close()
        if err == 0:
            self._on_result(target, PortState.OPEN, _ms(started), None)
        else:
            self._report_error(target, err, started, errno.errorcode.get(err, str(err)))

    def _loop_time(self, monotonic_deadline: float) -> float:
        return self._loop.time() + (monotonic_deadline - time.monotonic())

    def _report_error(self, target: Target, err: int, started: float, text: str) -> None:
        state, kind = _CONNECT_ERRORS.get(err, (PortState.ERROR, "internal"))
        # the same error the collector reports for a refused connection
        message = "connection refused" if state is PortState.CLOSED else f"connect failed: {text}"
        self._on_result(target, state, _ms(started), ProbeError("connect", kind, message))

    def _on_ready(self) -> None:
        for fd, _events in self._ep.poll(0):
            entry = self._pending.pop(fd, None)
            if entry is None:
                continue
            sock, target, started = entry
            self._ep.unregister(fd)
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            sock.close()
            if err == 0:
                self._on_result(target, PortState.OPEN, _ms(started), None)
            else:
                self._report_error(target, err, started, errno.errorcode.get(err, str(err)))

    def _expire(self) -> None:
        self._timer = None
        now = time.monotonic()
        while self._deadlines:
            deadline, fd, sock = self._deadlines[0]
            entry = self._pending.get(fd)
            if entry is None or entry[0] is not sock:
                self._deadlines.popleft()  # finished already (fd may have been reused)
                continue
            if deadline > now:
                self._timer = self._loop.call_at(self._loop_time(deadline), self._expire)
                return
            self._deadlines.popleft()
            del self._pending[fd]
            self._ep.unregister(fd)
            sock.close()
            _, target, started = entry
            error = ProbeError("connect", "timeout", f"no answer within {self._timeout:g}s")
            self._on_result(target, PortState.FILTERED, _ms(started), error)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self._ep.fileno())
        for sock, _target, _started in self._pending.values():
            sock.close()
        self._pending.clear()
        self._deadlines.clear()
        self._ep.close()


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)


class Engine:
    """Runs a collector over many targets. One engine runs one scan."""

    def __init__(
        self,
        collector: Collector,
        options: EngineOptions | None = None,
        *,
        evaluate: Evaluator = plain_result,
        progress: ProgressCallback | None = None,
    ) -> None:
        self._collector = collector
        self.options = options or EngineOptions()
        self._evaluate = evaluate
        self._progress = progress
        self._stopping = False
        self._bucket = TokenBucket(self.options.rate)
        self.interrupted = False
        self.done = 0
        self.open = 0
        self._total: int | None = None
        self._started = time.monotonic()

    def stop(self) -> None:
        """Stop starting hosts and cancel those in progress; the iteration then ends.
        Safe to call from a signal handler installed with ``loop.add_signal_handler``."""
        self._stopping = True
        self.interrupted = True
        wake = getattr(self, "_wake", None)
        if wake is not None:
            wake.set()

    def progress(self) -> Progress:
        return Progress(self.done, self._total, self.open, time.monotonic() - self._started)

    async def scan(self, targets: Iterable[Target], total: int | None = None) -> AsyncIterator[HostResult]:
        """Yield one HostResult per target as each finishes (completion order)."""
        raise_fd_limit()
        opts = self.options
        self._total = total
        self._started = time.monotonic()
        preconnect = opts.preconnect
        if preconnect is None:
            preconnect = total is None or total >= AUTO_PRECONNECT_MIN
        loop = asyncio.get_running_loop()
        out: deque[HostResult] = deque()
        self._wake = wake = asyncio.Event()
        tasks: set[asyncio.Task[None]] = set()
        open_waiting: deque[tuple[Target, float | None]] = deque()
        attempts: dict[Target, int] = {}
        retry_queue: deque[Target] = deque()
        sweeper: _Sweeper | None = None
        failures: list[BaseException | None] = []

        def emit(result: HostResult) -> None:
            self.done += 1
            if result.facts.port_state is PortState.OPEN:
                self.open += 1
            out.append(result)
            wake.set()
            if self._progress is not None:
                self._progress(self.progress())

        def start_probe(target: Target, connect_ms: float | None, known_open: bool) -> None:
            task = loop.create_task(self._probe(target, connect_ms, known_open, emit, retry_queue, attempts))
            tasks.add(task)

            def finished(t: asyncio.Task[None]) -> None:
                tasks.discard(t)
                if not t.cancelled() and t.exception() is not None:
                    failures.append(t.exception())  # a bug: re-raised by the scan
                while open_waiting and len(tasks) < opts.concurrency and not self._stopping:
                    tgt, ms = open_waiting.popleft()
                    start_probe(tgt, ms, True)
                wake.set()

            task.add_done_callback(finished)

        def on_connect(target: Target, state: PortState, ms: float | None, error: ProbeError | None) -> None:
            if state is PortState.OPEN:
                if len(tasks) < opts.concurrency:
                    start_probe(target, ms, True)
                else:
                    open_waiting.append((target, ms))
                return
            n = attempts.get(target, 0)
            if state is not PortState.CLOSED and n < opts.retries:
                attempts[target] = n + 1
                retry_queue.append(target)
                wake.set()
                return
            attempts.pop(target, None)
            now = _now()
            facts = HostFacts(
                target=target,
                port_state=state,
                connect_ms=ms,
                started=now,
                finished=now,
                errors=(error,) if error else (),
            )
            # Nothing to check on a host whose port did not accept.
            emit(plain_result(facts))

        def busy() -> bool:
            if sweeper is not None:
                return sweeper.inflight >= opts.concurrency or len(open_waiting) >= opts.concurrency
            return len(tasks) >= opts.concurrency

        def next_target(it: Iterator[Target]) -> Target | None:
            if retry_queue:
                return retry_queue.popleft()
            return next(it, None)

        async def drive() -> None:
            nonlocal sweeper
            if preconnect:
                sweeper = _Sweeper(loop, opts.timeout, on_connect)
            it = iter(targets)
            exhausted = False
            since_yield = 0
            try:
                while not self._stopping:
                    if busy():
                        wake.clear()
                        await wake.wait()
                        continue
                    target = None if exhausted and not retry_queue else next_target(it)
                    if target is None:
                        exhausted = True
                        pending = (sweeper.inflight if sweeper else 0) + len(tasks) + len(open_waiting)
                        if pending == 0 and not retry_queue:
                            break
                        wake.clear()
                        if pending or retry_queue:
                            await wake.wait()
                        continue
                    if opts.rate > 0:
                        await self._bucket.acquire()
                    if sweeper is not None:
                        sweeper.start(target)
                        since_yield += 1
                        if since_yield >= _YIELD_EVERY:
                            since_yield = 0
                            await asyncio.sleep(0)
                    else:
                        start_probe(target, None, False)
            finally:
                if sweeper is not None:
                    sweeper.close()
                if self._stopping:
                    for task in list(tasks):
                        task.cancel()
                if tasks:
                    await asyncio.gather(*list(tasks), return_exceptions=True)

        driver = loop.create_task(drive())
        driver.add_done_callback(lambda _t: wake.set())
        try:
            while True:
                while out:
                    yield out.popleft()
                if driver.done():
                    if out:
                        continue
                    driver.result()  # re-raise a bug in the driver
                    for exc in failures:
                        if exc is not None:
                            raise exc
                    break
                wake.clear()
                if not out and not driver.done():
                    await wake.wait()
        finally:
            if not driver.done():
                self._stopping = True
                driver.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await driver
            for task in list(tasks):
                task.cancel()

    async def _probe(
        self,
        target: Target,
        connect_ms: float | None,
        known_open: bool,
        emit: Callable[[HostResult], None],
        retry_queue: deque[Target],
        attempts: dict[Target, int],
    ) -> None:
        opts = self.options
        if known_open and opts.rate > 0:
            await self._bucket.acquire()
        started = _now()
        facts: HostFacts
        try:
            async with asyncio.timeout(opts.host_budget):
                facts = await self._collector(target)
        except TimeoutError:
            error = ProbeError("engine", "timeout", f"host did not finish within {opts.host_budget:g}s")
            facts = _collector_failed(target, known_open, connect_ms, started, error)
        except Exception as exc:  # noqa: BLE001 - a collector bug is reported on its host; the scan goes on
            error = ProbeError("engine", "internal", f"collector failed: {type(exc).__name__}: {exc}")
            facts = _collector_failed(target, known_open, connect_ms, started, error)
        if facts.port_state in (PortState.FILTERED, PortState.ERROR) and not self._stopping:
            n = attempts.get(target, 0)
            if n < opts.retries:
                attempts[target] = n + 1
                retry_queue.append(target)
                return
        attempts.pop(target, None)
        # Checks judge what a host says; a port that did not accept says nothing
        # (the sweep path does the same).
        emit(self.evaluate(facts) if facts.port_state is PortState.OPEN else plain_result(facts))

    def evaluate(self, facts: HostFacts) -> HostResult:
        """Run the checks; a failing evaluator is recorded on the host, never loses it."""
        try:
            return self._evaluate(facts)
        except Exception as exc:  # noqa: BLE001 - reported on the host; the scan goes on
            error = ProbeError("checks", "internal", f"checks failed: {type(exc).__name__}: {exc}")
            return HostResult(facts=dataclasses.replace(facts, errors=(*facts.errors, error)))
