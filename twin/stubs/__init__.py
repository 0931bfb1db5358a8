"""Stand-ins that real SDKs talk to over HTTP: each is moto's split of `models` (state), `responses`
(HTTP shapes) and `urls` (routes), served on 127.0.0.1."""
