"""A small order service, used to show pytest-leakguard at work.

It has one real leak: :mod:`shop.handlers` keeps every receipt it renders in a
module-level cache that is never evicted.  Everything else holds only bounded
state (a bounded price cache, per-test repositories, temporary buffers, an
event bus that holds its subscribers weakly).
"""
