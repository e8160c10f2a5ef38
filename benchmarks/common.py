"""What every benchmark here does alike: measure in a process of its own (so its peak memory is its own), and
keep what it printed as JSON under benchmarks/results/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def in_own_process(script: str, *args: str) -> dict[str, Any]:
    """Run ``script --one ARGS`` and return the JSON object it printed last."""
    output = subprocess.run([sys.executable, script, "--one", *args], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout
    return dict(json.loads(output.strip().splitlines()[-1]))


def save(name: str, results: Any) -> None:
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
