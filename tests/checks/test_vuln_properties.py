"""Properties of the vulnerability checks over arbitrary facts (hypothesis).

Whatever a (possibly hostile) server made the probes collect, the checks never
raise, say why when they cannot decide, and keep their safety rules: SMBGhost
is never "confirmed" without a credentialed audit, never affected without
3.1.1 and compression; MS17-010 is affected only on the probe's own verdict;
Samba is never judged by the Windows lifecycle table.
"""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from smbguard.checks import doublepulsar, ms17_010, os_end_of_support, samba_outdated, smbghost, smbleed
from smbguard.model import (
    AuditFacts,
    Confidence,
    HostFacts,
    NtlmInfo,
    PortState,
    Smb1Facts,
    Smb2Facts,
    Status,
    Target,
    VulnProbeFacts,
)

DIALECTS = ("2.0.2", "2.1", "3.0", "3.0.2", "3.1.1")
BUILDS = st.one_of(
    st.sampled_from([0, 2600, 7601, 9600, 14393, 17763, 18362, 18363, 19041, 19045, 20348]),
    st.integers(0, 70000),
)
TEXT = st.text(max_size=60)
STATES = st.sampled_from(["vulnerable", "patched", "infected", "clean", "unknown", "not_run", "weird"])

probe_facts = st.builds(
    VulnProbeFacts,
    STATES,
    st.dictionaries(
        st.sampled_from(["status", "smb1_enabled", "multiplex_id"]),
        st.one_of(st.booleans(), TEXT, st.integers()),
        max_size=3,
    ),
    st.one_of(st.none(), TEXT),
)

host_facts = st.builds(
    HostFacts,
    target=st.just(Target("192.0.2.7")),
    port_state=st.sampled_from(list(PortState)),
    smb1=st.one_of(
        st.none(),
        st.builds(
            Smb1Facts,
            enabled=st.one_of(st.none(), st.booleans()),
            native_os=st.one_of(
                st.none(),
                TEXT,
                st.sampled_from(["Windows 5.1", "Windows 6.1", "Windows Server 2019 Standard 17763"]),
            ),
            native_lan_manager=st.one_of(
                st.none(), TEXT, st.from_regex(r"Samba [0-9]\.[0-9]{1,2}\.[0-9]{1,2}", fullmatch=True)
            ),
        ),
    ),
    smb2=st.one_of(
        st.none(),
        st.builds(
            Smb2Facts,
            dialects=st.lists(st.sampled_from(DIALECTS), unique=True).map(tuple),
            decided=st.booleans(),
            compression_algorithms=st.lists(
                st.sampled_from(["NONE", "LZNT1", "LZ77", "LZ4", "PATTERN_V1"]), unique=True
            ).map(tuple),
        ),
    ),
    ntlm=st.one_of(
        st.none(),
        st.builds(
            NtlmInfo,
            os_major=st.sampled_from([None, 5, 6, 10]),
            os_minor=st.sampled_from([None, 0, 1, 2, 3]),
            os_build=st.one_of(st.none(), BUILDS),
            product=st.one_of(st.none(), st.just("Samba"), TEXT),
        ),
    ),
    ms17_010=st.one_of(st.none(), probe_facts),
    doublepulsar=st.one_of(st.none(), probe_facts),
    audit=st.one_of(
        st.none(),
        st.builds(
            AuditFacts,
            authenticated=st.booleans(),
            current_build=st.one_of(st.none(), BUILDS),
            ubr=st.one_of(st.none(), st.integers(0, 5000)),
            product_name=st.one_of(st.none(), TEXT),
            registry=st.dictionaries(
                st.just(
                    "HKLM\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters\\DisableCompression"
                ),
                st.one_of(st.integers(0, 2), TEXT),
            ),
        ),
    ),
    started=st.one_of(
        st.none(),
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)),
    ),
)

CHECKS = (
    ms17_010.CHECK,
    doublepulsar.CHECK,
    smbghost.CHECK,
    smbleed.CHECK,
    os_end_of_support.CHECK,
    samba_outdated.CHECK,
)


@settings(max_examples=200, deadline=None)
@given(host_facts)
def test_checks_answer_every_host(facts: HostFacts) -> None:
    for check in CHECKS:
        results = list(check.run(facts))
        assert results and all(r.check_id == check.id for r in results)
        for r in results:
            if r.status in (Status.UNKNOWN, Status.NOT_APPLICABLE, Status.MITIGATED):
                assert r.reason, (check.id, r)
            if r.status is Status.AFFECTED:
                assert r.evidence, (check.id, r)
            if not facts.reachable:
                assert r.status in (Status.NOT_APPLICABLE, Status.UNKNOWN)


@settings(max_examples=200, deadline=None)
@given(host_facts)
def test_safety_rules(facts: HostFacts) -> None:
    (ghost,) = smbghost.CHECK.run(facts)
    if ghost.status is Status.AFFECTED and ghost.confidence is Confidence.CONFIRMED:
        assert facts.audit is not None and facts.audit.current_build in (18362, 18363)
        assert facts.audit.ubr is not None and facts.audit.ubr < 720
    if ghost.status is Status.AFFECTED and ghost.confidence is not Confidence.CONFIRMED:
        assert facts.smb2 is not None and "3.1.1" in facts.smb2.dialects
        assert set(facts.smb2.compression_algorithms) - {"NONE"}
    (ms17,) = ms17_010.CHECK.run(facts)
    if ms17.status is Status.AFFECTED:
        assert facts.ms17_010 is not None and facts.ms17_010.state == "vulnerable"
    (dp,) = doublepulsar.CHECK.run(facts)
    if dp.status is Status.AFFECTED:
        assert facts.doublepulsar is not None and facts.doublepulsar.state == "infected"
    (eos,) = os_end_of_support.CHECK.run(facts)
    lanman = facts.smb1.native_lan_manager if facts.smb1 else None
    if lanman and "samba" in lanman.lower():
        assert eos.status is not Status.AFFECTED
