"""The SaaS REST tier (API Gateway + Lambda + Cognito in production): FastAPI, an OIDC resource server
and a local issuer, per-client token buckets, Prometheus metrics and RFC 9457 problem responses."""
