"""A Functions v2 (decorator model) Python app for vnetlab's dev-loop example.

It makes the two kinds of outbound call an app with regional VNet
integration makes: one through a private endpoint (the storage account
stfuncdata, which the embedded scenario resolves to 10.0.1.4 and its NSG
allows) and one to the internet, which the integration subnet's NSG denies
(rule DenyInternetOut). Run behind `vnetlab run`, the first reaches whatever
the developer mapped the storage account to (Azurite), the second hangs as it
would on Azure (or fails fast with --reject). See README.md.
"""

import json
import os
import socket
import time
import urllib.error
import urllib.request

import azure.functions as func
from azure.storage.blob import BlobServiceClient

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)

# App settings (local.settings.json under `func start`, the environment
# otherwise). The default URL is the production one on purpose: the app must
# not know it is being emulated; vnetlab's --map decides where it lands.
ACCOUNT_URL = os.environ.get("STORAGE_ACCOUNT_URL", "https://stfuncdata.blob.core.windows.net")
ACCOUNT_NAME = os.environ.get("STORAGE_ACCOUNT_NAME", "stfuncdata")
ACCOUNT_KEY = os.environ.get("STORAGE_ACCOUNT_KEY", "")
CONTAINER = os.environ.get("STORAGE_CONTAINER", "vnetlab-example")


def _json(status: int, body: dict) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body), status_code=status, mimetype="application/json")


def _blob_service() -> BlobServiceClient:
    # Few retries and bounded timeouts: a broken map should fail in seconds,
    # not after the SDK's default minutes of exponential back-off.
    return BlobServiceClient(
        ACCOUNT_URL,
        credential={"account_name": ACCOUNT_NAME, "account_key": ACCOUNT_KEY},
        retry_total=2,
        connection_timeout=10,
        read_timeout=20,
    )


@app.route(route="blob_roundtrip", methods=["GET", "POST"])
def blob_roundtrip(req: func.HttpRequest) -> func.HttpResponse:
    """Uploads a blob, downloads it again and returns both texts."""
    text = req.get_body().decode() or req.params.get("text") or "hello from func-app through vnetlab"
    name = req.params.get("blob", "roundtrip.txt")
    try:
        container = _blob_service().get_container_client(CONTAINER)
        if not container.exists():
            container.create_container()
        blob = container.get_blob_client(name)
        blob.upload_blob(text.encode(), overwrite=True)
        read = blob.download_blob().readall().decode()
    except Exception as e:  # reported to the caller: this is a diagnostic endpoint
        return _json(502, {"url": ACCOUNT_URL, "error": f"{type(e).__name__}: {e}"})
    return _json(
        200 if read == text else 500,
        {"url": f"{ACCOUNT_URL}/{CONTAINER}/{name}", "wrote": text, "read": read, "match": read == text},
    )


def _classify(e: BaseException) -> str:
    """What the caller saw, in the terms an operator uses: timeout, refused, reset."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, (socket.timeout, TimeoutError)):
            return "timeout"
        if isinstance(e, ConnectionRefusedError):
            return "refused"
        if isinstance(e, ConnectionResetError):
            return "reset"
        # urllib wraps the socket error in URLError.reason.
        e = getattr(e, "reason", None) if isinstance(e, urllib.error.URLError) else (e.__cause__ or e.__context__)
    return "error"


@app.route(route="egress_check", methods=["GET"])
def egress_check(req: func.HttpRequest) -> func.HttpResponse:
    """GETs an internet URL (default http://www.example.org/) with a short timeout."""
    url = req.params.get("url", "http://www.example.org/")
    timeout = float(req.params.get("timeout", "3"))
    start = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return _json(200, {"url": url, "outcome": "ok", "status": r.status})
    except urllib.error.HTTPError as e:  # an answer, just not a 2xx
        return _json(200, {"url": url, "outcome": "ok", "status": e.code})
    except Exception as e:
        outcome = _classify(e)
        return _json(
            504 if outcome == "timeout" else 502,
            {
                "url": url,
                "outcome": outcome,
                "error": f"{type(e).__name__}: {e}",
                "seconds": round(time.monotonic() - start, 1),
            },
        )
