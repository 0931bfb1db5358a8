"""The simulator: SimPy environment, personas, scenario runner, SLA evaluation, reports and the gate."""
