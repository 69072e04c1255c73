"""Tests of smbguard.targets: every token form, errors naming the token, lazy
expansion of huge blocks, interval excludes, files, resolution."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import itertools
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smbguard.errors import TargetError
from smbguard.model import Target
from smbguard.targets import Block, IntervalSet, Name, parse, parse_token, read_target_file


def addrs(ts: object) -> list[str]:
    return [str(t) for t in ts]  # type: ignore[attr-defined]


def test_single_ipv4_default_and_explicit_port() -> None:
    assert list(parse(["192.0.2.7"])) == [Target("192.0.2.7", 445)]
    assert list(parse(["192.0.2.7:139"])) == [Target("192.0.2.7", 139)]
    assert list(parse(["192.0.2.7"], default_port=4455)) == [Target("192.0.2.7", 4455)]


def test_cidr_ignores_host_bits_and_includes_both_ends() -> None:
    out = [t.address for t in parse(["10.1.2.3/30"])]
    assert out == ["10.1.2.0", "10.1.2.1", "10.1.2.2", "10.1.2.3"]


def test_last_octet_range_and_full_range() -> None:
    assert [t.address for t in parse(["127.0.9.1-3"])] == ["127.0.9.1", "127.0.9.2", "127.0.9.3"]
    out = [t.address for t in parse(["10.0.0.254-10.0.1.1"])]
    assert out == ["10.0.0.254", "10.0.0.255", "10.0.1.0", "10.0.1.1"]


def test_ipv6_forms() -> None:
    assert list(parse(["::1"])) == [Target("::1", 445)]
    assert list(parse(["[::1]:4455"])) == [Target("::1", 4455)]
    assert list(parse(["fe80::1%lo"])) == [Target("fe80::1%lo", 445)]
    assert list(parse(["[fe80::1%eth0]:139"])) == [Target("fe80::1%eth0", 139)]
    assert [t.address for t in parse(["2001:db8::/126"])] == [
        "2001:db8::",
        "2001:db8::1",
        "2001:db8::2",
        "2001:db8::3",
    ]
    assert str(Target("::1", 445)) == "[::1]:445"


def test_hostname_is_kept_unresolved_until_resolve() -> None:
    ts = parse(["localhost:4455"])
    assert ts.specs == (Name("localhost:4455", "localhost", 4455),)
    assert not ts.resolved
    with pytest.raises(TargetError, match="not resolved"):
        list(ts)


def test_resolve_localhost_gives_loopback_with_hostname() -> None:
    ts = asyncio.run(parse(["localhost"]).resolve(timeout=5))
    got = list(ts)
    assert got, "localhost resolved to nothing"
    for t in got:
        assert ipaddress.ip_address(t.address).is_loopback
        assert t.hostname == "localhost"
        assert t.port == 445


def test_unresolvable_name_raises_naming_it() -> None:
    # .invalid is reserved (RFC 2606): never resolves.
    with pytest.raises(TargetError, match=r"nonexistent-host\.invalid"):
        asyncio.run(parse(["nonexistent-host.invalid"]).resolve(timeout=5))


@pytest.mark.parametrize(
    "token",
    [
        "300.1.1.1",
        "10.0.0.5-2",
        "10.0.0.0/33",
        "10.0.0.0/abc",
        "a..b",
        "[::1",
        "[::1]x",
        "fe80::1%",
        "1.2.3.4-300",
        "1.2.3.4-1.2.3",
        "host:0",
        "host:65536",
        "host:http",
        "1.2.3.4%eth0",
        "fe80::/64%eth0",
        "-leading.example",
        "::1:2:3:4:5:6:7:8:9",
        "1.2.3",
        "",
    ],
)
def test_bad_tokens_raise_target_error_naming_the_token(token: str) -> None:
    with pytest.raises(TargetError) as info:
        parse([token] if token else ["  "])
    if token.strip():
        assert repr(token) in str(info.value)


def test_one_bad_token_rejects_the_whole_list_before_iteration() -> None:
    with pytest.raises(TargetError, match=r"'999\.0\.0\.1'"):
        parse(["127.0.0.1", "10.0.0.0/8", "999.0.0.1"])


def test_no_targets_is_an_error() -> None:
    with pytest.raises(TargetError, match="no targets"):
        parse([])


def test_slash_eight_streams_without_expansion() -> None:
    start = time.perf_counter()
    ts = parse(["10.0.0.0/8"], excludes=["10.128.0.0/9", "10.0.0.1"])
    assert ts.count() == (1 << 24) - (1 << 23) - 1
    first = list(itertools.islice(ts, 3))
    assert [t.address for t in first] == ["10.0.0.0", "10.0.0.2", "10.0.0.3"]
    # counting and taking the head of a /8 is instantaneous: nothing is materialised
    assert time.perf_counter() - start < 1.0


def test_huge_ipv6_block_counts_and_streams() -> None:
    ts = parse(["2001:db8::/64"])
    assert ts.count() == 1 << 64
    assert next(iter(ts)).address == "2001:db8::"


def test_excludes_by_range_cidr_and_comma_list() -> None:
    ts = parse(["127.0.9.1-20"], excludes=["127.0.9.2,127.0.9.10-12", "127.0.9.16/30"])
    got = [int(t.address.rsplit(".", 1)[1]) for t in ts]
    assert got == [1, 3, 4, 5, 6, 7, 8, 9, 13, 14, 15, 20]
    assert ts.count() == len(got)


def test_exclude_of_other_version_does_not_interfere() -> None:
    ts = parse(["127.0.0.1", "::1"], excludes=["::/0"])
    assert [t.address for t in ts] == ["127.0.0.1"]


def test_target_file_with_comments_commas_and_errors_name_the_line(tmp_path: Path) -> None:
    f = tmp_path / "targets.txt"
    f.write_text("# lab\n127.0.0.1, 127.0.0.2  # two\n\n[::1]:4455\n")
    ts = parse(files=[f])
    assert addrs(ts) == ["127.0.0.1:445", "127.0.0.2:445", "[::1]:4455"]
    assert read_target_file(f)[2] == ("[::1]:4455", f"{f}:4")
    f.write_text("127.0.0.1\nbad..name\n")
    with pytest.raises(TargetError, match=r"targets.txt:2: .*'bad..name'"):
        parse(files=[f])


def test_exclude_file(tmp_path: Path) -> None:
    f = tmp_path / "ex.txt"
    f.write_text("127.0.0.2\n127.0.0.4\n")
    assert [t.address for t in parse(["127.0.0.1-5"], exclude_files=[f])] == [
        "127.0.0.1",
        "127.0.0.3",
        "127.0.0.5",
    ]


def test_missing_target_file_is_a_target_error(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="cannot read"):
        parse(files=[tmp_path / "nope.txt"])


def test_tokens_are_kept_for_the_report() -> None:
    assert parse(["127.0.0.1", "10.0.0.0/30"]).tokens == ("127.0.0.1", "10.0.0.0/30")


# -- properties ------------------------------------------------------------

v4 = st.integers(0, (1 << 32) - 1)


@settings(max_examples=200, deadline=None)
@given(a=v4, span=st.integers(0, 300), excl=st.lists(st.tuples(v4, st.integers(0, 50)), max_size=6))
def test_range_minus_excludes_matches_naive_set(a: int, span: int, excl: list[tuple[int, int]]) -> None:
    b = min(a + span, (1 << 32) - 1)
    start, end = ipaddress.IPv4Address(a), ipaddress.IPv4Address(b)
    excl_tokens = [
        f"{ipaddress.IPv4Address(lo)}-{ipaddress.IPv4Address(min(lo + n, (1 << 32) - 1))}" for lo, n in excl
    ]
    # Exclude around the range too, so some excludes overlap it.
    excl_tokens += [f"{ipaddress.IPv4Address(max(a - 2, 0))}-{ipaddress.IPv4Address(a)}"] if excl else []
    ts = parse([f"{start}-{end}"], excludes=excl_tokens)
    excluded: set[int] = set()
    for tok in excl_tokens:
        lo_s, hi_s = tok.split("-")
        excluded.update(range(int(ipaddress.IPv4Address(lo_s)), int(ipaddress.IPv4Address(hi_s)) + 1))
    expected = [v for v in range(a, b + 1) if v not in excluded]
    got = [int(ipaddress.IPv4Address(t.address)) for t in ts]
    assert got == expected
    assert ts.count() == len(expected)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_arbitrary_text_is_parsed_or_rejected_with_target_error(text: str) -> None:
    with contextlib.suppress(TargetError):
        parse_token(text)


@settings(max_examples=100, deadline=None)
@given(addr=v4, prefix=st.integers(16, 32), port=st.integers(1, 65535))
def test_cidr_count_equals_iteration(addr: int, prefix: int, port: int) -> None:
    net = ipaddress.IPv4Network((addr, prefix), strict=False)
    ts = parse([f"{net}:{port}"])
    assert ts.count() == net.num_addresses
    if net.num_addresses <= 4096:
        got = list(ts)
        assert [t.address for t in got] == [str(h) for h in net]
        assert {t.port for t in got} == {port}


@settings(max_examples=100, deadline=None)
@given(
    spans=st.lists(st.tuples(st.integers(0, 1000), st.integers(0, 30)), max_size=8),
    lo=st.integers(0, 1100),
)
def test_interval_set_contains_and_subtract(spans: list[tuple[int, int]], lo: int) -> None:
    blocks = [Block("x", 4, a, a + n, 445) for a, n in spans]
    s = IntervalSet(blocks)
    covered = {v for a, n in spans for v in range(a, a + n + 1)}
    for v in range(lo, lo + 40):
        assert s.contains(4, v) == (v in covered)
    rest = [v for a, b in s.subtract(4, lo, lo + 40) for v in range(a, b + 1)]
    assert rest == [v for v in range(lo, lo + 41) if v not in covered]


def test_many_names_resolve_in_a_bounded_pool_and_each_gets_its_own_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """100 names that each take 0.05 s: with a per-name timeout of 0.5 s none may time
    out while waiting for a thread (100 x 0.05 s would exceed it if timeouts counted
    the queue)."""
    import socket as socket_module
    import threading

    active = [0, 0]  # current, peak
    lock = threading.Lock()

    def slow_getaddrinfo(host: str, *_a: object, **_k: object) -> list[tuple[object, ...]]:
        with lock:
            active[0] += 1
            active[1] = max(active[1], active[0])
        time.sleep(0.05)
        with lock:
            active[0] -= 1
        n = int(host.split("-")[1].split(".")[0])
        return [(socket_module.AF_INET, socket_module.SOCK_STREAM, 6, "", (f"127.0.13.{n}", 0))]

    monkeypatch.setattr(socket_module, "getaddrinfo", slow_getaddrinfo)
    names = [f"host-{i}.example" for i in range(1, 101)]
    ts = asyncio.run(parse(names).resolve(timeout=0.5))
    assert sorted(t.address for t in ts) == sorted(f"127.0.13.{i}" for i in range(1, 101))
    from smbguard.targets import RESOLVER_THREADS

    assert active[1] <= RESOLVER_THREADS
