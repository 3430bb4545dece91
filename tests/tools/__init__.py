"""Generators of hostile inputs for the hardening tests (built at test time; nothing big is committed)."""
