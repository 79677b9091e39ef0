"""Process-wide patches that are undone exactly.

A probe (``threading.Thread.start``, ``subprocess.Popen.__init__``) or a re-run
(``TempPathFactory.mktemp``) replaces a function for a while.  Meanwhile other
code may replace it too, on top of ours: a library patching at its first use, or
a session run in-process inside the test (``pytester``) patching the same
function.  Undoing ours then must not throw theirs away: the original comes back
only if our replacement is still the one in place; otherwise ours stays in their
chain but only passes calls through.
"""

from __future__ import annotations

import functools
from typing import Any, Callable


class Patch:
    """``owner.name`` replaced by a call of ``replacement(original, *args, **kwargs)``."""

    def __init__(self, owner: Any, name: str, replacement: Callable[..., Any]) -> None:
        self.owner = owner
        self.name = name
        self.original: Callable[..., Any] = getattr(owner, name)
        self._own = name in vars(owner)  # else inherited: undo deletes ours
        self.active = True
        original = self.original

        @functools.wraps(original)
        def patched(*args: Any, **kwargs: Any) -> Any:
            if self.active:
                return replacement(original, *args, **kwargs)
            return original(*args, **kwargs)

        self.patched = patched
        setattr(owner, name, patched)

    def undo(self) -> None:
        """Restore the original if ours is still in place; else just pass calls through."""
        if not self.active:
            return
        self.active = False
        if vars(self.owner).get(self.name) is self.patched:
            if self._own:
                setattr(self.owner, self.name, self.original)
            else:
                delattr(self.owner, self.name)
