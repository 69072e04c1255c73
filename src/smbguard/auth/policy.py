"""SAMR password and lockout values ([MS-SAMR] 2.2.3.5, 2.2.3.15) to :class:`PasswordPolicy`.

SAMR expresses durations as negative counts of 100-nanosecond intervals. Zero and
the most negative 64-bit value both mean "never" for the password ages; for the
lockout duration the most negative value means "until an administrator unlocks the
account", shown as 0 minutes, the same convention as the Group Policy editor.
"""

from __future__ import annotations

from smbguard.model import PasswordPolicy

DOMAIN_PASSWORD_COMPLEX = 0x00000001  # [MS-SAMR] 2.2.1.7 PasswordProperties
_TICKS_PER_MINUTE = 600_000_000
_TICKS_PER_DAY = _TICKS_PER_MINUTE * 60 * 24
_NEVER = -(1 << 63)
# Samba encodes "never" as 2**32 seconds; anything longer than ~27 years is "never".
_NEVER_DAYS = 10_000


def _to_signed64(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


def _age_days(ticks: int) -> float | None:
    ticks = _to_signed64(ticks)
    if ticks in (0, _NEVER):
        return None
    days = abs(ticks) / _TICKS_PER_DAY
    return None if days >= _NEVER_DAYS else round(days, 3)


def _minutes(ticks: int, never_as_zero: bool) -> float | None:
    ticks = _to_signed64(ticks)
    if ticks == _NEVER:
        return 0.0 if never_as_zero else None
    return round(abs(ticks) / _TICKS_PER_MINUTE, 3)


def policy_from_samr(
    *,
    min_length: int,
    history_length: int,
    properties: int,
    max_age: int,
    min_age: int,
    lockout_threshold: int,
    lockout_duration: int,
    lockout_window: int,
) -> PasswordPolicy:
    """Build the policy; ``max_age``/``min_age``/``lockout_*`` are raw SAMR 64-bit values."""
    min_age_days = _age_days(min_age)
    return PasswordPolicy(
        min_length=min_length,
        complexity=bool(properties & DOMAIN_PASSWORD_COMPLEX),
        history_length=history_length,
        max_age_days=_age_days(max_age),
        min_age_days=0.0 if min_age_days is None else min_age_days,
        lockout_threshold=lockout_threshold,
        lockout_duration_minutes=_minutes(lockout_duration, never_as_zero=True),
        lockout_window_minutes=_minutes(lockout_window, never_as_zero=False),
    )
