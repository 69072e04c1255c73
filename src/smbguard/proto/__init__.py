"""smbguard.proto."""
