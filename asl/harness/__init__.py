"""Experiment harness: compose, validate and execute runs, with resume, run metadata and W&B logging.

``asl.harness.experiment.run(cfg)`` executes one composed Hydra config (``scripts/run.py``); results are
written in the schema of :mod:`asl.results`.
"""
