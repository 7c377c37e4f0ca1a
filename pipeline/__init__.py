"""Shared wiring of the pipeline: Kafka settings and clients, the embedded broker, the CLI."""
