"""Calls function_app's HTTP functions without the Functions host.

Core Tools (`func start`) cannot be installed everywhere (its installer
downloads the host); this does what the Python worker does for the host:
index the app (`app.get_functions()`, which validates every function's
trigger and bindings), then call each function's user code with a
`func.HttpRequest`. One line per function: `NAME: HTTP STATUS {json body}`.
Exit status 0 when the blob round trip read back what it wrote, else 1.
"""

import json
import os
import sys

import azure.functions as func

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import function_app  # noqa: E402  (after the path is set)


# Indexed once, as the worker does (a second get_functions() call re-registers
# every function and fails on the duplicate names).
FUNCTIONS = {f.get_function_name(): f for f in function_app.app.get_functions()}


def call(name: str, method: str = "GET", params=None, body: bytes = b"") -> dict:
    req = func.HttpRequest(method=method, url=f"http://localhost:7071/api/{name}", params=params or {}, body=body)
    resp = FUNCTIONS[name].get_user_function()(req)
    text = resp.get_body().decode()
    print(f"{name}: HTTP {resp.status_code} {text}", flush=True)
    return json.loads(text)


def main() -> int:
    text = os.environ.get("ROUNDTRIP_TEXT", "hello from func-app through vnetlab")
    roundtrip = call("blob_roundtrip", "POST", body=text.encode())
    call("egress_check", params={"url": os.environ.get("EGRESS_URL", "http://www.example.org/"), "timeout": "3"})
    return 0 if roundtrip.get("match") else 1


if __name__ == "__main__":
    sys.exit(main())
