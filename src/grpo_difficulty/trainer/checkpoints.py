"""Checkpoints of a training run: which one to resume, each level's folder, and the
settings stamp that keeps another setting's checkpoints from being resumed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from .. import parallel
from ..config.layout import RunPaths
from ..files import write_text


def last_checkpoint(ckpt_dir: Path) -> str | None:
    """The latest checkpoint the trainer finished writing: trainer_state.json is its last
    file, written in place, so a job killed while writing it leaves it empty or cut short
    (resuming from it would then fail on every rerun)."""
    found = sorted(ckpt_dir.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[1]))
    complete = [p for p in found if holds_json(p / "trainer_state.json")]
    return str(complete[-1]) if complete else None


def holds_json(path: Path) -> bool:
    try:
        json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    return True


def level_checkpoint_dirs(run: RunPaths, n_levels: int, curriculum: bool) -> list[Path]:
    """Checkpoint folder of each level (RunPaths.level_checkpoints). With a curriculum,
    anything else in checkpoints/ (another layout's or a removed level's) is deleted by the
    main process: it can never be resumed."""
    dirs = [Path(run.level_checkpoints(i, curriculum)) for i in range(n_levels)]
    if not curriculum:
        return dirs
    for path in Path(run.checkpoints).glob("*"):
        if path not in dirs and parallel.is_main_process():
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    return dirs


def guard_settings(level_dir: Path, fingerprint: str) -> None:
    """Checkpoints of other settings must not be resumed: start the level over."""
    stamp = level_dir / "settings.hash"
    if level_dir.exists() and (not stamp.exists() or stamp.read_text() != fingerprint):
        shutil.rmtree(level_dir)
    level_dir.mkdir(parents=True, exist_ok=True)
    write_text(fingerprint, stamp)  # atomically: a stamp cut short by a kill would discard the checkpoints
