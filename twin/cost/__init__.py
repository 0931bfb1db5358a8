"""The parametric cost model: warehouse compute, cache savings, egress and storage."""
