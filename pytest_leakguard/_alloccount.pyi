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

def fill_malloc_cache(bins: int, count: int) -> None:
    """Take and free ``count`` blocks of each of ``bins`` sizes (24, 40... bytes)."""
