from collections.abc import Callable
from typing import Any

from smbguard.logs.evtxbin import CLayout, Record

def read_chunk(
    chunk: bytes,
    wanted_ids: frozenset[int],
    layout: Callable[[bytes, int, int, int, int], CLayout | None],
    /,
) -> list[Record] | None: ...
def row(event_id: str, fields: tuple[Any, ...], source: str, /) -> tuple[Any, ...] | None: ...
def configure(kinds: tuple[Any, ...], names: tuple[str, ...], /) -> None: ...
