"""host.collect against real Samba instances (one per configuration) and hostile peers."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time

import pytest

from smbguard.errors import ConnectTimeout, ReadTimeout
from smbguard.lab import Lab, personas
from smbguard.lab.personas import Persona
from smbguard.model import HostFacts, PortState, Target
from smbguard.net.transport import Limits
from smbguard.probes import base, doublepulsar, host, ms17_010
from smbguard.probes.host import ProbeOptions, collect
from smbguard.proto import smb1
from tests.helpers.samba import SambaLab, require_samba
from tests.probes.conftest import IPV6_CONFIG

pytestmark = pytest.mark.integration

OPTS = ProbeOptions(limits=Limits(connect_timeout=2, read_timeout=2))


@pytest.fixture(scope="module")
def facts(samba: SambaLab) -> dict[str, HostFacts]:
    async def run() -> dict[str, HostFacts]:
        names = [inst.name for inst in samba]
        results = await asyncio.gather(*(collect(Target(i.address, i.port), OPTS) for i in samba))
        return dict(zip(names, results, strict=True))

    return asyncio.run(run())


def test_default_samba(facts: dict[str, HostFacts]) -> None:
    f = facts["default"]
    assert f.port_state is PortState.OPEN and f.errors == ()
    assert f.smb1 is not None and f.smb1.enabled is False and "0xFFFF" in (f.smb1.reason or "")
    assert f.smb2 is not None and f.smb2.decided
    assert f.smb2.dialects == ("2.0.2", "2.1", "3.0", "3.0.2", "3.1.1") and f.smb2.highest == "3.1.1"
    assert f.smb2.server_guid is not None and f.smb2.encryption_ciphers == ("AES_128_GCM",)
    assert f.smb2.compression_algorithms == ()  # Samba 4.17 answers no compression context
    assert "ENCRYPTION" in f.smb2.capabilities and "LARGE_MTU" in f.smb2.capabilities
    assert f.signing.required is False and f.signing.enabled is True and f.signing.smb1_required is None
    assert f.ntlm is not None and f.ntlm.netbios_computer == "PRDEFAULT" and f.ntlm.os_version == "6.1.0"
    assert f.ntlm.product == "Samba" and f.os == "Samba"
    assert f.sessions.null is True and f.sessions.guest is False
    assert "LOGON_FAILURE" in (f.sessions.guest_reason or "")


def test_smb1_only_samba(facts: dict[str, HostFacts]) -> None:
    f = facts["nt1only"]
    assert f.smb1 is not None and f.smb1.enabled is True and f.smb1.dialect == "NT LM 0.12"
    assert f.smb1.native_lan_manager is not None and f.smb1.native_lan_manager.startswith("Samba 4.")
    assert f.os == f.smb1.native_lan_manager
    assert f.smb2 is not None and f.smb2.dialects == () and f.smb2.decided  # closes every SMB2 NEGOTIATE
    assert f.signing.required is False and f.signing.smb1_required is False
    assert f.ntlm is not None and f.ntlm.netbios_computer == "PRNT1ONLY"  # from the SMB1 CHALLENGE
    assert f.sessions.null is True and "SMB1" in (f.sessions.null_reason or "")
    assert f.sessions.guest is False


def test_smb3_only_signing_mandatory(facts: dict[str, HostFacts]) -> None:
    f = facts["smb3sign"]
    assert f.smb2 is not None and f.smb2.dialects == ("3.1.1",) and f.smb2.decided
    assert f.smb2.security_modes == {"3.1.1": 3}
    assert f.smb1 is not None and f.smb1.enabled is False
    assert f.signing.required is True and f.signing.smb2_required is True


def test_guest_share_and_smb1_signing(facts: dict[str, HostFacts]) -> None:
    f = facts["guest"]
    assert f.smb1 is not None and f.smb1.enabled is True
    assert f.smb1.signing_required is True and f.signing.required is True  # mandatory on SMB1 and SMB2
    assert f.sessions.guest is True and "IS_GUEST" in (f.sessions.guest_reason or "")
    assert f.sessions.null is True


def test_restrict_anonymous_refuses_null_session(facts: dict[str, HostFacts]) -> None:
    f = facts["restricted"]
    assert f.sessions.null is False and "IPC$ refused" in (f.sessions.null_reason or "")
    assert f.smb2 is not None and f.smb2.dialects == ("2.0.2", "2.1", "3.0") and f.smb2.highest == "3.0"


def test_port_139_opens_a_netbios_session(facts: dict[str, HostFacts]) -> None:
    f = facts["nbss"]
    assert f.target.port == 139 and f.netbios_session is True
    assert f.smb2 is not None and "3.1.1" in f.smb2.dialects


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


def test_ipv6_target() -> None:
    if not _ipv6_loopback():
        pytest.skip("this machine has no IPv6 loopback")
    require_samba()
    with SambaLab([IPV6_CONFIG]):
        f = asyncio.run(collect(Target("::1", 4520), OPTS))
    assert str(f.target) == "[::1]:4520" and f.port_state is PortState.OPEN
    assert f.smb2 is not None and f.smb2.highest == "3.1.1" and f.sessions.null is True


def test_skip_null_sessions(samba: SambaLab) -> None:
    inst = samba["guest"]
    f = asyncio.run(collect(Target(inst.address), ProbeOptions(null_sessions=False)))
    assert f.sessions.skipped and f.sessions.null is None and f.sessions.guest is None
    assert f.ntlm is not None  # the CHALLENGE step logs nobody on and still runs
    assert f.smb1 is not None and f.smb1.native_lan_manager is not None  # from the extended CHALLENGE reply


def test_closed_port_is_fast() -> None:
    start = time.perf_counter()
    f = asyncio.run(collect(Target("127.0.11.20", 4519), OPTS))
    assert f.port_state is PortState.CLOSED and f.errors[0].kind == "refused"
    assert time.perf_counter() - start < 1.0


def test_connect_timeout_is_filtered(monkeypatch: pytest.MonkeyPatch) -> None:
    async def never(*args: object) -> object:
        raise ConnectTimeout("no answer within 0.1s")

    monkeypatch.setattr(base, "open_tcp", never)
    f = asyncio.run(collect(Target("127.0.11.20", 445), OPTS))
    assert f.port_state is PortState.FILTERED and f.errors[0].kind == "timeout"


async def _silent(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    await asyncio.sleep(30)


async def _garbage(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    await r.read(4096)
    w.write(b"\x00\x00\x00\x40" + bytes(range(64)))
    await w.drain()
    await asyncio.sleep(30)


async def _huge(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    await r.read(4096)
    w.write(b"\x00\xff\xff\xff")  # a 16 MiB frame, over the 1 MiB default bound
    await w.drain()
    await asyncio.sleep(30)


async def _drip(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    await r.read(4096)
    for byte in b"\x00\x00\x00\x48\xfeSMB@\x00":
        w.write(bytes([byte]))
        await w.drain()
        await asyncio.sleep(0.4)


@pytest.mark.parametrize(
    ("handler", "port", "kinds"),
    [
        (_silent, 4510, {"timeout"}),
        (_garbage, 4511, {"protocol", "timeout"}),
        (_huge, 4512, {"oversized", "timeout"}),
        (_drip, 4513, {"timeout"}),
    ],
)
def test_hostile_servers_end_within_timeouts(handler: object, port: int, kinds: set[str]) -> None:
    limits = Limits(connect_timeout=1, read_timeout=1)

    async def main() -> HostFacts:
        server = await asyncio.start_server(handler, "127.0.0.1", port)  # type: ignore[arg-type]
        async with server:
            return await collect(Target("127.0.0.1", port), ProbeOptions(limits=limits))

    start = time.perf_counter()
    f = asyncio.run(main())
    elapsed = time.perf_counter() - start
    assert elapsed < 4  # parallel probes: about one read timeout, never a sum of them
    assert f.port_state is PortState.OPEN
    assert f.errors and {e.kind for e in f.errors} <= kinds | {"closed", "reset"}
    assert f.smb1 is not None and f.smb1.enabled is None
    assert f.smb2 is not None and f.smb2.dialects == () and not f.smb2.decided
    assert f.signing.required is None and f.sessions.null is None


def test_six_connections_per_host(samba: SambaLab, monkeypatch: pytest.MonkeyPatch) -> None:
    """1 (3.1.1 + sessions) + 4 (other dialects) + 1 (SMB1); sessions reuse them."""
    opened: list[tuple[str, int]] = []
    real_open = base.open_tcp

    async def counting(address: str, port: int, limits: Limits) -> object:
        opened.append((address, port))
        return await real_open(address, port, limits)

    monkeypatch.setattr(base, "open_tcp", counting)
    inst = samba["guest"]
    f = asyncio.run(collect(Target(inst.address), OPTS))
    assert f.sessions.null is not None and f.sessions.guest is not None and f.ntlm is not None
    assert len(opened) == 6


def test_vulnerability_probes_only_where_smb1_is_spoken(
    samba: SambaLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    real_open = base.open_tcp

    async def counting(address: str, port: int, limits: Limits) -> object:
        opened.append(address)
        return await real_open(address, port, limits)

    monkeypatch.setattr(base, "open_tcp", counting)
    opts = ProbeOptions(limits=OPTS.limits, ms17_010=True, doublepulsar=True)
    off = asyncio.run(collect(Target(samba["default"].address), opts))
    assert off.ms17_010 is not None and off.ms17_010.state == "not_run"
    assert off.doublepulsar is not None and off.doublepulsar.state == "not_run"
    assert opened.count(samba["default"].address) == 6  # no connection spent on them
    for name in ("nt1only", "guest"):  # SMB1 only; SMB1 + SMB2 with mandatory signing
        on = asyncio.run(collect(Target(samba[name].address), opts))
        assert on.ms17_010 is not None and on.ms17_010.state == "patched"  # Samba: STATUS_INVALID_HANDLE
        assert on.ms17_010.evidence["status"] == "STATUS_INVALID_HANDLE"
        assert on.doublepulsar is not None and on.doublepulsar.state == "clean"
        assert on.doublepulsar.evidence["multiplex_id"] == "0x41"
        # both checks ran on the SMB1 fingerprint connection: no 7th or 8th connection
        assert opened.count(samba[name].address) == 6, name
    # on the SMB1-only host the SMB1 connection still carries the null/guest sessions afterwards
    assert on.sessions.null is True and on.sessions.guest is True  # "guest": map to guest = Bad User
    nt1 = asyncio.run(collect(Target(samba["nt1only"].address), opts))
    assert nt1.sessions.null is True and nt1.sessions.guest is False and nt1.errors == ()


def _lab_collect(
    layout: dict[str, Persona], port: int, opts: ProbeOptions, monkeypatch: pytest.MonkeyPatch
) -> tuple[dict[str, HostFacts], dict[str, list[list[bytes]]]]:
    """collect every lab address; returns facts and, per address, the messages sent on each connection."""
    sent: dict[str, list[list[bytes]]] = {a: [] for a in layout}
    real_open = base.open_tcp

    async def recording(address: str, port: int, limits: Limits) -> object:
        transport = await real_open(address, port, limits)
        log: list[bytes] = []
        sent[address].append(log)
        real_send = transport.send

        async def send(message: bytes) -> None:
            log.append(message)
            await real_send(message)

        transport.send = send  # type: ignore[method-assign]
        return transport

    monkeypatch.setattr(base, "open_tcp", recording)

    async def run() -> dict[str, HostFacts]:
        async with Lab(layout, port=port).running():
            return {a: await collect(Target(a, port), opts) for a in layout}

    return asyncio.run(run()), sent


def _standalone(layout: dict[str, Persona], port: int) -> dict[str, tuple[str, str]]:
    async def run() -> dict[str, tuple[str, str]]:
        async with Lab(layout, port=port).running():
            return {
                a: (
                    (await ms17_010.probe(Target(a, port))).state,
                    (await doublepulsar.probe(Target(a, port))).state,
                )
                for a in layout
            }

    return asyncio.run(run())


def test_vulnerability_checks_share_the_smb1_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    """Emulated Windows hosts: the checks run on the SMB1 fingerprint connection, for extended
    and non-extended security alike, and give the standalone probes' verdicts."""
    win7 = personas.WIN7_SP1_UNPATCHED
    assert win7.smb1 is not None
    layout = {
        "127.0.30.121": win7,
        "127.0.30.122": personas.WIN7_DOUBLEPULSAR,
        "127.0.30.123": personas.WIN2008R2_PATCHED,
        "127.0.30.124": dataclasses.replace(
            win7, smb1=dataclasses.replace(win7.smb1, extended_security=False)
        ),
    }
    opts = ProbeOptions(limits=OPTS.limits, ms17_010=True, doublepulsar=True)
    facts, sent = _lab_collect(layout, 45447, opts, monkeypatch)
    verdicts = {a: (f.ms17_010.state, f.doublepulsar.state) for a, f in facts.items()}  # type: ignore[union-attr]
    assert verdicts == {
        "127.0.30.121": ("vulnerable", "clean"),
        "127.0.30.122": ("vulnerable", "infected"),
        "127.0.30.123": ("patched", "clean"),
        "127.0.30.124": ("vulnerable", "clean"),
    }
    monkeypatch.undo()
    assert _standalone(layout, 45448) == verdicts
    for address, connections in sent.items():
        assert len(connections) == 6, address
        smb1_conns = [c for c in connections if c and smb1.is_smb1(c[0])]
        assert len(smb1_conns) == 1, address
        commands = [smb1.decode_header(m).command for m in smb1_conns[0]]
        C = smb1.Command
        if address == "127.0.30.124":  # non-extended: no CHALLENGE step, plain anonymous logon
            head = [C.NEGOTIATE, C.SESSION_SETUP_ANDX]
        else:  # NTLM NEGOTIATE (fingerprint), then the anonymous AUTHENTICATE on the same UID
            head = [C.NEGOTIATE, C.SESSION_SETUP_ANDX, C.SESSION_SETUP_ANDX]
        checks = [C.TREE_CONNECT_ANDX, C.TRANSACTION, C.TRANSACTION2, C.LOGOFF_ANDX]
        assert commands[: len(head) + 4] == [*head, *checks]
        peek = smb1.decode_transaction_request(smb1_conns[0][len(head) + 1])
        assert peek.setup == (smb1.TRANS_PEEK_NMPIPE, 0) and peek.data == b""
        assert smb1.decode_header(smb1_conns[0][len(head) + 2]).mid == doublepulsar.PING_MID
        assert all(len(m) < 200 for m in smb1_conns[0])


