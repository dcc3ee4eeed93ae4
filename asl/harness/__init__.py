"""Experiment harness: run directories, resume, validation, W&B logging and tables.

``asl.harness.runner.run(cfg)`` executes one composed Hydra config (scripts/run.py);
``asl.harness.tables.write_tables(dir)`` rebuilds the tables from run directories alone.
"""
