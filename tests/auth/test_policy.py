"""SAMR values to PasswordPolicy (values recorded from Samba 4.17's default passdb policy)."""

from __future__ import annotations

from smbguard.auth.policy import policy_from_samr
from smbguard.auth.session import _old_large


def test_samba_defaults() -> None:
    # MaxPasswordAge LowPart 9999999 / HighPart -10000000 (2**32 s: "never"),
    # LockoutDuration = LockoutObservationWindow = -18000000001 (30 min), threshold 0.
    max_age = _old_large({"LowPart": 9999999, "HighPart": -10000000})
    policy = policy_from_samr(
        min_length=5,
        history_length=0,
        properties=0,
        max_age=max_age,
        min_age=0,
        lockout_threshold=0,
        lockout_duration=-18000000001,
        lockout_window=-18000000001,
    )
    assert policy.min_length == 5
    assert policy.complexity is False
    assert policy.history_length == 0
    assert policy.max_age_days is None
    assert policy.min_age_days == 0.0
    assert policy.lockout_threshold == 0
    assert policy.lockout_duration_minutes == 30.0
    assert policy.lockout_window_minutes == 30.0


def test_windows_style_values() -> None:
    day = 864_000_000_000
    policy = policy_from_samr(
        min_length=14,
        history_length=24,
        properties=0x1,
        max_age=-42 * day,
        min_age=-1 * day,
        lockout_threshold=5,
        lockout_duration=-(1 << 63),  # until an administrator unlocks
        lockout_window=-15 * 600_000_000,
    )
    assert policy.complexity is True
    assert policy.max_age_days == 42.0
    assert policy.min_age_days == 1.0
    assert policy.lockout_duration_minutes == 0.0
    assert policy.lockout_window_minutes == 15.0


def test_never_expires_encodings() -> None:
    for raw in (0, -(1 << 63), (1 << 63)):
        policy = policy_from_samr(
            min_length=0,
            history_length=0,
            properties=0,
            max_age=raw,
            min_age=0,
            lockout_threshold=0,
            lockout_duration=0,
            lockout_window=0,
        )
        assert policy.max_age_days is None
