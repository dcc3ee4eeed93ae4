"""The check's summary: status lines per section, tables, the time budget, summary.md / summary.json."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATUSES = ("PASS", "FAIL", "SKIP", "INFO")


@dataclass
class Line:
    """One result line."""

    section: str
    status: str
    text: str


@dataclass
class Summary:
    """Everything the check found, in order; ``budget_s`` bounds the whole run."""

    budget_s: float
    lines: list[Line] = field(default_factory=list)
    tables: dict[str, list[str]] = field(default_factory=dict)
    facts: dict[str, Any] = field(default_factory=dict)
    start: float = field(default_factory=time.monotonic)

    def add(self, section: str, status: str, text: str) -> None:
        """Record and print one line (PASS, FAIL, SKIP or INFO)."""
        assert status in STATUSES, status
        self.lines.append(Line(section, status, text))
        print(f"[{status}] {section}: {text}", flush=True)

    def left_s(self) -> float:
        """Seconds left of the time budget."""
        return self.budget_s - (time.monotonic() - self.start)

    def fits(self, section: str, estimate_s: float) -> bool:
        """True when ``estimate_s`` fits the budget; else a SKIP line says so."""
        if estimate_s <= self.left_s():
            return True
        self.add(
            section, "SKIP", f"time budget: estimated {estimate_s:.0f} s, {max(self.left_s(), 0):.0f} s left"
        )
        return False

    @property
    def failed(self) -> bool:
        return any(line.status == "FAIL" for line in self.lines)

    def write(self, out_dir: Path) -> Path:
        """summary.md and summary.json under ``out_dir``; returns the Markdown file."""
        out_dir.mkdir(parents=True, exist_ok=True)
        elapsed = time.monotonic() - self.start
        counts = {s: sum(line.status == s for line in self.lines) for s in STATUSES}
        md = [
            "# GPU check",
            "",
            f"- {', '.join(f'{k} {v}' for k, v in counts.items())}; {elapsed:.0f} s of a {self.budget_s:.0f} s budget",
            *[f"- {k}: {v}" for k, v in self.facts.items()],
            "",
        ]
        section = None
        for line in self.lines:
            if line.section != section:
                section = line.section
                md += ["", f"## {section}", ""]
            md.append(f"- **{line.status}** {line.text}")
        for title, table in self.tables.items():
            md += ["", f"## {title}", "", *table]
        path = out_dir / "summary.md"
        path.write_text("\n".join(md) + "\n")
        data = {"elapsed_s": round(elapsed, 1), "counts": counts, "facts": self.facts}
        data["lines"] = [asdict(line) for line in self.lines]
        (out_dir / "summary.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
        return path
