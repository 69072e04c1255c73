"""Tests of smbguard.engine with stand-in collectors and real loopback sockets.

The collectors here are small fakes that record concurrency and return chosen
facts; the connect sweep talks to real sockets on 127.0.0.1 ports 4560-4579
(this suite's reserved range)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable, Iterator

import pytest

from smbguard.engine import Engine, EngineOptions, Progress, TokenBucket
from smbguard.model import HostFacts, HostResult, PortState, Target

SWEEP_PORTS = range(4560, 4580)


def targets(n: int, base: str = "127.0.12.") -> list[Target]:
    return [Target(f"{base}{i + 1}", 445) for i in range(n)]


class FakeCollector:
    """Records the peak number of concurrent calls; answers with ``answer(target, call_no)``."""

    def __init__(
        self, delay: float = 0.01, answer: Callable[[Target, int], Awaitable[HostFacts]] | None = None
    ):
        self.delay = delay
        self.active = 0
        self.peak = 0
        self.calls: dict[Target, int] = {}
        self.answer = answer

    async def __call__(self, target: Target) -> HostFacts:
        self.active += 1
        self.peak = max(self.peak, self.active)
        n = self.calls.get(target, 0) + 1
        self.calls[target] = n
        try:
            if self.answer is not None:
                return await self.answer(target, n)
            await asyncio.sleep(self.delay)
            return HostFacts(target=target, port_state=PortState.OPEN)
        finally:
            self.active -= 1


async def collect_all(engine: Engine, tgts: list[Target], total: int | None = None) -> list[HostResult]:
    return [r async for r in engine.scan(tgts, total=len(tgts) if total is None else total)]


def test_direct_path_bounds_concurrency_and_yields_every_host() -> None:
    fake = FakeCollector(delay=0.01)
    engine = Engine(fake, EngineOptions(concurrency=5, preconnect=False))
    results = asyncio.run(collect_all(engine, targets(40)))
    assert sorted(r.facts.target.address for r in results) == sorted(t.address for t in targets(40))
    assert fake.peak == 5
    assert engine.done == 40 and engine.open == 40


def test_results_stream_in_completion_order() -> None:
    async def answer(target: Target, _n: int) -> HostFacts:
        await asyncio.sleep(1.5 if target.address.endswith(".1") else 0.01)
        return HostFacts(target=target, port_state=PortState.OPEN)

    async def run() -> list[tuple[str, float]]:
        engine = Engine(FakeCollector(answer=answer), EngineOptions(concurrency=10, preconnect=False))
        start = time.monotonic()
        return [(r.facts.target.address, time.monotonic() - start) async for r in engine.scan(targets(5))]

    got = asyncio.run(run())
    assert got[-1][0] == "127.0.12.1"
    # the fast hosts were delivered before the slow one finished
    assert got[0][1] < 1.0


def test_collector_crash_becomes_an_internal_error_and_the_scan_goes_on() -> None:
    async def answer(target: Target, _n: int) -> HostFacts:
        if target.address.endswith(".2"):
            raise RuntimeError("bug in probe")
        return HostFacts(target=target, port_state=PortState.OPEN)

    results = asyncio.run(
        collect_all(Engine(FakeCollector(answer=answer), EngineOptions(preconnect=False)), targets(3))
    )
    by_addr = {r.facts.target.address: r.facts for r in results}
    assert len(by_addr) == 3
    bad = by_addr["127.0.12.2"]
    assert [(e.probe, e.kind) for e in bad.errors] == [("engine", "internal")]
    assert "RuntimeError" in bad.errors[0].message
    assert by_addr["127.0.12.1"].errors == ()


def test_hanging_collector_is_cut_by_the_host_budget() -> None:
    async def answer(target: Target, _n: int) -> HostFacts:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    opts = EngineOptions(preconnect=False, host_timeout=0.2)
    start = time.monotonic()
    results = asyncio.run(collect_all(Engine(FakeCollector(answer=answer), opts), targets(3)))
    assert time.monotonic() - start < 5
    assert {e.kind for r in results for e in r.facts.errors} == {"timeout"}


@pytest.mark.parametrize(("retries", "expected"), [(0, PortState.FILTERED), (1, PortState.OPEN)])
def test_retries_repeat_a_filtered_host(retries: int, expected: PortState) -> None:
    async def answer(target: Target, n: int) -> HostFacts:
        return HostFacts(target=target, port_state=PortState.FILTERED if n == 1 else PortState.OPEN)

    fake = FakeCollector(answer=answer)
    results = asyncio.run(
        collect_all(Engine(fake, EngineOptions(retries=retries, preconnect=False)), targets(4))
    )
    assert len(results) == 4
    assert {r.facts.port_state for r in results} == {expected}
    assert set(fake.calls.values()) == {retries + 1}


def test_rate_limit_spaces_host_starts() -> None:
    fake = FakeCollector(delay=0)
    engine = Engine(fake, EngineOptions(rate=50, preconnect=False))
    start = time.monotonic()
    results = asyncio.run(collect_all(engine, targets(20)))
    elapsed = time.monotonic() - start
    assert len(results) == 20
    # burst of 5 tokens, then 15 more at 50/s: at least 0.3 s
    assert elapsed >= 0.28


def test_token_bucket_arithmetic() -> None:
    now = [0.0]
    bucket = TokenBucket(10, burst=2, clock=lambda: now[0])
    assert [bucket.reserve() for _ in range(2)] == [0.0, 0.0]
    assert bucket.reserve() == pytest.approx(0.1)
    now[0] = 1.0  # refilled to the burst size, not beyond
    assert [bucket.reserve() for _ in range(2)] == [0.0, 0.0]
    assert bucket.reserve() > 0
    assert TokenBucket(0).reserve() == 0.0


def test_progress_reports_every_host() -> None:
    seen: list[Progress] = []
    engine = Engine(FakeCollector(delay=0), EngineOptions(preconnect=False), progress=seen.append)
    asyncio.run(collect_all(engine, targets(10)))
    assert [p.done for p in seen] == list(range(1, 11))
    assert seen[-1].total == 10 and seen[-1].open == 10
    assert seen[-1].eta == 0
    assert Progress(5, 10, 0, 1.0).eta == pytest.approx(1.0)
    assert Progress(0, None, 0, 1.0).eta is None


def test_stop_ends_the_scan_and_keeps_what_was_found() -> None:
    async def answer(target: Target, _n: int) -> HostFacts:
        last = int(target.address.rsplit(".", 1)[1])
        await asyncio.sleep(0.01 if last <= 3 else 30)
        return HostFacts(target=target, port_state=PortState.OPEN)

    async def run() -> tuple[list[HostResult], Engine, float]:
        engine = Engine(FakeCollector(answer=answer), EngineOptions(concurrency=8, preconnect=False))
        got: list[HostResult] = []
        start = time.monotonic()
        async for r in engine.scan(targets(30)):
            got.append(r)
            if len(got) == 3:
                engine.stop()
        return got, engine, time.monotonic() - start

    got, engine, elapsed = asyncio.run(run())
    assert len(got) == 3
    assert engine.interrupted
    assert elapsed < 5


def test_breaking_out_of_the_iteration_cancels_work() -> None:
    fake = FakeCollector(delay=10)

    async def run() -> int:
        engine = Engine(fake, EngineOptions(concurrency=4, preconnect=False, host_timeout=60))
        agen = engine.scan(targets(10))
        with pytest.raises(asyncio.TimeoutError):
            async with asyncio.timeout(0.2):
                await agen.__anext__()
        await agen.aclose()
        await asyncio.sleep(0)
        return len([t for t in asyncio.all_tasks() if t is not asyncio.current_task()])

    assert asyncio.run(run()) == 0
    assert fake.active == 0


# -- connect sweep on real loopback sockets ---------------------------------


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 4575))
    sock.listen(64)
    yield sock
    sock.close()


def test_sweep_sends_only_open_ports_to_the_collector(listener: socket.socket) -> None:
    fake = FakeCollector(delay=0)
    tgts = [Target("127.0.0.1", p) for p in SWEEP_PORTS]
    engine = Engine(fake, EngineOptions(preconnect=True, concurrency=8))
    results = asyncio.run(collect_all(engine, tgts))
    states = {r.facts.target.port: r.facts.port_state for r in results}
    assert len(results) == len(tgts)
    assert states[4575] is PortState.OPEN
    assert {s for p, s in states.items() if p != 4575} == {PortState.CLOSED}
    assert list(fake.calls) == [Target("127.0.0.1", 4575)]
    closed = next(r.facts for r in results if r.facts.target.port == 4560)
    assert closed.connect_ms is not None
    # the same error the real collector reports for a refused connection
    assert [e.to_dict() for e in closed.errors] == [
        {"probe": "connect", "kind": "refused", "message": "connection refused"}
    ]


def test_sweep_reports_connect_timeout_as_filtered() -> None:
    # A listener with a full accept queue drops further SYNs: connect() times out.
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", 4576))
    srv.listen(0)
    fillers = []
    try:
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            c.connect_ex(("127.0.0.1", 4576))
            fillers.append(c)
        time.sleep(0.1)
        fake = FakeCollector(delay=0)
        engine = Engine(fake, EngineOptions(preconnect=True, timeout=0.3, retries=1))
        start = time.monotonic()
        results = asyncio.run(collect_all(engine, [Target("127.0.0.1", 4576)]))
        elapsed = time.monotonic() - start
    finally:
        for c in fillers:
            c.close()
        srv.close()
    assert [r.facts.port_state for r in results] == [PortState.FILTERED]
    assert [e.kind for e in results[0].facts.errors] == ["timeout"]
    assert 0.55 <= elapsed < 3  # two attempts of 0.3 s
    assert fake.calls == {}


def test_sweep_of_many_closed_addresses_streams_everything() -> None:
    # 2,048 loopback addresses with nothing listening (127.0.66.0/21): all closed.
    from smbguard.targets import parse

    ts = parse(["127.0.66.0/21:4561"])
    fake = FakeCollector(delay=0)
    engine = Engine(fake, EngineOptions(concurrency=256))
    results = asyncio.run(collect_all(engine, list(ts), total=ts.count()))
    assert len(results) == 2048
    assert {r.facts.port_state for r in results} == {PortState.CLOSED}
    assert fake.calls == {}


def test_failing_evaluator_is_recorded_on_the_host_not_lost() -> None:
    def evaluate(facts: HostFacts) -> HostResult:
        if facts.target.address.endswith(".2"):
            raise ImportError("checks are broken")
        return HostResult(facts=facts)

    engine = Engine(FakeCollector(delay=0), EngineOptions(preconnect=False), evaluate=evaluate)
    results = asyncio.run(collect_all(engine, targets(3)))
    assert len(results) == 3
    bad = next(r.facts for r in results if r.facts.target.address.endswith(".2"))
    assert [(e.probe, e.kind) for e in bad.errors] == [("checks", "internal")]
    assert "ImportError" in bad.errors[0].message


def test_hosts_whose_port_did_not_accept_are_not_evaluated() -> None:
    evaluated: list[Target] = []

    def evaluate(facts: HostFacts) -> HostResult:
        evaluated.append(facts.target)
        return HostResult(facts=facts)

    async def answer(target: Target, _n: int) -> HostFacts:
        state = PortState.OPEN if target.address.endswith(".1") else PortState.CLOSED
        return HostFacts(target=target, port_state=state)

    engine = Engine(FakeCollector(answer=answer), EngineOptions(preconnect=False), evaluate=evaluate)
    assert len(asyncio.run(collect_all(engine, targets(3)))) == 3
    assert evaluated == [Target("127.0.12.1", 445)]


def test_sweep_handles_ipv6_targets() -> None:
    fake = FakeCollector(delay=0)
    tgts = [Target("::1", 4562), Target("::1", 4563)]
    results = asyncio.run(collect_all(Engine(fake, EngineOptions(preconnect=True)), tgts))
    assert sorted((r.facts.target.port, r.facts.port_state) for r in results) == [
        (4562, PortState.CLOSED),
        (4563, PortState.CLOSED),
    ]
