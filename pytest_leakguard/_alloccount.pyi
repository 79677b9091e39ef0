"""Counts the bytes allocated through Python's allocators and still alive (C)."""

def start() -> None:
    """Hook Python's allocators (once) and count from zero."""

def stop() -> None:
    """Stop counting and free the table (the hooks stay, passing through)."""

def current() -> int:
    """Bytes allocated since start() and still alive."""

def blocks() -> int:
    """Blocks allocated since start() and still alive."""

def is_counting() -> bool:
    """Whether start() was called and stop() was not."""

def newest_thread() -> int:
    """The id of the newest thread state (an argument for focus())."""

def focus(newest: int = ...) -> None:
    """From now on, count only what the calling thread and the threads created after
    the thread ``newest`` (from newest_thread(); default: now) allocate."""

def compact() -> None:
    """Forget the counted blocks if they are many (their bytes stay counted), or shrink
    a sparse table."""

def table_slots() -> int:
    """The size of the table of live blocks, in slots (0: not counting)."""

def fill_malloc_cache(bins: int, count: int) -> None:
    """Take and free ``count`` blocks of each of ``bins`` sizes (24, 40... bytes)."""
