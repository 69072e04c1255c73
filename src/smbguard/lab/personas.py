"""Personas: what an emulated host answers, field by field.

Each persona is plain data copied from real servers' answers (the captures in
``../shared/data/pcaps``; ``tests/lab/test_personas_vs_captures.py`` compares
the emulator's responses with them field by field). The responder in
:mod:`smbguard.lab.server` only reads these fields.

Sources per persona:
- Windows 7 SP1: SMB1 NEGOTIATE / SESSION_SETUP / TREE_CONNECT of
  ``zeek-eternalsafety/eternalblue-success-unpatched-win7.pcap`` (security mode
  0x03, MaxBufferSize 4356, capabilities 0x0001E3FC, NativeOS "Windows 7
  Enterprise 7601 Service Pack 1"); PeekNamedPipe answer 0xC0000205 from
  ``suricata-verify/smb2-09-trunc-file-logging``.
- Windows Server 2008 R2: ``zeek-eternalsafety/eternalromance-success-2008r2.pcap``
  and ``eternalchampion.pcap`` (MaxBufferSize 16644, capabilities 0x0001F3FC,
  NTLM 6.1.7601, NTLM flags 0xE2898215).
- Windows Server 2019 / Windows 10: ``zeek/smb_v2_only_non_zero_reserved1.pcap``
  (3.1.1, capabilities 0x2F, 8 MiB max sizes, preauth SHA-512 + one cipher,
  SPNEGO hint with five mechanisms) and ``suricata-verify/output-eve-smb-01``
  (Server 2019 with SMB1: NativeOS "Windows Server 2019 Standard 17763").
- DoublePulsar: ``zeek-eternalsafety/doublepulsar-backdoor-connect-win7.pcap``
  (TRANS2 SESSION_SETUP answered STATUS_NOT_IMPLEMENTED with MID 0x51).
- Samba NAS: Samba's SMB1 SESSION_SETUP strings ("Windows 6.1" / "Samba
  4.5.16-Debian"), NTLM version 6.1.0 as in ``zeek/smb2_100_small_files.pcap``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from smbguard.proto import smb2
from smbguard.proto.ntstatus import NTStatus
from smbguard.proto.spnego import OID_KERBEROS, OID_MS_KERBEROS, OID_NEGOEX, OID_NTLMSSP

#: Kerberos user-to-user, the fourth mechanism in Windows' NegTokenInit2.
OID_KERBEROS_U2U = "1.2.840.113554.1.2.2.3"
WINDOWS_MECHS = (OID_NEGOEX, OID_MS_KERBEROS, OID_KERBEROS, OID_KERBEROS_U2U, OID_NTLMSSP)
WORKGROUP_MECHS = (OID_NEGOEX, OID_NTLMSSP)
STATUS_INSUFF_SERVER_RESOURCES = 0xC0000205


@dataclass(frozen=True, slots=True)
class Smb1Persona:
    """SMB1 answers ([MS-CIFS] 2.2.4.52.2, 2.2.4.53.2)."""

    security_mode: int = 0x03  # user security + encrypted passwords; signing not enabled/required
    max_mpx_count: int = 50
    max_number_vcs: int = 1
    max_buffer_size: int = 4356
    max_raw_size: int = 65536
    capabilities: int = 0x0001E3FC
    native_os: str = "Windows 7 Professional 7601 Service Pack 1"
    native_lan_man: str = "Windows 7 Professional 6.1"
    extended_security: bool = True
    #: Answer to TRANSACTION PeekNamedPipe on FID 0 (the MS17-010 check).
    peek_fid0_status: int = STATUS_INSUFF_SERVER_RESOURCES
    #: DoublePulsar implant: TRANS2 SESSION_SETUP answered with MID + 0x10.
    doublepulsar: bool = False
    #: Status of the TRANS2 SESSION_SETUP answer (Windows: NOT_IMPLEMENTED; Samba 4.17: ACCESS_DENIED).
    trans2_session_setup_status: int = NTStatus.NOT_IMPLEMENTED
    flags2_plain: int = 0xC053  # NEGOTIATE reply without extended security (Win7 capture)
    tree_flags2: int = 0xC007
    time_zone: int = 0


@dataclass(frozen=True, slots=True)
class Smb2Persona:
    """SMB2/3 answers ([MS-SMB2] 2.2.4)."""

    dialects: tuple[int, ...] = (0x0202, 0x0210)
    security_mode: int = smb2.SecurityMode.SIGNING_ENABLED
    capabilities: int = 0x07  # DFS | LEASING | LARGE_MTU
    capabilities_311: int | None = None  # 3.1.1 clears ENCRYPTION (negotiated by context)
    max_size: int = 8388608
    max_size_202: int = 65536
    ciphers: tuple[int, ...] = ()
    compression: tuple[int, ...] = ()
    signing_algorithms: tuple[int, ...] = ()
    mechs: tuple[str, ...] = WINDOWS_MECHS


@dataclass(frozen=True, slots=True)
class Persona:
    """One emulated host. ``smb1`` None = SMB1 disabled (the connection is dropped on an
    SMB1-only NEGOTIATE, as Windows does)."""

    key: str
    title: str
    netbios_name: str
    domain: str = "WORKGROUP"
    dns_domain: str = ""
    ntlm_version: tuple[int, int, int] = (6, 1, 7601)
    ntlm_flags: int = 0xE2898215
    smb1: Smb1Persona | None = None
    smb2: Smb2Persona | None = field(default_factory=Smb2Persona)
    null_session: bool = True
    guest: bool = False
    ipc_anonymous: bool = True
    shares: tuple[str, ...] = ()
    server_guid: str = "8f1c2d3e-4b5a-4c6d-9e8f-0a1b2c3d4e5f"

    @property
    def dns_computer(self) -> str:
        return f"{self.netbios_name.lower()}.{self.dns_domain}" if self.dns_domain else self.netbios_name


WIN7_SP1_UNPATCHED = Persona(
    key="win7-unpatched",
    title="Windows 7 SP1, no MS17-010 (SMB1 on, signing not required)",
    netbios_name="RECEPTION-PC",
    ntlm_version=(6, 1, 7601),
    smb1=Smb1Persona(),
    smb2=Smb2Persona(dialects=(0x0202, 0x0210), capabilities=0x03, max_size=65536, mechs=WORKGROUP_MECHS),
    server_guid="3d0b2c4e-5f6a-4b7c-8d9e-0f1a2b3c4d51",
)

WIN2008R2_PATCHED = Persona(
    key="win2008r2-patched",
    title="Windows Server 2008 R2 SP1 with MS17-010 (SMB1 on)",
    netbios_name="FILESRV01",
    domain="OFFICE",
    dns_domain="office.example",
    ntlm_version=(6, 1, 7601),
    smb1=Smb1Persona(
        max_buffer_size=16644,
        capabilities=0x0001F3FC,
        native_os="Windows Server 2008 R2 Standard 7601 Service Pack 1",
        native_lan_man="Windows Server 2008 R2 Standard 6.1",
        peek_fid0_status=NTStatus.ACCESS_DENIED,
    ),
    smb2=Smb2Persona(dialects=(0x0202, 0x0210), capabilities=0x03, max_size=1048576),
    server_guid="3d0b2c4e-5f6a-4b7c-8d9e-0f1a2b3c4d52",
)

_WIN10_1909_SMB2 = Smb2Persona(
    dialects=(0x0202, 0x0210, 0x0300, 0x0302, 0x0311),
    capabilities=0x6F,
    capabilities_311=0x2F,
    ciphers=(smb2.Cipher.AES_128_GCM, smb2.Cipher.AES_128_CCM),
    compression=(
        smb2.CompressionAlgorithm.LZNT1,
        smb2.CompressionAlgorithm.LZ77,
        smb2.CompressionAlgorithm.LZ77_HUFFMAN,
    ),
)

WIN10_1909 = Persona(
    key="win10-1909",
    title="Windows 10 1909 (SMB 3.1.1 with LZNT1/LZ77 compression)",
    netbios_name="ACCOUNTING-PC",
    domain="OFFICE",
    dns_domain="office.example",
    ntlm_version=(10, 0, 18363),
    smb2=_WIN10_1909_SMB2,
    null_session=False,
    server_guid="3d0b2c4e-5f6a-4b7c-8d9e-0f1a2b3c4d53",
)

WIN10_1909_NO_COMPRESSION = replace(
    WIN10_1909,
    key="win10-1909-mitigated",
    title="Windows 10 1909 with DisableCompression=1",
    netbios_name="SALES-PC",
    smb2=replace(_WIN10_1909_SMB2, compression=()),
    server_guid="3d0b2c4e-5f6a-4b7c-8d9e-0f1a2b3c4d54",
)

WIN2019_HARDENED = Persona(
    key="win2019-hardened",
    title="Windows Server 2019, hardened (no SMB1, signing required, AES-GCM)",
    netbios_name="DC01",
    domain="OFFICE",
    dns_domain="office.example",
    ntlm_version=(10, 0, 17763),
    ntlm_flags=0xE2898215,
    smb2=Smb2Persona(
        dialects=(0x0202, 0x0210, 0x0300, 0x0302, 0x0311),
        security_mode=smb2.SecurityMode.SIGNING_ENABLED | smb2.SecurityMode.SIGNING_REQUIRED,
        capabilities=0x6F,
        capabilities_311=0x2F,
        ciphers=(smb2.Cipher.AES_128_GCM, smb2.Cipher.AES_128_CCM),
    ),
    null_session=False,
    ipc_anonymous=False,
    server_guid="3d0b2c4e-5f6a-4b7c-8d9e-0f1a2b3c4d55",
)

SAMBA_NAS = Persona(
    key="samba-nas",
    title="NAS with Samba 4.5.16 (SMB1 on, guest share)",
    netbios_name="NAS",
    ntlm_version=(6, 1, 0),
    ntlm_flags=0x62898215,
    smb1=Smb1Persona(
        security_mode=0x03,
        max_buffer_size=65535,
        capabilities=0x8000F3FD & ~0x80000000,
        native_os="Windows 6.1",
        native_lan_man="Samba 4.5.16-Debian",
        peek_fid0_status=NTStatus.INVALID_HANDLE,  # as real smbd 4.17 answers
        trans2_session_setup_status=NTStatus.ACCESS_DENIED,  # as real smbd 4.17 answers
    ),
    smb2=Smb2Persona(
        dialects=(0x0202, 0x0210, 0x0300, 0x0302, 0x0311),
        capabilities=0x07,
        capabilities_311=0x07,
        ciphers=(smb2.Cipher.AES_128_GCM, smb2.Cipher.AES_128_CCM),
        mechs=(OID_NTLMSSP,),
    ),
    guest=True,
    shares=("public",),
    server_guid="3d0b2c4e-5f6a-4b7c-8d9e-0f1a2b3c4d56",
)

WIN7_DOUBLEPULSAR = replace(
    WIN7_SP1_UNPATCHED,
    key="win7-doublepulsar",
    title="Windows 7 SP1 with the DoublePulsar implant",
    netbios_name="LAB-PC7",
    smb1=replace(
        WIN7_SP1_UNPATCHED.smb1 or Smb1Persona(),
        doublepulsar=True,
        native_os="Windows 7 Enterprise 7601 Service Pack 1",
        native_lan_man="Windows 7 Enterprise 6.1",
    ),
    server_guid="3d0b2c4e-5f6a-4b7c-8d9e-0f1a2b3c4d57",
)

ALL: tuple[Persona, ...] = (
    WIN7_SP1_UNPATCHED,
    WIN2008R2_PATCHED,
    WIN10_1909,
    WIN10_1909_NO_COMPRESSION,
    WIN2019_HARDENED,
    SAMBA_NAS,
    WIN7_DOUBLEPULSAR,
)

BY_KEY = {p.key: p for p in ALL}