def test_vulnerability_checks_fall_back_when_anonymous_ntlmssp_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A host refusing the anonymous NTLMSSP logon: each probe runs standalone on its own
    connection (6 + 2) and reports what the standalone probe reports ("unknown", stage)."""
    layout = {"127.0.30.125": dataclasses.replace(personas.WIN7_SP1_UNPATCHED, null_session=False)}
    opts = ProbeOptions(limits=OPTS.limits, ms17_010=True, doublepulsar=True)
    facts, sent = _lab_collect(layout, 45449, opts, monkeypatch)
    f = facts["127.0.30.125"]
    for vuln in (f.ms17_010, f.doublepulsar):
        assert vuln is not None and vuln.state == "unknown"
        assert vuln.evidence == {"stage": "anonymous session setup", "status": "STATUS_ACCESS_DENIED"}
    assert len(sent["127.0.30.125"]) == 8
    monkeypatch.undo()
    assert _standalone(layout, 45450) == {"127.0.30.125": ("unknown", "unknown")}


def test_lost_smb1_connection_is_not_reused_for_logons(
    samba: SambaLab, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A check that times out leaves the SMB1 connection out of step (a late reply would be
    read as the next answer): both checks say unknown and the SMB1 logons are not tried on it."""
    async def stalls(transport: object, session: object) -> object:
        raise ReadTimeout("no reply within 2s")

    monkeypatch.setitem(host.VULN_CHECKS, "ms17_010", stalls)
    opts = ProbeOptions(limits=OPTS.limits, ms17_010=True, doublepulsar=True)
    f = asyncio.run(collect(Target(samba["nt1only"].address), opts))
    assert f.ms17_010 is not None and f.ms17_010.state == "unknown"
    assert "ReadTimeout" in (f.ms17_010.reason or "")
    assert f.doublepulsar is not None and f.doublepulsar.state == "unknown"
    assert f.smb1 is not None and f.smb1.enabled is True
    assert f.sessions.null is None and f.sessions.guest is None
    assert "unusable after the vulnerability checks" in (f.sessions.null_reason or "")
