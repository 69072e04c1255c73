"""The emulator's protocol logic, without I/O: one :class:`Responder` per TCP
connection turns each request message into the reply messages a real host of
the persona would send (built with the ``smbguard.proto`` encoders).

What it implements, and nothing more: SMB1 NEGOTIATE (including the
multi-protocol negotiate that switches to SMB2), SESSION_SETUP_ANDX (NTLMSSP
in SPNEGO, or plain anonymous / guest), TREE_CONNECT_ANDX, the TRANSACTION
PeekNamedPipe the MS17-010 check sends, the TRANSACTION2 SESSION_SETUP the
DoublePulsar check sends, ECHO, LOGOFF; SMB2 NEGOTIATE with 3.1.1 contexts,
SESSION_SETUP, TREE_CONNECT, ECHO, LOGOFF, TREE_DISCONNECT. Everything else is
answered STATUS_NOT_SUPPORTED. Compressed or encrypted SMB3 transforms close
the connection: the lab never decompresses anything. Passwords are never
checked; named users succeed only as guest on personas that allow it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import struct
from datetime import UTC, datetime

from smbguard.errors import DecodeError
from smbguard.lab.personas import Persona
from smbguard.proto import ntlmssp, smb1, smb2, spnego
from smbguard.proto.ntstatus import NTStatus

SMB1_REPLY_FLAGS = 0x98  # REPLY | CASE_INSENSITIVE | CANONICALIZED_PATHS (every capture)
EXT_SEC_FLAGS2 = 0xC853  # Windows 7 extended-security NEGOTIATE reply (capture)
DOUBLEPULSAR_KEY_SIGNATURE = bytes.fromhex("794b5da400000000")  # as in the capture
MAX_SESSIONS = 16
SMB2_ACCESS_IPC = 0x001F01FF
SMB2_ACCESS_GUEST_DISK = 0x001200A9  # read + execute


def _flags2(base: int, request: smb1.Header) -> int:
    """Reply Flags2: the persona's bits, with UNICODE only when the client asked for it
    (strings are then encoded accordingly, as Windows does)."""
    return (base & ~smb1.Flags2.UNICODE) | (request.flags2 & smb1.Flags2.UNICODE)


@functools.cache
def _hint_token(mechs: tuple[str, ...], hint: bool) -> bytes:
    """SPNEGO NegTokenInit(2) a server puts in its NEGOTIATE response (built once per persona)."""
    return spnego.encode_neg_token_init(
        spnego.NegTokenInit(mechs, hint_name=spnego.HINT_IGNORE if hint else None)
    )


def _now() -> datetime:
    return datetime.now(UTC)


class Responder:
    """State of one connection. :meth:`handle` returns the replies, or None to
    close the connection (what a real server does with an SMB1 NEGOTIATE when
    SMB1 is disabled, or with a transform it will not process)."""

    def __init__(self, persona: Persona, address: str = "127.0.0.1") -> None:
        self.persona = persona
        self.address = address
        self.smb2_dialect: int | None = None
        self._uids: dict[int, str] = {}  # SMB1 uid -> "null" | "guest" | "pending"
        self._tids: dict[int, str] = {}  # SMB1 tid -> share name (upper case)
        self._sessions: dict[int, str] = {}  # SMB2 session id -> "null" | "guest" | "pending"
        self._trees: dict[int, str] = {}
        self._next_uid = 0x0800
        self._next_tid = 0x0800
        self._next_session = 0x0000100000000001
        self._next_tree = 1
        # Deterministic per address: the same host always gives the same challenge stream.
        self._seed = hashlib.sha256(f"{persona.key}/{address}".encode()).digest()
        self._counter = 0

    # ------------------------------------------------------------------ helpers

    def _random(self, n: int) -> bytes:
        self._counter += 1
        return hashlib.sha256(self._seed + self._counter.to_bytes(4, "little")).digest()[:n]

    def _challenge(self) -> bytes:
        p = self.persona
        pairs = ntlmssp.string_av_pairs(
            nb_computer=p.netbios_name,
            nb_domain=p.domain,
            dns_computer=p.dns_computer.lower() if p.dns_domain else p.netbios_name.lower(),
            dns_domain=p.dns_domain or p.netbios_name.lower(),
            dns_tree=p.dns_domain or "",
            timestamp=_now(),
        )
        major, minor, build = p.ntlm_version
        return ntlmssp.encode_challenge(
            self._random(8),
            target_name=p.domain if p.dns_domain else p.netbios_name,
            av_pairs=pairs,
            flags=p.ntlm_flags,
            version=ntlmssp.Version(major, minor, build),
        )

    def _logon(self, auth: ntlmssp.Authenticate) -> tuple[int, str | None]:
        """(status, kind) for an AUTHENTICATE: anonymous -> null session if allowed;
        a named user -> guest if the persona maps unknown users to guest."""
        if auth.is_anonymous:
            if self.persona.null_session:
                return NTStatus.SUCCESS, "null"
            return NTStatus.ACCESS_DENIED, None
        if self.persona.guest:
            return NTStatus.SUCCESS, "guest"
        return NTStatus.LOGON_FAILURE, None

    def _share_status(self, path: str, kind: str | None) -> tuple[int, str]:
        share = path.rsplit("\\", 1)[-1].upper()
        if kind is None:
            return 0xC0000203, share  # STATUS_USER_SESSION_DELETED
        if share == "IPC$":
            if kind == "null" and not self.persona.ipc_anonymous:
                return NTStatus.ACCESS_DENIED, share
            return NTStatus.SUCCESS, share
        if share in (s.upper() for s in self.persona.shares):
            if kind == "guest":
                return NTStatus.SUCCESS, share
            return NTStatus.ACCESS_DENIED, share
        return NTStatus.BAD_NETWORK_NAME, share

    # ------------------------------------------------------------------ entry point

    def handle(self, message: bytes) -> list[bytes] | None:
        """Replies to one SMB message (NBSS framing already removed)."""
        try:
            if smb1.is_smb1(message):
                return self._smb1(message)
            if smb2.is_smb2(message):
                return self._smb2(message)
        except DecodeError:
            return None
        return None  # transforms (0xFD / 0xFC 'SMB') and garbage: drop the connection

    # ------------------------------------------------------------------ SMB1

    def _smb1_header(self, req: smb1.Header, **changes: int) -> smb1.Header:
        return dataclasses.replace(req, flags=SMB1_REPLY_FLAGS, **changes)  # type: ignore[arg-type]

    def _smb1(self, message: bytes) -> list[bytes] | None:
        hdr = smb1.decode_header(message)
        if hdr.command == smb1.Command.NEGOTIATE:
            return self._smb1_negotiate(message, hdr)
        p1 = self.persona.smb1
        if p1 is None or self.smb2_dialect is not None:
            return None
        if hdr.command == smb1.Command.SESSION_SETUP_ANDX:
            return [self._smb1_session_setup(message, hdr)]
        if hdr.command == smb1.Command.TREE_CONNECT_ANDX:
            req = smb1.decode_tree_connect_request(message)
            status, share = self._share_status(
                req.path,
                self._uids.get(hdr.uid)
                if hdr.uid in self._uids and self._uids[hdr.uid] != "pending"
                else None,
            )
            reply = self._smb1_header(hdr, flags2=_flags2(p1.tree_flags2, hdr))
            if status != NTStatus.SUCCESS:
                return [smb1.encode_error(reply, status)]
            tid = self._next_tid
            self._next_tid += 1
            self._tids[tid] = share
            ipc = share == "IPC$"
            return [
                smb1.encode_tree_connect_response(
                    smb1.TreeConnectResponse(
                        status=0,
                        tid=tid,
                        optional_support=0x0001,
                        maximal_access=0x001FFFFF if ipc else SMB2_ACCESS_GUEST_DISK,
                        guest_maximal_access=0x001FFFFF if ipc else SMB2_ACCESS_GUEST_DISK,
                        service="IPC" if ipc else "A:",
                        native_file_system="" if ipc else "NTFS",
                    ),
                    reply,
                )
            ]
        if hdr.command == smb1.Command.TRANSACTION:
            req_t = smb1.decode_transaction_request(message)
            reply = self._smb1_header(hdr)
            peek = req_t.setup[:1] == (smb1.TRANS_PEEK_NMPIPE,)
            if peek and self._tids.get(hdr.tid) == "IPC$":
                fid = req_t.setup[1] if len(req_t.setup) > 1 else 0
                status = p1.peek_fid0_status if fid == 0 else NTStatus.INVALID_HANDLE
                return [smb1.encode_error(reply, status)]
            return [smb1.encode_error(reply, NTStatus.NOT_SUPPORTED)]
        if hdr.command == smb1.Command.TRANSACTION2:
            req_t = smb1.decode_transaction_request(message)
            if req_t.setup[:1] == (smb1.TRANS2_SESSION_SETUP,):
                # Both clean and implanted hosts answer NOT_IMPLEMENTED; the implant
                # adds 0x10 to the Multiplex ID and puts its key in the signature.
                changes: dict[str, object] = {}
                if p1.doublepulsar:
                    changes = {"mid": (hdr.mid + 0x10) & 0xFFFF, "signature": DOUBLEPULSAR_KEY_SIGNATURE}
                reply = dataclasses.replace(self._smb1_header(hdr), **changes)  # type: ignore[arg-type]
                return [smb1.encode_error(reply, p1.trans2_session_setup_status)]
            return [smb1.encode_error(self._smb1_header(hdr), NTStatus.NOT_SUPPORTED)]
        if hdr.command == smb1.Command.ECHO:
            msg = smb1.decode_message(message)
            return [smb1.encode_message(self._smb1_header(hdr), struct.pack("<H", 1), msg.data[:1024])]
        if hdr.command == smb1.Command.LOGOFF_ANDX:
            self._uids.pop(hdr.uid, None)
            return [smb1.encode_logoff_response(self._smb1_header(hdr))]
        if hdr.command == smb1.Command.TREE_DISCONNECT:
            self._tids.pop(hdr.tid, None)
            return [smb1.encode_message(self._smb1_header(hdr))]
        return [smb1.encode_error(self._smb1_header(hdr), NTStatus.NOT_SUPPORTED)]

    def _smb1_negotiate(self, message: bytes, hdr: smb1.Header) -> list[bytes] | None:
        req = smb1.decode_negotiate_request(message)
        p2 = self.persona.smb2
        if p2 is not None and (smb1.SMB_2_WILDCARD in req.dialects or smb1.SMB_2_002 in req.dialects):
            # Multi-protocol negotiate ([MS-SMB2] 3.3.5.3.1): answer with an SMB2 NEGOTIATE.
            if smb1.SMB_2_WILDCARD in req.dialects and any(d > 0x0202 for d in p2.dialects):
                dialect = 0x02FF
            elif 0x0202 in p2.dialects:
                dialect = 0x0202
            else:
                dialect = 0x02FF
            self.smb2_dialect = dialect if dialect != 0x02FF else None
            return [self._smb2_negotiate_response(dialect, smb2.Header(), contexts=())]
        p1 = self.persona.smb1
        if p1 is None:
            return None  # SMB1 disabled: Windows drops the connection
        if smb1.NT_LM_0_12 not in req.dialects:
            return [
                smb1.encode_negotiate_response(
                    smb1.NegotiateResponse(dialect_index=smb1.NO_DIALECT, form="none"), self._smb1_header(hdr)
                )
            ]
        index = req.dialects.index(smb1.NT_LM_0_12)
        extended = bool(hdr.flags2 & smb1.Flags2.EXTENDED_SECURITY) and p1.extended_security
        flags2 = EXT_SEC_FLAGS2 if extended else p1.flags2_plain
        mechs = self.persona.smb2.mechs if self.persona.smb2 is not None else (spnego.OID_NTLMSSP,)
        blob = _hint_token(mechs, False) if extended else b""
        response = smb1.NegotiateResponse(
            dialect_index=index,
            form="nt",
            security_mode=p1.security_mode,
            max_mpx_count=p1.max_mpx_count,
            max_number_vcs=p1.max_number_vcs,
            max_buffer_size=p1.max_buffer_size,
            max_raw_size=p1.max_raw_size,
            session_key=0,
            capabilities=p1.capabilities,
            system_time=_now(),
            server_time_zone=p1.time_zone,
            challenge=b"" if extended else self._random(8),
            domain_name=None if extended else self.persona.domain,
            server_name=None if extended else self.persona.netbios_name,
            server_guid=self.persona.server_guid if extended else None,
            security_blob=blob,
            extended_security=extended,
        )
        reply = self._smb1_header(hdr, flags2=flags2)
        return [smb1.encode_negotiate_response(response, reply)]

    def _smb1_session_setup(self, message: bytes, hdr: smb1.Header) -> bytes:
        p1 = self.persona.smb1
        assert p1 is not None
        req = smb1.decode_session_setup_request(message)
        reply = self._smb1_header(
            hdr,
            flags2=_flags2(
                p1.tree_flags2 | smb1.Flags2.EXTENDED_SECURITY if req.extended else p1.tree_flags2, hdr
            ),
        )
        if req.extended:
            token = spnego.extract_ntlmssp(req.security_blob)
            if token is None:
                return smb1.encode_error(reply, NTStatus.INVALID_PARAMETER)
            mtype = ntlmssp.parse_message_type(token)
            if mtype == ntlmssp.MessageType.NEGOTIATE:
                if len(self._uids) >= MAX_SESSIONS:
                    return smb1.encode_error(reply, NTStatus.INSUFFICIENT_RESOURCES)
                uid = self._next_uid
                self._next_uid += 1
                self._uids[uid] = "pending"
                blob = spnego.wrap_ntlmssp_challenge(self._challenge())
                return smb1.encode_session_setup_response(
                    smb1.SessionSetupResponse(
                        status=NTStatus.MORE_PROCESSING_REQUIRED,
                        uid=uid,
                        security_blob=blob,
                        native_os=p1.native_os,
                        native_lan_man=p1.native_lan_man,
                        extended=True,
                    ),
                    reply,
                )
            if mtype == ntlmssp.MessageType.AUTHENTICATE and self._uids.get(hdr.uid) == "pending":
                status, kind = self._logon(ntlmssp.decode_authenticate(token))
                if kind is None:
                    self._uids.pop(hdr.uid, None)
                    return smb1.encode_error(dataclasses.replace(reply, uid=hdr.uid), status)
                self._uids[hdr.uid] = kind
                return smb1.encode_session_setup_response(
                    smb1.SessionSetupResponse(
                        status=0,
                        uid=hdr.uid,
                        action=1 if kind == "guest" else 0,
                        security_blob=spnego.wrap_accept_completed(),
                        native_os=p1.native_os,
                        native_lan_man=p1.native_lan_man,
                        extended=True,
                    ),
                    reply,
                )
            return smb1.encode_error(reply, NTStatus.INVALID_PARAMETER)
        # Non-extended ([MS-CIFS] 3.3.5.43): empty account and passwords = anonymous.
        anonymous = not req.account and len(req.oem_password) <= 1 and len(req.unicode_password) == 0
        auth = ntlmssp.Authenticate(
            flags=0,
            user="" if anonymous else (req.account or "?"),
            lm_response=b"" if anonymous else req.oem_password,
            nt_response=b"" if anonymous else req.unicode_password,
        )
        status, kind = self._logon(auth)
        if kind is None or len(self._uids) >= MAX_SESSIONS:
            return smb1.encode_error(reply, status if kind is None else NTStatus.INSUFFICIENT_RESOURCES)
        uid = self._next_uid
        self._next_uid += 1
        self._uids[uid] = kind
        return smb1.encode_session_setup_response(
            smb1.SessionSetupResponse(
                status=0,
                uid=uid,
                action=1 if kind == "guest" else 0,
                native_os=p1.native_os,
                native_lan_man=p1.native_lan_man,
                primary_domain=self.persona.domain,
            ),
            dataclasses.replace(reply, flags2=_flags2(p1.tree_flags2, hdr)),
        )

    # ------------------------------------------------------------------ SMB2

    def _smb2_negotiate_response(
        self, dialect: int, req: smb2.Header, contexts: tuple[smb2.NegotiateContext, ...]
    ) -> bytes:
        p2 = self.persona.smb2
        assert p2 is not None
        caps = p2.capabilities
        if dialect == 0x0311 and p2.capabilities_311 is not None:
            caps = p2.capabilities_311
        elif dialect in (0x0202,):
            caps &= 0x01
        elif dialect in (0x0210, 0x02FF):
            caps &= 0x07
        size = p2.max_size_202 if dialect == 0x0202 else p2.max_size
        hint = _hint_token(p2.mechs, True)
        header = dataclasses.replace(req, credits=1, status=0, signature=bytes(16), session_id=0)
        return smb2.encode_negotiate_response(
            smb2.NegotiateResponse(
                dialect=dialect,
                security_mode=p2.security_mode,
                server_guid=self.persona.server_guid,
                capabilities=caps,
                max_transact_size=size,
                max_read_size=size,
                max_write_size=size,
                system_time=_now(),
                server_start_time=None,
                security_buffer=hint,
                contexts=contexts,
            ),
            header,
        )

    def _smb2(self, message: bytes) -> list[bytes] | None:
        p2 = self.persona.smb2
        if p2 is None:
            return None
        hdr = smb2.decode_header(message)
        if hdr.is_response or hdr.is_async:
            return None
        # Replies never carry the request's signature (anonymous/guest sessions have no
        # key) and grant what the client asked for, within bounds.
        hdr = dataclasses.replace(
            hdr,
            signature=bytes(16),
            credits=max(1, min(hdr.credits, 64)),
            flags=hdr.flags & ~0x08,
            next_command=0,
        )
        cmd = hdr.command
        if cmd == smb2.Command.NEGOTIATE:
            return [self._smb2_negotiate(message, hdr)]
        if self.smb2_dialect is None:
            return [smb2.encode_error_response(NTStatus.INVALID_PARAMETER, hdr)]
        if cmd == smb2.Command.SESSION_SETUP:
            return [self._smb2_session_setup(message, hdr)]
        if cmd == smb2.Command.TREE_CONNECT:
            req = smb2.decode_tree_connect_request(message)
            kind = self._sessions.get(hdr.session_id)
            status, share = self._share_status(req.path, None if kind in (None, "pending") else kind)
            if status != NTStatus.SUCCESS:
                return [smb2.encode_error_response(status, hdr)]
            tree = self._next_tree
            self._next_tree += 1
            self._trees[tree] = share
            ipc = share == "IPC$"
            return [
                smb2.encode_tree_connect_response(
                    smb2.TreeConnectResponse(
                        status=0,
                        tree_id=tree,
                        share_type=smb2.ShareType.PIPE if ipc else smb2.ShareType.DISK,
                        share_flags=0x30 if ipc else 0x800,
                        maximal_access=SMB2_ACCESS_IPC if ipc else SMB2_ACCESS_GUEST_DISK,
                    ),
                    hdr,
                )
            ]
        if cmd == smb2.Command.LOGOFF:
            self._sessions.pop(hdr.session_id, None)
            return [smb2.encode_logoff_response(hdr)]
        if cmd in (smb2.Command.ECHO, smb2.Command.TREE_DISCONNECT):
            if cmd == smb2.Command.TREE_DISCONNECT:
                self._trees.pop(hdr.tree_id, None)
            reply = dataclasses.replace(hdr, flags=hdr.flags | smb2.Flags.SERVER_TO_REDIR, status=0)
            return [smb2.encode_header(reply) + struct.pack("<HH", 4, 0)]
        return [smb2.encode_error_response(NTStatus.NOT_SUPPORTED, hdr)]

    def _smb2_negotiate(self, message: bytes, hdr: smb2.Header) -> bytes:
        p2 = self.persona.smb2
        assert p2 is not None
        req = smb2.decode_negotiate_request(message)
        common = [d for d in p2.dialects if d in req.dialects]
        if not common:
            return smb2.encode_error_response(NTStatus.NOT_SUPPORTED, hdr)
        dialect = max(common)
        self.smb2_dialect = dialect
        contexts: list[smb2.NegotiateContext] = []
        if dialect == 0x0311:
            contexts.append(smb2.PreauthIntegrityContext((smb2.HashAlgorithm.SHA_512,), self._random(32)))
            enc = next((c for c in req.contexts if isinstance(c, smb2.EncryptionCapabilitiesContext)), None)
            if enc is not None:
                chosen = next((c for c in p2.ciphers if c in enc.ciphers), 0)
                contexts.append(smb2.EncryptionCapabilitiesContext((chosen,)))
            comp = next((c for c in req.contexts if isinstance(c, smb2.CompressionCapabilitiesContext)), None)
            if comp is not None and p2.compression:
                algs = tuple(a for a in comp.algorithms if a in p2.compression) or (0,)
                contexts.append(smb2.CompressionCapabilitiesContext(algs, 0))
            sign = next((c for c in req.contexts if isinstance(c, smb2.SigningCapabilitiesContext)), None)
            if sign is not None and p2.signing_algorithms:
                chosen_s = next((a for a in p2.signing_algorithms if a in sign.algorithms), None)
                if chosen_s is not None:
                    contexts.append(smb2.SigningCapabilitiesContext((chosen_s,)))
        return self._smb2_negotiate_response(dialect, hdr, tuple(contexts))

    def _smb2_session_setup(self, message: bytes, hdr: smb2.Header) -> bytes:
        req = smb2.decode_session_setup_request(message)
        token = spnego.extract_ntlmssp(req.security_buffer)
        if token is None:
            return smb2.encode_error_response(NTStatus.LOGON_FAILURE, hdr)
        mtype = ntlmssp.parse_message_type(token)
        if mtype == ntlmssp.MessageType.NEGOTIATE:
            if len(self._sessions) >= MAX_SESSIONS:
                return smb2.encode_error_response(NTStatus.INSUFFICIENT_RESOURCES, hdr)
            sid = self._next_session
            self._next_session += 1
            self._sessions[sid] = "pending"
            return smb2.encode_session_setup_response(
                smb2.SessionSetupResponse(
                    status=NTStatus.MORE_PROCESSING_REQUIRED,
                    session_id=sid,
                    security_buffer=spnego.wrap_ntlmssp_challenge(self._challenge()),
                ),
                hdr,
            )
        if mtype == ntlmssp.MessageType.AUTHENTICATE and self._sessions.get(hdr.session_id) == "pending":
            status, kind = self._logon(ntlmssp.decode_authenticate(token))
            if kind is None:
                self._sessions.pop(hdr.session_id, None)
                return smb2.encode_error_response(status, dataclasses.replace(hdr, session_id=hdr.session_id))
            self._sessions[hdr.session_id] = kind
            flags = smb2.SessionFlags.IS_GUEST if kind == "guest" else smb2.SessionFlags.IS_NULL
            return smb2.encode_session_setup_response(
                smb2.SessionSetupResponse(
                    status=0,
                    session_id=hdr.session_id,
                    session_flags=int(flags),
                    security_buffer=spnego.wrap_accept_completed(),
                ),
                hdr,
            )
        return smb2.encode_error_response(NTStatus.INVALID_PARAMETER, hdr)
