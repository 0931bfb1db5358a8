"""One local AWS endpoint: moto in server mode for what it emulates, twin's Data Exchange for what it
does not, behind a router that verifies SigV4 and records every call in a CloudTrail-like trail."""
