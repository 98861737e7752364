"""Where the job specification tests find their files (examples, broken corpus, expected plans)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "specs" / "examples"
BROKEN = Path(__file__).resolve().parent / "broken"
PLANS = Path(__file__).resolve().parent / "plans"

EXAMPLE_FILES = sorted(
    p for p in EXAMPLES.iterdir() if p.suffix in (".nomad", ".hcl", ".json", ".yaml", ".yml")
)
