"""Schemathesis hooks for scripts/fuzz_openapi.py: every request carries a
fresh admin token in each dialect's headers.

The token is renewed by a login every few seconds, so a generated
`account/logout` (which ends the admin's session) costs the run a moment,
not the rest of its requests. Valid generated data can also end the admin
for good (admins may deactivate or erase any user, themselves included);
then a new admin is created through `admin/create` with the server's
ADMIN_SECRET_CODE and the run goes on as that one."""

import json
import os
import urllib.error
import urllib.request
import uuid

import schemathesis

BASE = os.environ["ROSTER_FUZZ_BASE"]
EMAIL = os.environ["ROSTER_FUZZ_ADMIN_EMAIL"]
PASSWORD = os.environ["ROSTER_FUZZ_ADMIN_PASSWORD"]
SECRET = os.environ["ROSTER_FUZZ_ADMIN_SECRET"]
admin = {"email": EMAIL, "replaced": 0}


def post(path, body):
    request = urllib.request.Request(
        f"{BASE}{path}", data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, error.read()[:300]


def login():
    status, body = post("/user/v1/admin/login", {"email": admin["email"], "password": PASSWORD})
    if status == 200:
        return body["result"]["access_token"]
    # Deactivated or erased by a generated request: a new admin takes over.
    email = f"fuzz-admin-{uuid.uuid4().hex[:8]}@example.com"
    created = post(
        "/user/v1/admin/create", {"name": "Fuzz Admin", "email": email, "password": PASSWORD, "secret_code": SECRET}
    )
    if created[0] != 201:
        raise RuntimeError(f"admin login answered {status}: {body!r}; admin/create {created[0]}: {created[1]!r}")
    admin["email"] = email
    admin["replaced"] += 1
    status, body = post("/user/v1/admin/login", {"email": email, "password": PASSWORD})
    if status != 200:
        raise RuntimeError(f"the new admin's login answered {status}: {body!r}")
    return body["result"]["access_token"]


@schemathesis.auth(refresh_interval=3)
class RosterAdmin:
    def get(self, case, ctx):
        return login()

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["X-auth-token"] = f"bearer {data}"
        case.headers["Authorization"] = f"Bearer {data}"
        case.headers["x-authenticated-user-token"] = data
