#!/usr/bin/env python3
"""Fuzzes a running Roster against its own description with schemathesis.

For each backend (PostgreSQL, then SQLite) it starts `roster serve` on a
fresh database with a bootstrap admin, signs a user up (so there is a user
to find and act on), and runs schemathesis over every operation of
/openapi.json, with positive and negative data (examples, coverage and
fuzzing phases), as that admin (scripts/schemathesis_auth.py). It fails on
any 5xx (`not_a_server_error`), any answer outside its documented schema
(`response_schema_conformance`), any answer in an undocumented content type
(`content_type_conformance`: a non-JSON error body fails), and when fewer
requests than `--min-requests` were served in all. The totals come from
Roster's own `roster_http_requests_total` counter.

    scripts/fuzz_openapi.py --roster target/debug/roster

tests/api/schemathesis.rs runs it in `cargo test`; .ci/run installs the
pinned schemathesis (SCHEMATHESIS_VERSION below) into a virtualenv.
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
import json

SCHEMATHESIS_VERSION = "4.32.5"
CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"
ADMIN_EMAIL = "fuzz-admin@example.com"
ADMIN_PASSWORD = "Fuzz!Adm1n-pass"
ADMIN_SECRET = "fuzz-admin-secret"
USER_EMAIL = "fuzz-user@example.com"
USER_PASSWORD = "Fuzz!Us3r-pass"
# Seals the signing keys of the throw-away databases (32 bytes, base64).
MASTER_KEY = "ZnV6ei1tYXN0ZXIta2V5LTMyLWJ5dGVzLWxvbmchISE="
# Operations that can end the admin's access, run after all the others.
LAST = "^/user/v1/admin/deactivateOrg/"
# Errors of hypothesis itself while generating a case (no request sent).
GENERATION_BUGS = ("Inconsistent results", "AST constructor recursion depth mismatch")
HERE = os.path.dirname(os.path.abspath(__file__))


def say(message):
    print(f"[fuzz-openapi] {message}", file=sys.stderr, flush=True)


def default_schemathesis():
    if os.environ.get("ROSTER_SCHEMATHESIS"):
        return os.environ["ROSTER_SCHEMATHESIS"]
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    venv = os.path.join(cache, "roster-ci", f"schemathesis-{SCHEMATHESIS_VERSION}", "bin", "st")
    return venv if os.path.exists(venv) else shutil.which("st")


def call(base, method, path, body=None, headers=None, timeout=30):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, method=method, headers=headers or {})
    if data is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def served_counts(base):
    """(requests, 5xx answers) so far, from /metrics."""
    status, text = call(base, "GET", "/metrics")
    assert status == 200, f"/metrics answered {status}"
    requests = errors = 0
    for line in text.decode().splitlines():
        if line.startswith("roster_http_requests_total{"):
            value = float(line.rsplit(" ", 1)[1])
            requests += value
            if re.search(r'status="5\d\d"', line):
                errors += value
    return int(requests), int(errors)


class Backend:
    def __init__(self, kind, pg_url):
        self.kind = kind
        self.dir = tempfile.mkdtemp(prefix=f"roster-fuzz-{kind}-")
        if kind == "sqlite":
            self.url = f"sqlite://{self.dir}/roster.db"
            self.pg_name = None
        else:
            # `roster_test_` so .ci/run drops it if a run dies before its end.
            self.pg_name = f"roster_test_fuzz_{uuid.uuid4().hex[:12]}"
            self.pg_server = pg_url
            self.url = f"{pg_url}/{self.pg_name}"

    def drop(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.pg_name and shutil.which("psql"):
            subprocess.run(
                ["psql", f"{self.pg_server}/postgres", "-qc", f'DROP DATABASE IF EXISTS "{self.pg_name}"'],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )


def start(roster, backend, log):
    env = dict(os.environ)
    for name in list(env):
        if name.startswith(("KAFKA_", "ROSTER_", "RATE_LIMIT_", "HTTP_", "CORS_", "ADMIN_SECRET")):
            del env[name]
    env.update(
        DATABASE_URL=backend.url,
        # Port 0: the kernel picks a free one, which no other test can take
        # meanwhile (a port probed free and bound later can be); read back
        # from the "roster listening" line.
        ROSTER_ADDR="127.0.0.1:0",
        ROSTER_LOG_FORMAT="json",
        ROSTER_MASTER_KEY=MASTER_KEY,
        ROSTER_BOOTSTRAP_ADMIN_EMAIL=ADMIN_EMAIL,
        ROSTER_BOOTSTRAP_ADMIN_PASSWORD=ADMIN_PASSWORD,
        # One client sends thousands of logins and sign-ups: the limits would answer most of them.
        RATE_LIMIT_ENABLED="false",
        # The auth hook creates a new admin with it when generated data ended the last one.
        ADMIN_SECRET_CODE=ADMIN_SECRET,
        RUST_LOG=os.environ.get("ROSTER_FUZZ_LOG", "warn,roster::app=info"),
    )
    if backend.pg_name:
        subprocess.run([roster, "migrate", "--create-database"], env=env, check=True, stdout=log, stderr=log)
    process = subprocess.Popen([roster, "serve"], env=env, stdout=log, stderr=log)
    base = None
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"roster exited with {process.returncode} (log: {log.name})")
        if base is None:
            with open(log.name) as lines:
                for line in lines:
                    if '"roster listening"' in line:
                        base = "http://" + json.loads(line)["addr"]
        try:
            if base and call(base, "GET", "/health", timeout=2)[0] == 200:
                return process, base
        except OSError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"roster did not become healthy (log: {log.name})")


def summary(output):
    """Schemathesis's closing summary (from its SUMMARY line on)."""
    at = output.find("SUMMARY")
    return output[output.rfind("\n", 0, at) + 1 :] if at >= 0 else output[-3000:]


