"""Development tools: the local stack, the embedded Apache Kafka and the Personalize emulator.

Production images need not ship this folder; only `pipeline dev`, `pipeline emulator`, the tests
and the benchmarks use it.
"""
