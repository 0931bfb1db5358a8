"""twin: a local-first digital twin of an asset manager's client data-distribution platform."""

__version__ = "0.1.0"