def engine_errors(output):
    """(operation, first lines) of each error schemathesis reports (not a
    failed check: a case it could not generate or send)."""
    found = []
    for section in re.findall(r"=+ ERRORS =+\n(.*?)\n=+ ", output, re.S):
        blocks = re.split(r"\n?_{3,} (\S+ \S+) _{3,}\n", "\n" + section)
        for operation, text in zip(blocks[1::2], blocks[2::2]):
            found.append((operation, "\n".join(line for line in text.strip().splitlines()[:3])))
    return found


def fuzz(args, kind):
    backend = Backend(kind, args.pg_url)
    log = open(os.path.join(backend.dir, "roster.log"), "w+")
    process = None
    try:
        process, base = start(args.roster, backend, log)
        status, body = call(
            base,
            "POST",
            "/user/v1/account/create",
            {"name": "Fuzz User", "email": USER_EMAIL, "password": USER_PASSWORD},
        )
        assert status == 200, f"sign-up answered {status}: {body[:300]}"
        before = served_counts(base)
        env = dict(os.environ)
        env.update(
            ROSTER_FUZZ_BASE=base,
            ROSTER_FUZZ_ADMIN_EMAIL=ADMIN_EMAIL,
            ROSTER_FUZZ_ADMIN_PASSWORD=ADMIN_PASSWORD,
            ROSTER_FUZZ_ADMIN_SECRET=ADMIN_SECRET,
            SCHEMATHESIS_HOOKS="schemathesis_auth",
            PYTHONPATH=HERE + os.pathsep + env.get("PYTHONPATH", ""),
        )
        base_command = [
            args.schemathesis, "run", f"{base}/openapi.json",
            "--checks", CHECKS,
            "--mode", "all",
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", str(args.max_examples),
            "--workers", str(args.workers),
            "--seed", str(args.seed),
            "--request-timeout", "30",
            "--max-failures", "50",
            "--no-color",
        ]  # fmt: skip
        started = time.time()
        outputs, codes = [], []
        # Deactivating the admin's own organisation (valid data does) ends the
        # admin's access: those operations run last, after every other one.
        for scope in (["--exclude-path-regex", LAST], ["--include-path-regex", LAST]):
            # Its example database (.hypothesis) goes to the temp dir, not the work tree.
            run = subprocess.run(base_command + scope, env=env, cwd=backend.dir, capture_output=True, text=True)
            outputs.append(run.stdout + run.stderr)
            codes.append(run.returncode)
        elapsed = time.time() - started
        after = served_counts(base)
        requests, server_errors = after[0] - before[0], after[1] - before[1]
        output = "\n".join(outputs)
        cases = sum(int(n) for n in re.findall(r"(\d+) generated", output))
        failures = sum(int(n) for n in re.findall(r"(\d+) unique failures?", output))
        errors = engine_errors(output)
        # Hypothesis failing to generate a case (no request is judged) is reported, not fatal.
        fatal = [e for e in errors if not any(known in e[1] for known in GENERATION_BUGS)]
        code = max(codes) if failures or fatal or not errors else 0
        totals = {
            "backend": kind,
            "test_cases": cases,
            "requests_served": requests,
            "server_errors": server_errors,
            "failures": failures,
            "seconds": round(elapsed, 1),
            "schemathesis_exit": code,
            "generation_errors": len(errors) - len(fatal),
        }
        for operation, text in errors:
            say(f"{kind}: schemathesis could not test {operation}: {text.splitlines()[0] if text else '?'}")
        if code != 0 or server_errors:
            # Everything schemathesis said: each failure with a curl to replay it.
            say(f"{kind}: schemathesis output follows\n{output}")
            log.seek(0)
            say(f"{kind}: roster's log (last 60 lines)\n" + "".join(log.readlines()[-60:]))
        else:
            for part in outputs:
                say(f"{kind}: {summary(part).strip()}")
        return totals
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()
        backend.drop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--roster", default=os.path.join(HERE, "..", "target", "debug", "roster"))
    parser.add_argument("--schemathesis", default=default_schemathesis(), help="the `st` binary")
    parser.add_argument("--backends", default="postgres,sqlite")
    parser.add_argument("--pg-url", default=os.environ.get("ROSTER_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--max-examples", type=int, default=int(os.environ.get("ROSTER_FUZZ_MAX_EXAMPLES", 5)))
    # One worker: with several, hypothesis describes its strategies by
    # parsing source (ast) in parallel threads, which CPython can fail
    # ("AST constructor recursion depth mismatch", "Inconsistent results")
    # before any request is sent.
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seed", type=int, default=int(os.environ.get("ROSTER_FUZZ_SEED", 16)))
    parser.add_argument("--min-requests", type=int, default=5000, help="over all backends")
    args = parser.parse_args()
    # In `cargo test` the other tests share the CPU: the fuzz run (roster and
    # schemathesis inherit this) yields to them, it only takes longer.
    os.nice(5)
    if not args.schemathesis:
        say(f"schemathesis not found: pip install schemathesis=={SCHEMATHESIS_VERSION} (.ci/run does)")
        return 2
    results = [fuzz(args, kind) for kind in args.backends.split(",")]
    for totals in results:
        print("schemathesis totals: " + json.dumps(totals), flush=True)
    requests = sum(t["requests_served"] for t in results)
    server_errors = sum(t["server_errors"] for t in results)
    failures = sum(t["failures"] for t in results)
    failed = [t["backend"] for t in results if t["schemathesis_exit"] != 0]
    print(
        f"schemathesis: {requests} requests served, {server_errors} server errors, "
        f"{failures} failures (schema, content type or 5xx) over {len(results)} backends",
        flush=True,
    )
    if failed or server_errors:
        say(f"failed on: {', '.join(failed) or 'server errors'}")
        return 1
    if requests < args.min_requests:
        say(f"only {requests} requests served; at least {args.min_requests} are required")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
