"""The engine model: what the Pulumi engine does with what the program registers.

- `mock_driver`: runs the real program in-process under the Pulumi SDK's mocks and records every
  registration (`sdk_speedups`: its cheaper SDK bookkeeping, for it alone).
"""
