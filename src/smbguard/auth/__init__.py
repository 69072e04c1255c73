"""Share enumeration and the credentialed audit: the only package that imports impacket.

- :mod:`~smbguard.auth.credentials`: :class:`Credentials` (secret never printed,
  from options / environment / prompt) and process-title scrubbing.
- :mod:`~smbguard.auth.session`: :class:`SmbSession`, a blocking impacket session
  (srvsvc NetShareEnum / NetShareGetInfo 502, LSA LookupSids, SAMR password and
  lockout policy, winreg values, share read / write test, root folder ACL,
  FSCTL_SRV_ENUMERATE_SNAPSHOTS); every impacket exception becomes an ``AuthError``
  with sanitized text (:mod:`~smbguard.auth._errors`).
- :mod:`~smbguard.auth.sd`, :mod:`~smbguard.auth.policy`: pure decoders (security
  descriptors, SAMR durations) to the model's facts.
- :mod:`~smbguard.auth.registry`: the registry values read, as data.
- :mod:`~smbguard.auth.collect`: async entry points (``audit_host``,
  ``enumerate_shares``) that run the blocking work in threads with timeouts and
  return :class:`~smbguard.model.HostFacts` parts.

Only ``collect`` and ``session`` import impacket; import them lazily from
command-line code so that ``smbguard scan`` starts without it.
"""
