"""Renderers: they take verdicts (as the dicts carried by test reports), never measure."""
