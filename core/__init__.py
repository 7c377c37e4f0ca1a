"""The bottom layer: Kafka settings and clients, logs, consumer lag, probes and AWS model checks.

Every service builds on it; it imports no service.
"""
