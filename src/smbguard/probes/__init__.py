"""smbguard.probes."""
