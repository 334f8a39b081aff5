"""Upgrade steps: one module per profile version, registered in configure.zcml."""
