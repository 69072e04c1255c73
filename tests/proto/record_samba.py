"""Record real Samba responses for the codec tests: ``python -m tests.proto.record_samba``.

Starts a few smbd instances on 127.0.11.1-4 (root; see tests/helpers/samba.py),
sends smbguard's own requests with blocking sockets and writes each server
reply to tests/proto/recorded/samba-*.bin (one SMB message per file, NBSS header
removed). Re-run it to refresh the files when the codecs or Samba change; the
tests then pin the fields these replies carry.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

from smbguard.proto import ntlmssp, smb1, smb2, spnego
from tests.helpers.samba import SambaConfig, SambaLab

OUT = Path(__file__).resolve().parent / "recorded"
GUID = "5a6b7c8d-1234-4abc-9def-00112233aabb"

CONFIGS = [
    SambaConfig(name="default", address="127.0.11.1", netbios_name="SGDEFAULT"),
    SambaConfig(
        name="nt1",
        address="127.0.11.2",
        netbios_name="SGNT1",
        options={
            "server min protocol": "NT1",
            "server max protocol": "NT1",
            "map to guest": "Bad User",
            "restrict anonymous": "0",
        },
        shares={"public": {"guest ok": "yes", "read only": "yes"}},
    ),
    SambaConfig(
        name="smb3sign",
        address="127.0.11.3",
        netbios_name="SGSMB3SIGN",
        options={"server min protocol": "SMB3", "server signing": "mandatory"},
    ),
    SambaConfig(
        name="guest",
        address="127.0.11.4",
        netbios_name="SGGUEST",
        options={"server min protocol": "NT1", "map to guest": "Bad User"},
        shares={"public": {"guest ok": "yes", "read only": "no"}},
    ),
]


class Conn:
    def __init__(self, address: str) -> None:
        self.sock = socket.create_connection((address, 445), timeout=3)

    def exchange(self, message: bytes) -> bytes:
        self.sock.sendall(len(message).to_bytes(4, "big") + message)
        header = self._read(4)
        return self._read(int.from_bytes(header[1:], "big"))

    def _read(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("closed")
            out += chunk
        return out

    def close(self) -> None:
        self.sock.close()


def save(name: str, data: bytes) -> None:
    (OUT / f"samba-{name}.bin").write_bytes(data)
    print(f"samba-{name}.bin  {len(data)} bytes")


ALL_CONTEXTS = (
    smb2.PreauthIntegrityContext(salt=bytes(range(32))),
    smb2.EncryptionCapabilitiesContext(tuple(smb2.Cipher)),
    smb2.CompressionCapabilitiesContext(tuple(a for a in smb2.CompressionAlgorithm if a), 0),
    smb2.NetnameContext("127.0.11.1"),
    smb2.TransportCapabilitiesContext(0),
    smb2.RdmaTransformContext((smb2.RdmaTransform.ENCRYPTION, smb2.RdmaTransform.SIGNING)),
    smb2.SigningCapabilitiesContext(tuple(smb2.SigningAlgorithm)),
)


def negotiate(
    address: str, dialects: tuple[int, ...], contexts: tuple[smb2.NegotiateContext, ...] = ()
) -> bytes:
    conn = Conn(address)
    try:
        req = smb2.NegotiateRequest(dialects=dialects, client_guid=GUID, capabilities=0x7F, contexts=contexts)
        return conn.exchange(smb2.encode_negotiate_request(req))
    finally:
        conn.close()


def smb2_session(address: str, anonymous: bool, user: str = "") -> list[bytes]:
    conn = Conn(address)
    out = []
    try:
        conn.exchange(
            smb2.encode_negotiate_request(smb2.NegotiateRequest((0x0202, 0x0210), client_guid=GUID))
        )
        token = spnego.wrap_ntlmssp_negotiate(ntlmssp.encode_negotiate())
        hdr = smb2.Header(message_id=1)
        resp = conn.exchange(smb2.encode_session_setup_request(smb2.SessionSetupRequest(token), hdr))
        out.append(resp)
        setup = smb2.decode_session_setup_response(resp)
        challenge = ntlmssp.decode_challenge(spnego.extract_ntlmssp(setup.security_buffer) or b"")
        auth = (
            ntlmssp.encode_anonymous_authenticate()
            if anonymous
            else ntlmssp.encode_guest_authenticate(challenge, user)
        )
        hdr = smb2.Header(message_id=2, session_id=setup.session_id)
        req = smb2.SessionSetupRequest(spnego.wrap_ntlmssp_authenticate(auth))
        resp = conn.exchange(smb2.encode_session_setup_request(req, hdr))
        out.append(resp)
        final = smb2.decode_session_setup_response(resp)
        if final.status == 0:
            hdr = smb2.Header(message_id=3, session_id=final.session_id)
            tc = smb2.TreeConnectRequest(f"\\\\{address}\\IPC$")
            out.append(conn.exchange(smb2.encode_tree_connect_request(tc, hdr)))
            hdr = smb2.Header(message_id=4, session_id=final.session_id)
            out.append(conn.exchange(smb2.encode_logoff_request(hdr)))
    finally:
        conn.close()
    return out


def smb1_null_session(address: str) -> list[bytes]:
    conn = Conn(address)
    out = []
    try:
        out.append(conn.exchange(smb1.encode_negotiate_request((smb1.NT_LM_0_12,))))
        hdr = smb1.Header(command=smb1.Command.SESSION_SETUP_ANDX, mid=1)
        req = smb1.SessionSetupRequest(native_os="Unix", native_lan_man="smbguard")
        resp = conn.exchange(smb1.encode_session_setup_request(req, hdr))
        out.append(resp)
        setup = smb1.decode_session_setup_response(resp)
        if setup.status == 0:
            hdr = smb1.Header(command=smb1.Command.TREE_CONNECT_ANDX, uid=setup.uid, mid=2)
            resp = conn.exchange(
                smb1.encode_tree_connect_request(smb1.TreeConnectRequest(f"\\\\{address}\\IPC$"), hdr)
            )
            out.append(resp)
            tree = smb1.decode_tree_connect_response(resp)
            hdr = smb1.Header(command=smb1.Command.TRANSACTION, uid=setup.uid, tid=tree.tid, mid=3)
            out.append(conn.exchange(smb1.peek_named_pipe_request(hdr)))
            hdr = smb1.Header(command=smb1.Command.TRANSACTION2, uid=setup.uid, tid=tree.tid, mid=0x41)
            out.append(conn.exchange(smb1.trans2_session_setup_request(hdr)))
            hdr = smb1.Header(command=smb1.Command.LOGOFF_ANDX, uid=setup.uid, mid=5)
            out.append(conn.exchange(smb1.encode_logoff_request(hdr)))
    finally:
        conn.close()
    return out


def smb1_extended(address: str) -> list[bytes]:
    conn = Conn(address)
    try:
        neg = conn.exchange(smb1.encode_negotiate_request((smb1.NT_LM_0_12,), extended_security=True))
        token = spnego.wrap_ntlmssp_negotiate(ntlmssp.encode_negotiate())
        hdr = smb1.Header(command=smb1.Command.SESSION_SETUP_ANDX, mid=1)
        req = smb1.SessionSetupRequest(
            extended=True, security_blob=token, native_os="Unix", native_lan_man="smbguard"
        )
        return [neg, conn.exchange(smb1.encode_session_setup_request(req, hdr))]
    finally:
        conn.close()


def smb1_negotiate_only(address: str, dialects: tuple[str, ...]) -> bytes | None:
    conn = Conn(address)
    try:
        return conn.exchange(smb1.encode_negotiate_request(dialects))
    except (ConnectionError, OSError) as exc:
        print(f"  {address} {dialects}: {exc}")
        return None
    finally:
        conn.close()


def main() -> int:
    OUT.mkdir(exist_ok=True)
    with SambaLab(CONFIGS) as lab:
        d = lab["default"].address
        for dialect in smb2.ALL_DIALECTS:
            save(
                f"default-negotiate-{smb2.dialect_name(dialect)}",
                negotiate(d, (dialect,), ALL_CONTEXTS if dialect == 0x0311 else ()),
            )
        save("default-negotiate-multi", negotiate(d, smb2.ALL_DIALECTS, ALL_CONTEXTS))
        s = lab["smb3sign"].address
        save("smb3sign-negotiate-3.1.1", negotiate(s, (0x0311,), ALL_CONTEXTS))
        save("smb3sign-negotiate-3.0", negotiate(s, (0x0300,)))
        try:
            save("smb3sign-negotiate-2.1", negotiate(s, (0x0210,)))
        except (ConnectionError, OSError) as exc:
            print(f"  smb3sign 2.1: {exc}")
        anon = smb2_session(d, anonymous=True)
        save("default-sessionsetup-challenge", anon[0])
        save("default-sessionsetup-anonymous", anon[1])
        for i, name in enumerate(("treeconnect-ipc", "logoff")[: len(anon) - 2]):
            save(f"default-{name}", anon[2 + i])
        save("default-sessionsetup-guest", smb2_session(d, anonymous=False, user="sgrandomuser")[1])
        save(
            "guest-sessionsetup-guest", smb2_session(lab["guest"].address, anonymous=False, user="sgrand")[1]
        )
        for name, msg in zip(
            (
                "negotiate",
                "sessionsetup-null",
                "treeconnect-ipc",
                "peeknamedpipe",
                "trans2-sessionsetup",
                "logoff",
            ),
            smb1_null_session(lab["nt1"].address),
            strict=False,
        ):
            save(f"nt1-smb1-{name}", msg)
        for name, msg in zip(
            ("negotiate-extsec", "sessionsetup-challenge"), smb1_extended(lab["nt1"].address), strict=True
        ):
            save(f"nt1-smb1-{name}", msg)
        multi = smb1_negotiate_only(d, (smb1.NT_LM_0_12, smb1.SMB_2_002, smb1.SMB_2_WILDCARD))
        if multi is not None:
            save("default-smb1-multiprotocol", multi)
        only = smb1_negotiate_only(d, (smb1.NT_LM_0_12,))
        if only is not None:
            save("default-smb1-ntlm012", only)
        g = smb1_negotiate_only(lab["guest"].address, (smb1.NT_LM_0_12, smb1.SMB_2_002, smb1.SMB_2_WILDCARD))
        if g is not None:
            save("guest-smb1-multiprotocol", g)
    return 0


if __name__ == "__main__":
    sys.exit(main())
