"""Schemathesis hooks for scripts/fuzz_openapi.py: every request carries a
fresh admin token in each dialect's headers. The token is renewed by a login
every few seconds, so a generated `account/logout` (which ends the admin's
session) costs the run a moment, not the rest of its requests."""

import json
import os
import urllib.request

import schemathesis

BASE = os.environ["ROSTER_FUZZ_BASE"]
EMAIL = os.environ["ROSTER_FUZZ_ADMIN_EMAIL"]
PASSWORD = os.environ["ROSTER_FUZZ_ADMIN_PASSWORD"]


def login() -> str:
    body = json.dumps({"email": EMAIL, "password": PASSWORD}).encode()
    request = urllib.request.Request(
        f"{BASE}/user/v1/admin/login", data=body, headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["result"]["access_token"]


@schemathesis.auth(refresh_interval=3)
class RosterAdmin:
    def get(self, case, ctx):
        return login()

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["X-auth-token"] = f"bearer {data}"
        case.headers["Authorization"] = f"Bearer {data}"
        case.headers["x-authenticated-user-token"] = data
