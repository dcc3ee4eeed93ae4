"""Read an offline W&B run back (config, history, summary) from its binary ``run-*.wandb`` file (tests only)."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

_HEADER = struct.Struct("<4sHB")  # ":W&B", magic, version
_RECORD = struct.Struct("<IHB")  # crc32c, length, type (LevelDB log framing)
_BLOCK = 32768
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def _iter_chunks(raw: bytes):
    pos = _HEADER.size
    buf = b""
    while pos + _RECORD.size <= len(raw):
        left = _BLOCK - pos % _BLOCK
        if left < _RECORD.size:
            pos += left
            continue
        _crc, length, kind = _RECORD.unpack_from(raw, pos)
        pos += _RECORD.size
        data = raw[pos : pos + length]
        pos += length
        if kind == _FULL:
            yield data
        elif kind == _FIRST:
            buf = data
        elif kind == _MIDDLE:
            buf += data
        elif kind == _LAST:
            yield buf + data
            buf = b""
        elif kind == 0 and length == 0:
            break


def offline_runs(run_dir: str | Path) -> list[Path]:
    """The offline W&B run files under ``run_dir/wandb``, oldest first."""
    return sorted(Path(run_dir).glob("wandb/offline-run-*/run-*.wandb"))


def read_offline_run(run_dir: str | Path) -> dict[str, Any]:
    """Config, history, summary and identity (``run``: id, name, group) of the latest offline W&B run
    stored under ``run_dir/wandb``."""
    from wandb.proto import wandb_internal_pb2 as pb

    files = offline_runs(run_dir)
    if not files:
        raise FileNotFoundError(f"no offline W&B run under {run_dir}")
    raw = files[-1].read_bytes()
    ident, _magic, _version = _HEADER.unpack_from(raw, 0)
    if ident != b":W&B":
        raise ValueError(f"{files[-1]} is not a W&B run file")
    out: dict[str, Any] = {"config": {}, "summary": {}, "history": [], "file": str(files[-1]), "run": {}}
    for chunk in _iter_chunks(raw):
        rec = pb.Record()
        rec.ParseFromString(chunk)
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            out["run"] = {"id": rec.run.run_id, "name": rec.run.display_name, "group": rec.run.run_group,
                          "project": rec.run.project}  # fmt: skip
        if kind in ("config", "run"):
            items = rec.config.update if kind == "config" else rec.run.config.update
            for item in items:
                value = json.loads(item.value_json)
                out["config"][item.key] = value.get("value", value) if isinstance(value, dict) else value
        elif kind == "summary":
            for item in rec.summary.update:
                key = item.key or "/".join(item.nested_key)
                out["summary"][key] = json.loads(item.value_json)
        elif kind == "history":
            row = {}
            for item in rec.history.item:
                key = item.key or "/".join(item.nested_key)
                row[key] = json.loads(item.value_json)
            out["history"].append(row)
    return out
