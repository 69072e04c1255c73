"""Target specifications, parsed eagerly and expanded lazily.

Accepted tokens (``PORT`` is optional everywhere and overrides ``--port``):

=====================================  ==========================================
``192.0.2.7``, ``192.0.2.7:PORT``       one IPv4 address
``192.0.2.0/24``, ``192.0.2.0/24:PORT`` an IPv4 CIDR block (host bits ignored)
``192.0.2.1-20``                         last-octet range (``.1`` to ``.20``)
``192.0.2.250-192.0.3.5``                full range, inclusive
``2001:db8::1``, ``fe80::1%eth0``        one IPv6 address, optional zone (%scope)
``[2001:db8::1]:PORT``                   IPv6 with a port
``2001:db8::/120``                       an IPv6 CIDR block
``host.example.com``, ``name:PORT``      a host name: every A and AAAA address
=====================================  ==========================================

:func:`parse` validates every token (targets, ``-iL`` files, excludes) before
anything is resolved or sent, raising :class:`~smbguard.errors.TargetError` that
names the bad token. Host names are resolved by :meth:`TargetSet.resolve`
(``getaddrinfo`` with a timeout), still before any probe. Iterating a
:class:`TargetSet` yields :class:`~smbguard.model.Target` one at a time: a /8 is
never held in memory. Excludes are merged intervals, subtracted from each block
as intervals, so excluding a /9 from a /8 costs nothing per address.
"""

from __future__ import annotations

import asyncio
import bisect
import concurrent.futures
import functools
import ipaddress
import re
import socket
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from smbguard.errors import TargetError
from smbguard.model import Target

DEFAULT_PORT = 445
#: Host names resolved at once (each lookup holds a thread).
RESOLVER_THREADS = 16
_LABEL = r"(?!-)[A-Za-z0-9_-]{1,63}(?<!-)"
_HOSTNAME_RE = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")
_SCOPE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True, slots=True)
class Block:
    """A contiguous, inclusive range of addresses of one IP version, on one port."""

    token: str
    version: int  # 4 or 6
    first: int
    last: int
    port: int
    scope: str | None = None
    hostname: str | None = None

    @property
    def size(self) -> int:
        return self.last - self.first + 1


@dataclass(frozen=True, slots=True)
class Name:
    """A host name still to be resolved."""

    token: str
    name: str
    port: int


Spec = Block | Name


class IntervalSet:
    """Merged, sorted, disjoint address intervals per IP version (the excludes)."""

    def __init__(self, blocks: Iterable[Block] = ()) -> None:
        by_version: dict[int, list[tuple[int, int]]] = {4: [], 6: []}
        for b in blocks:
            by_version[b.version].append((b.first, b.last))
        self._firsts: dict[int, list[int]] = {}
        self._lasts: dict[int, list[int]] = {}
        for version, spans in by_version.items():
            merged: list[tuple[int, int]] = []
            for lo, hi in sorted(spans):
                if merged and lo <= merged[-1][1] + 1:
                    merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
                else:
                    merged.append((lo, hi))
            self._firsts[version] = [lo for lo, _ in merged]
            self._lasts[version] = [hi for _, hi in merged]

    def __bool__(self) -> bool:
        return any(self._firsts.values())

    def contains(self, version: int, value: int) -> bool:
        firsts = self._firsts[version]
        i = bisect.bisect_right(firsts, value) - 1
        return i >= 0 and value <= self._lasts[version][i]

    def subtract(self, version: int, first: int, last: int) -> Iterator[tuple[int, int]]:
        """The parts of ``[first, last]`` not covered by the set, in order."""
        firsts, lasts = self._firsts[version], self._lasts[version]
        i = max(bisect.bisect_right(firsts, first) - 1, 0)
        cur = first
        while cur <= last and i < len(firsts):
            lo, hi = firsts[i], lasts[i]
            if hi < cur:
                i += 1
                continue
            if lo > last:
                break
            if lo > cur:
                yield cur, lo - 1
            cur = max(cur, hi + 1)
            i += 1
        if cur <= last:
            yield cur, last


