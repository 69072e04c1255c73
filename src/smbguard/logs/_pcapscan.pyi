from typing import Any

def records(block: bytes, pos: int, big: bool, starts: list[int], ends: list[int], /) -> tuple[int, int]: ...
def epb(buf: bytes, pos: int, iface: int, big: bool, starts: list[int], ends: list[int], /) -> int: ...
def advance(
    block: bytes,
    starts: list[int],
    ends: list[int],
    i: int,
    index: dict[bytes, Any],
    ports: frozenset[int],
    stamp: tuple[int, bool, float],
    quiet: bytes,
    analyzer: object,
    rules: tuple[type, int, int, frozenset[int]],
    /,
) -> int: ...
