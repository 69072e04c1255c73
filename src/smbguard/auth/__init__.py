"""smbguard.auth."""
