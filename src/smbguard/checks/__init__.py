"""Checks: pure functions from facts to findings. See ``base`` and ``registry``."""
