#!/usr/bin/env python3
"""webhook-receiver.py: a stand-in for a customer's system receiving
Wazera's outgoing webhooks, for the local stack and for trying things out.
Python 3 standard library only.

    webhook-receiver.py --listen 127.0.0.1:8091 [--secret S] [--status N]
        [--pidfile F]

Every POST is a delivery: it is checked against the secret both ways a
receiver may (SPEC 6):

  X-Wazera-Signature  sha256=<hex HMAC-SHA256 of the exact body>, keyed
                      with the secret string as given;
  webhook-signature   Standard Webhooks: "v1,<base64 HMAC-SHA256 of
                      '<webhook-id>.<webhook-timestamp>.<body>'>", keyed
                      with the base64-decoded rest of a whsec_ secret (any
                      other secret: its bytes), possibly several
                      space-separated (a replaced secret is still honoured
                      for 24 h); the timestamp within 5 minutes.

It prints one line per delivery, answers --status (default 204; a 2xx is
success for Wazera, 410 disables the webhook, anything else is retried) and
keeps the last 1,000 deliveries for GET /_receiver/deliveries (JSON, newest
first, with their headers and the verdicts). POST /_receiver/status
{"status": N} changes the answer while it runs.
"""
import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KEEP = 1000
TOLERANCE_S = 300
BODY_MAX = 4 * 1024 * 1024


def standard_key(secret):
    """The HMAC key of a Standard Webhooks signature."""
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):], validate=True)
    return secret.encode()


def verify_wazera(secret, body, header):
    """X-Wazera-Signature: sha256=<hex>."""
    if not header or not header.startswith("sha256="):
        return False
    want = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(want, header[len("sha256="):])


def verify_standard(secret, body, msg_id, ts, header, now=None):
    """webhook-signature: any of its v1 signatures, a fresh timestamp."""
    if not (msg_id and ts and header):
        return False
    try:
        if abs((now or time.time()) - int(ts)) > TOLERANCE_S:
            return False
        key = standard_key(secret)
    except (ValueError, binascii.Error):
        return False
    signed = msg_id.encode() + b"." + ts.encode() + b"." + body
    want = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    for sig in header.split(" "):
        version, _, value = sig.partition(",")
        if version == "v1" and hmac.compare_digest(want, value.encode()):
            return True
    return False


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, addr, secret, status):
        super().__init__(addr, Handler)
        self.secret = secret
        self.status = status
        self.lock = threading.Lock()
        self.deliveries = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, status, obj=None):
        body = b"" if obj is None else json.dumps(obj, indent=1).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n < 0 or n > BODY_MAX:
            raise ValueError("body too large")
        return self.rfile.read(n)

    def do_GET(self):
        if self.path.split("?")[0] != "/_receiver/deliveries":
            return self.answer(404, {"error": "GET /_receiver/deliveries"})
        with self.server.lock:
            return self.answer(200, list(reversed(self.server.deliveries)))

    def do_POST(self):
        srv = self.server
        try:
            body = self.body()
        except ValueError:
            return self.answer(413, {"error": "body too large"})
        if self.path == "/_receiver/status":
            srv.status = int(json.loads(body)["status"])
            return self.answer(200, {"status": srv.status})
        h = self.headers
        rec = {
            "received_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "path": self.path,
            "event": h.get("X-Wazera-Event"),
            "delivery": h.get("X-Wazera-Delivery"),
            "webhook_id": h.get("webhook-id"),
            "webhook_timestamp": h.get("webhook-timestamp"),
            "answered": srv.status,
            "headers": dict(h.items()),
        }
        if srv.secret:
            rec["x_wazera_signature_ok"] = verify_wazera(
                srv.secret, body, h.get("X-Wazera-Signature"))
            rec["webhook_signature_ok"] = verify_standard(
                srv.secret, body, h.get("webhook-id"),
                h.get("webhook-timestamp"), h.get("webhook-signature"))
        try:
            rec["body"] = json.loads(body)
        except ValueError:
            rec["body"] = body.decode("utf-8", "replace")
        with srv.lock:
            srv.deliveries.append(rec)
            del srv.deliveries[:-KEEP]
        verdict = ""
        if srv.secret:
            verdict = " signatures: X-Wazera %s, Standard Webhooks %s" % (
                "ok" if rec["x_wazera_signature_ok"] else "BAD",
                "ok" if rec["webhook_signature_ok"] else "BAD")
        print("%s delivery %s %s -> %d%s" % (
            rec["received_at"], rec["delivery"], rec["event"], srv.status,
            verdict), flush=True)
        self.answer(srv.status)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:8091")
    ap.add_argument("--secret", default=os.environ.get("WAZERA_WEBHOOK_SECRET"))
    ap.add_argument("--status", type=int, default=204)
    ap.add_argument("--pidfile")
    a = ap.parse_args()
    host, _, port = a.listen.rpartition(":")
    srv = Receiver((host or "127.0.0.1", int(port)), a.secret, a.status)
    if a.pidfile:
        with open(a.pidfile, "w") as f:
            f.write("%d\n" % os.getpid())
    print("webhook receiver listening on http://%s:%d/ (answers %d)" %
          (srv.server_address[0], srv.server_address[1], a.status),
          flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
