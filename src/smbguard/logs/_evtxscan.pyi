from collections.abc import Mapping

def scan(
    xml: str, interesting: frozenset[str], /
) -> tuple[str, dict[str, str] | None, str | None, str | None, str | None] | None: ...
def values(
    data: Mapping[str, str], keys: tuple[str, ...], empty: frozenset[str], /
) -> tuple[str | None, ...]: ...
