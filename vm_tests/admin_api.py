# The admin API as the VM tests' scripts use it: prepended to the testScript of
# vm_tests/plugin-rollout.nix and vm_tests/upgrade.nix, which make one
# AdminApi for the machine the server runs on. Calls go through curl on that
# machine; a server that restarts during a switch answers nothing for a
# while, then 401 until we log in again.
import json
import time

ADMIN = "http://127.0.0.1:8010"


def wait_until(what, check, timeout, every=3):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise Exception(f"not {what} after {timeout} s")
        time.sleep(every)


class AdminApi:
    def __init__(self, node, password):
        self.node = node
        self.password = password
        self.session = ""

    def log_in(self):
        body = json.dumps({"username": "admin", "password": self.password})
        login = json.loads(
            self.node.succeed(
                "curl -sS --fail-with-body -H 'Content-Type: application/json' "
                f"-d '{body}' {ADMIN}/vortex/login"
            )
        )
        assert login["user"] == "admin", login
        self.session = login["session"]

    def answer(self, method, path, *curl_args):
        """The JSON answer of one admin API call, or None when there is none
        (the server is restarting; after a 401 we log in again)."""
        args = " ".join(curl_args)
        code, out = self.node.execute(
            f"curl -sS -w '\n%{{http_code}}' -X {method} "
            f"-H 'Authorization: Bearer {self.session}' {args} '{ADMIN}{path}'"
        )
        if code != 0:
            return None
        body, _, status = out.rpartition("\n")
        if status == "401":
            self.log_in()
            return None
        return json.loads(body) if status.startswith("2") else None

    def api(self, method, path, *curl_args):
        """The JSON answer of an admin API call that must succeed."""
        for _ in range(2):  # a second time after logging in again
            result = self.answer(method, path, *curl_args)
            if result is not None:
                return result
        raise Exception(f"{method} {path} failed")
