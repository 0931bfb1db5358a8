"""The MSK stand-in: broker providers, topic contracts, producers, ingestion into bronze and dead letters.

Submodules import their heavy clients (confluent_kafka, testcontainers) lazily, so importing this package
stays cheap for the CLI."""
