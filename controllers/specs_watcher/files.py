"""Which files in a specs directory are job files (pure)."""

from __future__ import annotations

from pathlib import Path

JOB_SUFFIXES = (".nomad", ".hcl", ".json", ".yaml", ".yml")


def is_job_file(path: Path, directory: Path) -> bool:
    """Job files lie directly in the directory (sub-directories such as examples/ are not
    applied) and have a job file extension; editor temp files are ignored."""
    if path.parent != directory:
        return False
    name = path.name
    if name.startswith((".", "#", "~")) or name.endswith(("~", ".swp", ".tmp")):
        return False
    return path.suffix in JOB_SUFFIXES


def job_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.is_file() and is_job_file(p, directory))
