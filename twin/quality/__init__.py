"""Data-quality checks on the warehouse (the CloudWatch/Glue data-quality stand-in)."""

from twin.quality.checks import QualityCheck, QualityReport, check_warehouse

__all__ = ["QualityCheck", "QualityReport", "check_warehouse"]
