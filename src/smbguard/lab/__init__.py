"""smbguard.lab: an SMB emulator (asyncio) that answers like real Windows and Samba hosts.

Used by ``smbguard demo``, the tests and the benchmarks. Only ever binds
loopback addresses. See :mod:`smbguard.lab.personas` for what each host says.
"""

from smbguard.lab.layouts import demo_layout, sweep_layout
from smbguard.lab.personas import ALL, BY_KEY, Persona
from smbguard.lab.server import Lab, LabLimits

__all__ = ["ALL", "BY_KEY", "Lab", "LabLimits", "Persona", "demo_layout", "sweep_layout"]
