"""The Snowflake/Athena stand-in: DuckDB with a bronze → silver → gold medallion built by dbt."""
