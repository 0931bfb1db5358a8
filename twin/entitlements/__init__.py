"""The entitlement workflow: an ASL state machine (`definition.asl.json`, the artefact real Step Functions
would run) executed by moto's interpreter, and the worker that turns Salesforce change events into
executions and writes each outcome back to Salesforce."""
