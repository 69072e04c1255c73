"""nmap output as smbguard names things, for tests and benchmarks that compare with nmap."""

from __future__ import annotations

#: smb-protocols dialect labels -> smbguard dialect names. nmap 7.9x prints "202",
#: newer releases "2:0:2".
NMAP_DIALECTS = {
    "202": "2.0.2",
    "210": "2.1",
    "300": "3.0",
    "302": "3.0.2",
    "311": "3.1.1",
    "2:0:2": "2.0.2",
    "2:1:0": "2.1",
    "3:0:0": "3.0",
    "3:0:2": "3.0.2",
    "3:1:1": "3.1.1",
}
