"""Hydra plugin package of asl-bench (Hydra discovers plugins only under ``hydra_plugins``)."""
