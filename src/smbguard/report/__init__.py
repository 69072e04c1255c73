"""smbguard.report."""
