"""Routes of the REST API the stand-in serves (werkzeug rules → handler names in `responses`).

The token endpoint answers both on `/services/oauth2/token` and under any `<domain>.salesforce.com`
prefix: simple-salesforce builds its login URL as `https://{domain}.salesforce.com/services/oauth2/token`,
so a client given `domain="127.0.0.1:PORT/login"` reaches `/login.salesforce.com/services/oauth2/token`
here, with the SDK unchanged. The SOAP login (simple-salesforce's default with a security token) is
routed the same way.
"""

from __future__ import annotations

from werkzeug.routing import Map, Rule

_V = "/services/data/v<version>"

url_map = Map(
    [
        Rule("/services/oauth2/token", endpoint="token", methods=["POST"]),
        Rule("/<login_domain>.salesforce.com/services/oauth2/token", endpoint="token", methods=["POST"]),
        Rule("/services/Soap/u/<version>", endpoint="soap_login", methods=["POST"]),
        Rule(
            "/<login_domain>.salesforce.com/services/Soap/u/<version>",
            endpoint="soap_login",
            methods=["POST"],
        ),
        Rule("/services/data", endpoint="versions", methods=["GET"]),
        Rule("/services/data/", endpoint="versions", methods=["GET"]),
        Rule(f"{_V}/limits", endpoint="limits", methods=["GET"], strict_slashes=False),
        Rule(f"{_V}/sobjects", endpoint="describe_global", methods=["GET"], strict_slashes=False),
        Rule(f"{_V}/query", endpoint="query", methods=["GET"], strict_slashes=False),
        Rule(f"{_V}/queryAll", endpoint="query", methods=["GET"], strict_slashes=False),
        Rule(f"{_V}/query/<locator>", endpoint="query_more", methods=["GET"]),
        Rule(f"{_V}/queryAll/<locator>", endpoint="query_more", methods=["GET"]),
        Rule(f"{_V}/sobjects/<sobject>", endpoint="create", methods=["POST"], strict_slashes=False),
        Rule(f"{_V}/sobjects/<sobject>/describe", endpoint="describe", methods=["GET"], strict_slashes=False),
        Rule(f"{_V}/sobjects/<sobject>/<record_id>", endpoint="record", methods=["GET", "PATCH", "DELETE"]),
        Rule(
            f"{_V}/sobjects/<sobject>/<field>/<path:value>",
            endpoint="by_external_id",
            methods=["GET", "PATCH", "DELETE"],
        ),
    ],
    strict_slashes=False,
)
