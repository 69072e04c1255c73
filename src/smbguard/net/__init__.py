"""smbguard.net."""
