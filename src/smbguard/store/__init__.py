"""smbguard.store."""
