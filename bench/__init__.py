"""Benchmarks of rs: ``python -m bench`` (``make bench``) runs them and rewrites RESULTS.md.

Modules: :mod:`bench.harness` (subprocess timing, memory sampling, markdown),
:mod:`bench.scene` (the synthetic world and AOI squares), :mod:`bench.composite` (variants rs
and floor), :mod:`bench.baseline_sequential` (variant a), :mod:`bench.stages` (rs stage timings),
:mod:`bench.suite` (benchmark 1: runs and report). Scratch data lives in ``bench/_work/``.
"""
