"""Stand-ins that the production SDKs talk to unchanged (moto's split: state / HTTP shapes / routes)."""
