"""Build the optional C accelerators ``smbguard.logs._*`` (project metadata is in pyproject.toml).

Every ``src/smbguard/logs/_<name>.c`` becomes the extension module ``smbguard.logs._<name>``; the
``src/smbguard/logs/_*.h`` headers they share are listed as dependencies (rebuild, sdist).
``optional=True``: without a C compiler the package still installs and each module's Python
reference does the work (for ``_evtxscan``: ``smbguard.logs.winevent._scan_py``);
``pip install -e .`` builds them in place."""

from pathlib import Path

from setuptools import Extension, setup

_SOURCES = sorted(Path("src/smbguard/logs").glob("_*.c"))
_HEADERS = [header.as_posix() for header in sorted(Path("src/smbguard/logs").glob("_*.h"))]

setup(
    ext_modules=[
        Extension(
            f"smbguard.logs.{source.stem}",
            [source.as_posix()],
            depends=_HEADERS,
            optional=True,
            extra_compile_args=["-O2"],
        )
        for source in _SOURCES
    ]
)
