"""Snowflake Horizon on DuckDB: policies from Snowflake DDL, sessions, firewall, audit, PII scan."""
