"""smbguard.logs."""