@dataclass(frozen=True)
class TargetSet:
    """Validated target specifications minus excludes. Iterate for :class:`Target`."""

    specs: tuple[Spec, ...]
    excludes: tuple[Spec, ...] = ()
    tokens: tuple[str, ...] = ()  # the specifications as given, for the report

    @property
    def resolved(self) -> bool:
        return not any(isinstance(s, Name) for s in self.specs + self.excludes)

    async def resolve(self, timeout: float = 5.0) -> TargetSet:
        """Resolve every host name (targets and excludes) to its A and AAAA addresses,
        in parallel, each within ``timeout`` seconds. Raises TargetError naming the
        first name that does not resolve."""
        names = {s.name for s in self.specs + self.excludes if isinstance(s, Name)}
        if not names:
            return self
        ordered = sorted(names)
        # getaddrinfo blocks a thread: a bounded pool of our own, and each name's
        # timeout starts when its lookup starts (not while it waits for a thread).
        pool = concurrent.futures.ThreadPoolExecutor(RESOLVER_THREADS, thread_name_prefix="smbguard-dns")
        slots = asyncio.Semaphore(RESOLVER_THREADS)

        async def one(name: str) -> list[str]:
            async with slots:
                return await resolve_name(name, timeout, pool)

        try:
            answers = await asyncio.gather(*(one(n) for n in ordered), return_exceptions=True)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
        table: dict[str, list[str]] = {}
        for name, answer in zip(ordered, answers, strict=True):
            if isinstance(answer, BaseException):
                if isinstance(answer, TargetError):
                    raise answer
                raise TargetError(f"cannot resolve {name!r}: {answer}") from answer
            table[name] = answer

        def expand(specs: tuple[Spec, ...]) -> tuple[Spec, ...]:
            out: list[Spec] = []
            for s in specs:
                if isinstance(s, Block):
                    out.append(s)
                    continue
                for addr in table[s.name]:
                    block = _single(s.token, addr, s.port)
                    out.append(replace(block, hostname=s.name))
            return tuple(out)

        return TargetSet(expand(self.specs), expand(self.excludes), self.tokens)

    def _blocks(self) -> Iterator[Block]:
        for s in self.specs:
            if isinstance(s, Name):
                raise TargetError(f"host name {s.token!r} is not resolved yet")
            yield s

    def _exclude_set(self) -> IntervalSet:
        blocks = []
        for s in self.excludes:
            if isinstance(s, Name):
                raise TargetError(f"excluded host name {s.token!r} is not resolved yet")
            blocks.append(s)
        return IntervalSet(blocks)

    def count(self) -> int:
        """How many targets iteration yields (duplicates included), without expanding."""
        excl = self._exclude_set()
        total = 0
        for b in self._blocks():
            for lo, hi in excl.subtract(b.version, b.first, b.last):
                total += hi - lo + 1
        return total

    def __iter__(self) -> Iterator[Target]:
        excl = self._exclude_set()
        ntoa = socket.inet_ntoa
        for b in self._blocks():
            suffix = f"%{b.scope}" if b.scope else ""
            for lo, hi in excl.subtract(b.version, b.first, b.last):
                if b.version == 4:
                    for value in range(lo, hi + 1):
                        yield Target(ntoa(value.to_bytes(4, "big")), b.port, b.hostname)
                else:
                    for value in range(lo, hi + 1):
                        yield Target(str(ipaddress.IPv6Address(value)) + suffix, b.port, b.hostname)


