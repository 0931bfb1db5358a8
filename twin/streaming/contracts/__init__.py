"""Topics as contracts: topic definitions, value schemas (pydantic → JSON Schema), a versioned schema store
and Confluent's BACKWARD compatibility rule."""
