"""Findings catalog: one TOML data file per finding id, zh-TW and en. See ``loader``."""
