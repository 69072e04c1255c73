from collections.abc import Callable

from smbguard.logs.evtxbin import CLayout, Record

def read_chunk(
    chunk: bytes,
    wanted_ids: frozenset[int],
    layout: Callable[[bytes, int, int, int, int], CLayout | None],
    /,
) -> list[Record] | None: ...
