"""Address layouts: which persona answers on which loopback address."""

from __future__ import annotations

import ipaddress

from smbguard.lab import personas as P
from smbguard.lab.personas import Persona

DEMO_BASE = "127.0.30.0"


def _check_loopback(address: str) -> str:
    if not ipaddress.ip_address(address).is_loopback:
        raise ValueError(f"the lab only binds loopback addresses, not {address}")
    return address


def demo_layout(base: str = DEMO_BASE) -> dict[str, Persona]:
    """The seven-host office: .11 .. .17 of ``base``'s /24."""
    net = ipaddress.ip_network(f"{base}/24", strict=False)
    out: dict[str, Persona] = {}
    for offset, persona in enumerate(P.ALL, start=11):
        out[_check_loopback(str(net.network_address + offset))] = persona
    return out


def sweep_layout(network: str = "127.1.0.0/20", hosts: int = 300) -> dict[str, Persona]:
    """``hosts`` emulated hosts spread evenly over ``network`` (the rest stay closed),
    cycling through the personas."""
    net = ipaddress.ip_network(network)
    if not net.network_address.is_loopback:
        raise ValueError(f"the lab only binds loopback addresses, not {network}")
    size = net.num_addresses
    hosts = max(1, min(hosts, size - 2))
    step = max(1, (size - 2) // hosts)
    out: dict[str, Persona] = {}
    for i in range(hosts):
        addr = str(net.network_address + 1 + i * step)
        out[addr] = P.ALL[i % len(P.ALL)]
    return out
