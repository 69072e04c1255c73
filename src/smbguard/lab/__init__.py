"""smbguard.lab."""
