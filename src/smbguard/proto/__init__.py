"""Sans-I/O SMB codecs: ``encode_*() -> bytes``, ``decode_*(buf) -> frozen dataclass``.

Modules: :mod:`ntstatus`, :mod:`netbios` ([RFC 1002]), :mod:`smb1` ([MS-CIFS]/[MS-SMB]),
:mod:`smb2` ([MS-SMB2]), :mod:`ntlmssp` ([MS-NLMP]), :mod:`spnego` ([RFC 4178]/[MS-SPNG]),
:mod:`dcerpc` ([C706]/[MS-RPCE]). Decoders raise only :class:`smbguard.errors.DecodeError`.
No asyncio or socket imports here. See docs/protocol.md.
"""
