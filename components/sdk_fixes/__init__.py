"""Fixes of the Pulumi Python SDK's run-time cost, installed by `__main__.py` before any resource:

- `sdk_corrections`: the SDK's dependency-cycle check and its wait for outstanding outputs,
  made linear in the rollout (`install()`), with the same answers call by call;
- `gc_tuning`: CPython's garbage collector thresholds for a program of many small objects
  (`tune()`).
"""