async def resolve_name(
    name: str, timeout: float, executor: concurrent.futures.Executor | None = None
) -> list[str]:
    """A and AAAA addresses of ``name`` (order of the resolver, deduplicated)."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.run_in_executor(
                executor, functools.partial(socket.getaddrinfo, name, None, type=socket.SOCK_STREAM)
            )
    except TimeoutError:
        raise TargetError(f"cannot resolve {name!r}: no answer within {timeout:g}s") from None
    except OSError as exc:
        raise TargetError(f"cannot resolve {name!r}: {exc.strerror or exc}") from None
    out: list[str] = []
    for family, _type, _proto, _canon, sockaddr in infos:
        if family not in (socket.AF_INET, socket.AF_INET6):
            continue
        addr = str(sockaddr[0])
        if addr not in out:
            out.append(addr)
    if not out:
        raise TargetError(f"cannot resolve {name!r}: no IPv4 or IPv6 address")
    return out


def _port(token: str, text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise TargetError(f"bad port in target {token!r}: {text!r}")
    return int(text)


def _single(token: str, text: str, port: int) -> Block:
    scope = None
    if "%" in text:
        text, scope = text.split("%", 1)
        if not _SCOPE_RE.match(scope):
            raise TargetError(f"bad IPv6 scope in target {token!r}")
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise TargetError(f"bad address in target {token!r}") from None
    if scope is not None and addr.version != 6:
        raise TargetError(f"a %scope needs an IPv6 address: {token!r}")
    return Block(token, addr.version, int(addr), int(addr), port, scope)


def _split_port(token: str, default_port: int) -> tuple[str, int]:
    """Separate ``host:port`` / ``[v6]:port``; a bare IPv6 literal keeps its colons."""
    if token.startswith("["):
        end = token.find("]")
        if end < 0:
            raise TargetError(f"missing ']' in target {token!r}")
        rest = token[end + 1 :]
        if rest and not rest.startswith(":"):
            raise TargetError(f"unexpected text after ']' in target {token!r}")
        port = _port(token, rest[1:]) if rest else default_port
        return token[1:end], port
    if token.count(":") == 1:
        host, _, port_text = token.partition(":")
        return host, _port(token, port_text)
    return token, default_port


def parse_token(token: str, default_port: int = DEFAULT_PORT) -> Spec:
    """Parse one target token; raises TargetError naming it."""
    token = token.strip()
    if not token:
        raise TargetError("empty target")
    host, port = _split_port(token, default_port)
    if not host:
        raise TargetError(f"missing host in target {token!r}")
    if "/" in host:
        net_text, _, prefix = host.partition("/")
        if "%" in net_text:
            raise TargetError(f"a %scope is not allowed on a CIDR block: {token!r}")
        if not prefix.isdigit():
            raise TargetError(f"bad prefix length in target {token!r}")
        try:
            net = ipaddress.ip_network(host, strict=False)
        except ValueError:
            raise TargetError(f"bad CIDR block in target {token!r}") from None
        return Block(token, net.version, int(net.network_address), int(net.broadcast_address), port)
    if re.match(r"[0-9]+\.[0-9.]*-", host):
        return _range(token, host, port)
    if ":" in host or _looks_numeric(host):
        return _single(token, host, port)
    if _HOSTNAME_RE.match(host):
        return Name(token, host.rstrip(".").lower(), port)
    raise TargetError(f"not an address, range, CIDR block or host name: {token!r}")


def _looks_numeric(host: str) -> bool:
    return bool(re.fullmatch(r"[0-9.]+", host))


def _range(token: str, host: str, port: int) -> Block:
    left, _, right = host.partition("-")
    try:
        start = ipaddress.IPv4Address(left)
    except ValueError:
        raise TargetError(f"bad range start in target {token!r}") from None
    if right.isdigit():
        if int(right) > 255:
            raise TargetError(f"bad range end in target {token!r}")
        end_value = (int(start) & ~0xFF) | int(right)
    else:
        try:
            end_value = int(ipaddress.IPv4Address(right))
        except ValueError:
            raise TargetError(f"bad range end in target {token!r}") from None
    if end_value < int(start):
        raise TargetError(f"range end before start in target {token!r}")
    return Block(token, 4, int(start), end_value, port)


def read_target_file(path: str | Path) -> list[tuple[str, str]]:
    """Tokens of an ``-iL`` / ``--exclude-file`` file as (token, "file:line").

    Blank lines and ``#`` comments are ignored; a line may hold several tokens
    separated by spaces or commas. ``-`` reads standard input."""
    import sys

    if str(path) == "-":
        text = sys.stdin.read()
        label = "<stdin>"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            raise TargetError(f"cannot read target file {str(path)!r}: {exc.strerror or exc}") from None
        label = str(path)
    out: list[tuple[str, str]] = []
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0]
        for tok in re.split(r"[\s,]+", line):
            if tok:
                out.append((tok, f"{label}:{lineno}"))
    return out


def _parse_all(items: Iterable[tuple[str, str | None]], default_port: int) -> list[Spec]:
    specs: list[Spec] = []
    for tok, where in items:
        try:
            specs.append(parse_token(tok, default_port))
        except TargetError as exc:
            if where:
                raise TargetError(f"{where}: {exc}") from None
            raise
    return specs


def parse(
    targets: Sequence[str] = (),
    *,
    files: Sequence[str | Path] = (),
    excludes: Sequence[str] = (),
    exclude_files: Sequence[str | Path] = (),
    default_port: int = DEFAULT_PORT,
) -> TargetSet:
    """Validate every target and exclude; nothing is resolved or sent."""
    if not 1 <= default_port <= 65535:
        raise TargetError(f"bad port {default_port}")
    items: list[tuple[str, str | None]] = [(t, None) for t in targets]
    for f in files:
        items.extend(read_target_file(f))
    if not items:
        raise TargetError("no targets given")
    excl_items: list[tuple[str, str | None]] = []
    for e in excludes:
        excl_items.extend((tok, None) for tok in re.split(r"[\s,]+", e) if tok)
    for f in exclude_files:
        excl_items.extend(read_target_file(f))
    specs = _parse_all(items, default_port)
    excl = _parse_all(excl_items, default_port)
    return TargetSet(tuple(specs), tuple(excl), tuple(t for t, _ in items))
