"""The batch's progress on a terminal: one bar over assets, one per running asset's training."""

from __future__ import annotations

import sys
import threading
from typing import Dict, List


class ProgressBoard:
    """One bar over assets, plus one bar per running asset's training (tqdm, on stderr).

    Parameters
    ----------
    total : int
        Assets in the batch.
    done : int
        Assets already up to date.
    enabled : bool
        Show bars (only on a terminal; otherwise every method does nothing visible).
    """

    def __init__(self, total: int, done: int, enabled: bool):
        from tqdm import tqdm

        self.enabled = enabled and sys.stderr.isatty()
        self._tqdm = tqdm
        self._lock = threading.Lock()
        self._overall = tqdm(
            total=total, initial=done, desc="assets", unit="asset", disable=not self.enabled, position=0
        )
        self._bars: Dict[str, object] = {}
        self._free: List[int] = []

    def update(self, name: str, fraction: float, stage: str) -> None:
        """Asset ``name``'s training is at ``fraction`` (in [0, 1]), in ``stage``."""
        if not self.enabled:
            return
        with self._lock:
            bar = self._bars.get(name)
            if bar is None:
                position = self._free.pop(0) if self._free else len(self._bars) + 1
                bar = self._tqdm(
                    total=1000,
                    desc=name,
                    position=position,
                    leave=False,
                    bar_format="{desc}: {percentage:3.0f}%|{bar:30}| {elapsed}<{remaining}{postfix}",
                )
                bar.position_slot = position
                self._bars[name] = bar
            bar.set_postfix_str(stage, refresh=False)
            bar.update(int(round(1000 * fraction)) - bar.n)

    def finished(self, report: Dict) -> None:
        """An asset's job reported: drop its bar, advance the overall one."""
        with self._lock:
            bar = self._bars.pop(report["name"], None)
            if bar is not None:
                self._free.append(bar.position_slot)
                self._free.sort()
                bar.close()
            self._overall.update(1)
            self._overall.set_postfix_str(f"{report['name']}: {report['status']}")

    def close(self) -> None:
        """Remove every bar."""
        with self._lock:
            for bar in self._bars.values():
                bar.close()
            self._overall.close()
