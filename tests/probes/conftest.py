"""Real Samba instances for the probe tests (127.0.11.5-10 and [::1]:4520, this task's range)."""

from __future__ import annotations

from tests.helpers.samba import SambaConfig, samba_fixture

CONFIGS = [
    SambaConfig(name="default", address="127.0.11.5", netbios_name="PRDEFAULT"),
    SambaConfig(
        name="nt1only",
        address="127.0.11.6",
        netbios_name="PRNT1ONLY",
        options={"server min protocol": "NT1", "server max protocol": "NT1"},
    ),
    SambaConfig(
        name="smb3sign",
        address="127.0.11.7",
        netbios_name="PRSMB3SIGN",
        options={"server min protocol": "SMB3", "server signing": "mandatory"},
    ),
    SambaConfig(
        name="guest",
        address="127.0.11.8",
        netbios_name="PRGUEST",
        options={"server min protocol": "NT1", "map to guest": "Bad User", "server signing": "mandatory"},
        shares={"public": {"guest ok": "yes", "read only": "yes"}},
    ),
    SambaConfig(
        name="restricted",
        address="127.0.11.9",
        netbios_name="PRRESTRICT",
        options={"restrict anonymous": "2", "server max protocol": "SMB3_00"},
    ),
    SambaConfig(name="nbss", address="127.0.11.10", port=139, netbios_name="PRNBSS"),
]

#: Started separately (tests/probes/test_host.py) so a machine without IPv6 loopback only skips it.
IPV6_CONFIG = SambaConfig(name="ipv6", address="::1", port=4520, netbios_name="PRIPV6")

samba = samba_fixture(CONFIGS, scope="session")
