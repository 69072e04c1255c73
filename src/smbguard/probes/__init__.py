"""Async, read-only collectors. Entry point: :func:`smbguard.probes.host.collect`
(``collect(target, ProbeOptions) -> HostFacts``), which runs :mod:`smb1`, :mod:`smb2`,
:mod:`ntlm`, :mod:`sessions` (and :mod:`netbios`, the optional vulnerability probes)
in parallel over six connections per host. See docs/protocol.md.
"""
