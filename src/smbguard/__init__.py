"""smbguard: find, fix and watch SMB security exposures."""

__version__ = "0.1.0"
