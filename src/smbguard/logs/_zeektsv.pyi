def scan(
    data: bytes,
    start: int,
    end: int,
    sep: bytes,
    unset: bytes,
    fields: tuple[int, ...],
    names: tuple[str, ...],
    last: int,
    ts_at: int,
    /,
) -> tuple[object, object, list[tuple[int, int, int]], int, int]: ...
