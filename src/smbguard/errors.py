"""The project's own exception hierarchy.

Every decoder raises :class:`DecodeError` (never IndexError, struct.error or
UnicodeDecodeError) on malformed input; transports raise :class:`TransportError`
subclasses. Exception text never contains credentials.
"""


class SmbGuardError(Exception):
    """Base class of every error smbguard raises on purpose."""


class DecodeError(SmbGuardError, ValueError):
    """Bytes from the network or a file did not parse as the expected structure."""


class TargetError(SmbGuardError, ValueError):
    """A target specification (address, range, CIDR, host name, file) is invalid."""


class TransportError(SmbGuardError):
    """A network exchange failed (refused, reset, timed out, oversized frame)."""


class ConnectTimeout(TransportError):
    """The TCP connection was not established in time (port filtered or host down)."""


class ConnectRefused(TransportError):
    """The TCP connection was actively refused (port closed)."""


class ReadTimeout(TransportError):
    """The peer did not send a complete message in time."""


class FrameTooLarge(TransportError):
    """The peer announced a frame larger than the configured bound."""


class ConnectionClosed(TransportError):
    """The peer closed the connection before a complete message arrived."""


class CatalogError(SmbGuardError):
    """The findings catalog is missing an entry or an entry is malformed."""


class StoreError(SmbGuardError):
    """The scan history database could not be read or written."""


class LogFormatError(SmbGuardError):
    """A log or capture file could not be recognised or parsed."""


class AuthError(SmbGuardError):
    """A credentialed operation failed. The message never contains the secret."""
