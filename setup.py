"""Build the optional C accelerator ``smbguard.logs._evtxscan`` (project metadata is in pyproject.toml).

``optional=True``: without a C compiler the package still installs and the Python reference
(``smbguard.logs.winevent._scan_py``) does the work; ``pip install -e .`` builds it in place."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "smbguard.logs._evtxscan",
            ["src/smbguard/logs/_evtxscan.c"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
