"""Start real Samba (``smbd``) instances on loopback for tests and benchmarks.

Each instance is described by a :class:`SambaConfig` (address, port, extra
``[global]`` options, shares, users) and gets its own lock/state/cache/private/
pid/log directories under one temporary directory, so many instances run side by
side without touching the system's Samba. ``smbd`` needs the address on an
interface (it refuses to bind otherwise: "No sockets available to bind to"), so
:func:`ensure_loopback_address` adds ``127.0.X.Y/32`` to ``lo`` (root only) and
the lab removes what it added at teardown.

Usage, in a test module (each engineer uses their own address range)::

    from tests.helpers.samba import SambaConfig, samba_fixture

    CONFIGS = [SambaConfig(name="smb1", address="127.0.12.1", options={"server min protocol": "NT1"})]
    lab = samba_fixture(CONFIGS)            # a session-scoped pytest fixture

    def test_something(lab):
        inst = lab["smb1"]                   # SambaInstance: .address, .port, .config, .log_text()

Or, outside pytest (benchmarks)::

    with SambaLab(CONFIGS, base_dir) as lab:
        ...

Processes are stopped by PID only: the ``smbd`` parent we started, the PIDs in
the instance's own pid directory (``samba-dcerpcd`` is started on demand and
re-parented), and any process whose command line names the instance's own
configuration file (a path unique to the instance), so nothing else on the
machine is touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

SMBD = shutil.which("smbd") or "/usr/sbin/smbd"
SMBPASSWD = shutil.which("smbpasswd") or "/usr/bin/smbpasswd"

# Options every instance gets unless its config overrides them. They keep the
# instance self-contained (no printers, no NetBIOS, no system directories).
BASE_OPTIONS: dict[str, str] = {
    "workgroup": "SMBGUARDLAB",
    "server role": "standalone server",
    "bind interfaces only": "yes",
    "disable netbios": "yes",
    "load printers": "no",
    "printing": "bsd",
    "printcap name": "/dev/null",
    "disable spoolss": "yes",
    "log level": "1",
    "max log size": "1000",
    "usershare path": "",
    "smbd:backgroundqueue": "no",
    "dns proxy": "no",
}


@dataclass(frozen=True)
class SambaConfig:
    """One smbd instance.

    ``options`` are ``[global]`` parameters (override :data:`BASE_OPTIONS`);
    ``shares`` maps a share name to its parameters (a ``path`` is created in the
    instance directory when missing: use the placeholder ``{dir}`` in values for
    the instance directory); ``users`` maps Samba user names to passwords (a Unix
    account is created when missing, without home or shell).
    """

    name: str
    address: str
    port: int = 445
    netbios_name: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    shares: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    users: Mapping[str, str] = field(default_factory=dict)
    files: Mapping[str, bytes] = field(default_factory=dict)  # "share/relative/path" -> content


class SambaError(RuntimeError):
    """An instance failed to start; the message carries the tail of its log."""


def have_smbd() -> bool:
    return os.path.exists(SMBD)


def ensure_loopback_address(address: str) -> bool:
    """Make ``address`` (127.x.y.z or ::1) usable by smbd. Returns True when this call
    added it to ``lo`` (the caller removes it later with :func:`remove_loopback_address`)."""
    if address in ("127.0.0.1", "::1"):
        return False
    if not address.startswith("127."):
        raise ValueError(f"refusing to use non-loopback address {address}")
    out = subprocess.run(
        ["ip", "-o", "-4", "addr", "show", "dev", "lo"], capture_output=True, text=True, check=True
    ).stdout
    if f"inet {address}/" in out:
        return False
    if os.geteuid() != 0:
        raise PermissionError(f"adding {address} to lo needs root")
    subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], check=True, capture_output=True)
    return True


def remove_loopback_address(address: str) -> None:
    subprocess.run(["ip", "addr", "del", f"{address}/32", "dev", "lo"], check=False, capture_output=True)


def _port_open(address: str, port: int, timeout: float = 0.2) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
        except OSError:
            return False
        return True


def _pids_with_config(conf: Path) -> list[int]:
    """PIDs of processes whose command line names ``conf`` (unique to one instance)."""
    needle = str(conf).encode()
    pids: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path("/proc", entry, "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmdline:
            pids.append(int(entry))
    return pids


class SambaInstance:
    """A running (or stopped) smbd with its own directories under ``root``."""

    def __init__(self, config: SambaConfig, root: Path) -> None:
        self.config = config
        self.root = root
        self.conf_path = root / "smb.conf"
        self.process: subprocess.Popen[bytes] | None = None
        self._added_address = False

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def address(self) -> str:
        return self.config.address

    @property
    def port(self) -> int:
        return self.config.port

    @property
    def target(self) -> str:
        """The address as ``smbguard scan`` takes it (with ``:port`` when not 445)."""
        host = f"[{self.address}]" if ":" in self.address else self.address
        return host if self.port == 445 else f"{host}:{self.port}"

    def _dirs(self) -> dict[str, Path]:
        return {
            name: self.root / name
            for name in ("lock", "state", "cache", "private", "pid", "log", "ncalrpc", "shares", "binddns")
        }

    def render_conf(self) -> str:
        d = self._dirs()
        cfg = self.config
        opts: dict[str, str] = dict(BASE_OPTIONS)
        opts.update(
            {
                "netbios name": cfg.netbios_name or cfg.name.upper().replace("-", "")[:15],
                "interfaces": f"{cfg.address}/{128 if ':' in cfg.address else 32}",
                "smb ports": str(cfg.port),
                "lock directory": str(d["lock"]),
                "state directory": str(d["state"]),
                "cache directory": str(d["cache"]),
                "private dir": str(d["private"]),
                "pid directory": str(d["pid"]),
                "ncalrpc dir": str(d["ncalrpc"]),
                "binddns dir": str(d["binddns"]),
                "log file": str(d["log"] / "log.%m"),
                "passdb backend": f"tdbsam:{d['private'] / 'passdb.tdb'}",
            }
        )
        opts.update({k: v.replace("{dir}", str(self.root)) for k, v in cfg.options.items()})
        lines = ["[global]", *(f"   {k} = {v}" for k, v in opts.items())]
        for share, params in cfg.shares.items():
            params = {k: v.replace("{dir}", str(self.root)) for k, v in params.items()}
            if "path" not in params:
                params["path"] = str(d["shares"] / share)
            lines.append(f"[{share}]")
            lines.extend(f"   {k} = {v}" for k, v in params.items())
        return "\n".join(lines) + "\n"

    def share_path(self, share: str) -> Path:
        """The directory behind ``share`` on the local file system."""
        params = self.config.shares[share]
        default = str(self._dirs()["shares"] / share)
        return Path(params.get("path", default).replace("{dir}", str(self.root)))

    def prepare(self) -> None:
        for path in self._dirs().values():
            path.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(self.render_conf())
        for share in self.config.shares:
            path = self.share_path(share)
            if path.is_absolute() and not path.exists():
                path.mkdir(parents=True)
            if path.is_relative_to(self.root):
                path.chmod(0o777)
        for rel, content in self.config.files.items():
            share, _, inner = rel.partition("/")
            base = self.share_path(share)
            (base / inner).parent.mkdir(parents=True, exist_ok=True)
            (base / inner).write_bytes(content)
        for user, password in self.config.users.items():
            _ensure_unix_user(user)
            subprocess.run(
                [SMBPASSWD, "-c", str(self.conf_path), "-s", "-a", user],
                input=f"{password}\n{password}\n".encode(),
                check=True,
                capture_output=True,
                timeout=30,
            )

    def start(self) -> None:
        """Write the configuration and launch smbd; does not wait (see :meth:`wait_ready`)."""
        self._added_address = ensure_loopback_address(self.address)
        self.prepare()
        self.process = subprocess.Popen(
            [SMBD, "--foreground", "--no-process-group", "-s", str(self.conf_path)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "log" / "stderr.txt", "wb"),  # noqa: SIM115 (closed with the process)
            # smbd signals its whole process group when it shuts down: give it its own.
            start_new_session=True,
        )

    def wait_ready(self, deadline: float) -> None:
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SambaError(
                    f"smbd {self.name} exited with {self.process.returncode}:\n{self.log_text()}"
                )
            if _port_open(self.address, self.port):
                return
            time.sleep(0.05)
        raise SambaError(f"smbd {self.name} did not listen on {self.target} in time:\n{self.log_text()}")

    def log_text(self, tail: int = 4000) -> str:
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            if path.is_file():
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-tail:]}")
        return "\n".join(parts)

    def pids(self) -> list[int]:
        """Every process belonging to this instance (main smbd, its children, rpc helpers)."""
        found: set[int] = set()
        if self.process is not None and self.process.poll() is None:
            found.add(self.process.pid)
        for pidfile in (self.root / "pid").glob("*.pid"):
            with contextlib.suppress(OSError, ValueError):
                found.add(int(pidfile.read_text().split()[0]))
        found.update(_pids_with_config(self.conf_path))
        found.discard(os.getpid())
        return sorted(p for p in found if p > 1)

    def stop(self) -> None:
        pids = self.pids()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        if self.process is not None:
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and [p for p in pids if _alive(p)]:
            time.sleep(0.05)
        for pid in self.pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if self._added_address:
            remove_loopback_address(self.address)
            self._added_address = False


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _ensure_unix_user(user: str) -> None:
    if subprocess.run(["id", "-u", user], capture_output=True).returncode == 0:
        return
    subprocess.run(
        ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", user], check=True, capture_output=True
    )


class SambaLab:
    """Start several instances at once (in parallel) and stop them all on exit."""

    def __init__(
        self, configs: Sequence[SambaConfig], base_dir: Path | None = None, timeout: float = 30
    ) -> None:
        names = [c.name for c in configs]
        if len(set(names)) != len(names):
            raise ValueError("instance names must be unique")
        endpoints = [(c.address, c.port) for c in configs]
        if len(set(endpoints)) != len(endpoints):
            raise ValueError("instance address:port pairs must be unique")
        self._own_dir = base_dir is None
        self.base_dir = Path(tempfile.mkdtemp(prefix="smbguard-samba-")) if base_dir is None else base_dir
        # Guest sessions run as "nobody", which must be able to reach the share paths.
        self.base_dir.chmod(0o755)
        self.instances = {c.name: SambaInstance(c, self.base_dir / c.name) for c in configs}
        self.timeout = timeout

    def __getitem__(self, name: str) -> SambaInstance:
        return self.instances[name]

    def __iter__(self) -> Iterator[SambaInstance]:
        return iter(self.instances.values())

    def __len__(self) -> int:
        return len(self.instances)

    def start(self) -> SambaLab:
        try:
            for inst in self.instances.values():
                if _port_open(inst.address, inst.port):
                    raise SambaError(f"{inst.target} is already in use")
                inst.start()
            deadline = time.monotonic() + self.timeout
            for inst in self.instances.values():
                inst.wait_ready(deadline)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for inst in self.instances.values():
            with contextlib.suppress(Exception):
                inst.stop()
        if self._own_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    def __enter__(self) -> SambaLab:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def require_samba() -> None:
    """Skip (fail under CI) when smbd is missing or we are not root."""
    reason = None
    if not have_smbd():
        reason = f"{SMBD} is not installed"
    elif os.geteuid() != 0:
        reason = "starting smbd on loopback addresses needs root"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def samba_fixture(configs: Sequence[SambaConfig], scope: Any = "session") -> Callable[..., Any]:
    """A pytest fixture that starts ``configs`` once and yields the :class:`SambaLab`."""

    @pytest.fixture(scope=scope)
    def _lab() -> Iterator[SambaLab]:
        # Not tmp_path: pytest's temporary directories are 0700, which hides
        # share paths from the guest account.
        require_samba()
        with SambaLab(configs) as lab:
            yield lab

    return _lab
