"""The password/lockout baseline (``catalog/data/password_baseline.toml``) as a typed object."""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources

from smbguard.errors import CatalogError


@dataclass(frozen=True, slots=True)
class Baseline:
    min_length: int
    min_length_without_complexity: int
    complexity: bool
    history_length: int
    min_age_days: float
    max_age_days: float
    lockout_threshold_max: int
    lockout_duration_min_minutes: float
    lockout_window_min_minutes: float


def parse_baseline(text: str) -> Baseline:
    try:
        raw = tomllib.loads(text)
        pw, lock = raw["password"], raw["lockout"]
        return Baseline(
            min_length=int(pw["min_length"]),
            min_length_without_complexity=int(pw["min_length_without_complexity"]),
            complexity=bool(pw["complexity"]),
            history_length=int(pw["history_length"]),
            min_age_days=float(pw["min_age_days"]),
            max_age_days=float(pw["max_age_days"]),
            lockout_threshold_max=int(lock["threshold_max"]),
            lockout_duration_min_minutes=float(lock["duration_min_minutes"]),
            lockout_window_min_minutes=float(lock["window_min_minutes"]),
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CatalogError(f"password_baseline.toml: {type(exc).__name__}: {exc}") from None


@functools.cache
def baseline() -> Baseline:
    text = resources.files("smbguard.catalog").joinpath("data", "password_baseline.toml").read_text("utf-8")
    return parse_baseline(text)
