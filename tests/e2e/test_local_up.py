"""README's first command, as a user runs it: deploy/local/up in a fresh
copy of the tree (in a directory only root may enter, as a clone in /root
is), then the walkthrough it prints and a sign-in to the dashboard as the
demo admin it made, a second up that reuses what is there (the dashboard's
password too), a third that gives that user a new password when the old
one was lost, and deploy/local/down stopping everything it started.

It builds the tree once more (without sanitizers, as up does) and starts a
MariaDB, wazera-fcgi, nginx (running the shipped deploy/nginx/wazera.conf),
the spooler and the sandbox Graph API of its own on free loopback ports."""
import json
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import REPO, free_port, http_request, wait_for
from openapi_events import check_event

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="deploy/local/up installs packages "
                                "as root")


def tracked_files():
    """The files of the working tree a clone would have (tracked, and new
    ones not ignored), so the test runs what is about to be committed."""
    p = subprocess.run(["git", "-C", REPO, "ls-files", "-z", "-c", "-o",
                        "--exclude-standard"], capture_output=True,
                       check=True)
    return [f for f in p.stdout.decode().split("\0") if f]


def copy_tree(dst):
    for rel in tracked_files():
        src = os.path.join(REPO, rel)
        if not os.path.isfile(src):
            continue		# deleted in the working tree
        os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
        shutil.copy2(src, os.path.join(dst, rel))


def read_env(tree):
    env = {}
    with open(os.path.join(tree, ".local", "env")) as f:
        for line in f:
            m = re.match(r"export (WAZERA_[A-Z_]+)=(.*)$", line.strip())
            if m:
                env[m.group(1)] = m.group(2)
    return env


def pids_of(tree):
    """The pids deploy/local/up recorded (its *.pid files)."""
    pids = {}
    for dirpath, _, names in os.walk(os.path.join(tree, ".local")):
        for n in names:
            if n.endswith(".pid"):
                try:
                    with open(os.path.join(dirpath, n)) as f:
                        pids[n] = int(f.read().split()[0])
                except (OSError, ValueError, IndexError):
                    pass
    return pids


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def login(port, email, password):
    return http_request(port, "POST", "/api/v1/auth/login",
                        {"email": email, "password": password})


def check_dashboard(out, tree, port):
    """The dashboard's line, its demo admin in .local/env and a sign-in
    with it; the pages through nginx. Returns the password."""
    e = read_env(tree)
    email, pw = e["WAZERA_DASHBOARD_EMAIL"], e["WAZERA_DASHBOARD_PASSWORD"]
    assert email == "admin@demo.example", e
    assert re.fullmatch(r"[A-Za-z0-9]{16}", pw), e
    assert "Dashboard: http://127.0.0.1:%d/dashboard/  (%s / %s)" % (
        port, email, pw) in out, out
    r = login(port, email, pw)
    assert r.status == 200, r
    user = r.body["data"]["user"]
    assert (user["email"], user["role"], user["name"]) == \
        (email, "admin", "Demo Admin"), r
    assert r.headers["set-cookie"].startswith("wz_session="), r
    # nginx serves the copy's dashboard/ at /dashboard/.
    r = http_request(port, "GET", "/dashboard", wazera=False)
    assert r.status == 301 and r.headers["location"] == "/dashboard/", r
    if os.path.exists(os.path.join(tree, "dashboard", "index.html")):
        r = http_request(port, "GET", "/dashboard/", wazera=False)
        assert r.status == 200, r
        with open(os.path.join(tree, "dashboard", "index.html"), "rb") as f:
            assert r.raw == f.read()
        assert r.headers["content-security-policy"].startswith(
            "default-src 'none';"), r
    return pw


def forget_dashboard_password(tree):
    """.local/state and .local/env without the dashboard's password."""
    for name in ("state", "env"):
        path = os.path.join(tree, ".local", name)
        with open(path) as f:
            lines = [ln for ln in f if "DASHBOARD_PASSWORD=" not in ln]
        with open(path, "w") as f:
            f.writelines(lines)


def test_local_up_walkthrough_and_down():
    private = tempfile.mkdtemp(prefix="wazera-up-")
    tree = os.path.join(private, "w")
    port, sandbox_port, receiver_port = free_port(), free_port(), free_port()
    # TMPDIR: the spooler's default journal directory
    # ($TMPDIR/wazera-spooler-<uid>-<hash>) goes with the copy.
    env = dict(os.environ, WAZERA_PORT=str(port),
               WAZERA_SANDBOX_PORT=str(sandbox_port),
               WAZERA_RECEIVER_PORT=str(receiver_port), TMPDIR=private)
    env.pop("WAZERA_GRAPH_API_BASE", None)
    env.pop("WAZERA_CONFIG", None)
    up = os.path.join(tree, "deploy", "local", "up")
    down = os.path.join(tree, "deploy", "local", "down")
    started = False
    try:
        copy_tree(tree)
        p = subprocess.run([up], cwd=tree, env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=900)
        started = True
        out = p.stdout + p.stderr
        assert p.returncode == 0, out[-4000:]
        assert "Wazera is up at http://127.0.0.1:%d" % port in out, out
        e = read_env(tree)
        assert e["WAZERA_BASE_URL"] == "http://127.0.0.1:%d" % port
        assert e["WAZERA_SANDBOX_URL"] == "http://127.0.0.1:%d" % \
            sandbox_port
        key, account = e["WAZERA_API_KEY"], int(e["WAZERA_ACCOUNT_ID"])
        assert os.stat(os.path.join(tree, ".local", "env")).st_mode & \
            0o077 == 0
        dash_pw = check_dashboard(out, tree, port)

        # The curl line it prints works as printed.
        line = [ln for ln in out.splitlines()
                if ln.strip().startswith("curl") and key in ln]
        assert len(line) == 1, out
        r = subprocess.run(["bash", "-c", line[0]], capture_output=True,
                           text=True, timeout=30)
        body = json.loads(r.stdout)
        assert body["success"] is True and body["data"] == [], r.stdout

        def api(method, path, data=None):
            return http_request(port, method, "/api/v1" + path, data,
                                key=key)

        # The walkthrough: a customer writes in through the sandbox's
        # signed webhook, the agent sees the conversation and replies, the
        # spooler sends it and the sandbox's statuses take it to "read".
        r = http_request(sandbox_port, "POST", "/_sandbox/webhook", {
            "phone_number_id": e["WAZERA_PHONE_NUMBER_ID"],
            "profile_name": "Ada", "messages": [
                {"from": "14155550123",
                 "text": "Hi! Is my order on its way?"}]}, wazera=False)
        assert r.status == 200, r
        wait_for(lambda: api("GET", "/conversations?status=open")
                 .body["data"], what="Ada's conversation")
        conv = api("GET", "/conversations?status=open").body["data"][0]
        r = api("POST", "/messages/send", {
            "to": "+14155550123", "whatsapp_account_id": account,
            "type": "text", "content": {"body": "Yes, it arrives tomorrow."}})
        assert r.status == 201, r
        msg = r.body["data"]
        assert msg["conversation_id"] == conv["id"], (msg, conv)
        wait_for(lambda: api("GET", "/messages/%d" % msg["id"])
                 .body["data"]["status"] == "read", timeout=60,
                 what="the reply sent and read")
        r = api("POST", "/messages/send", {
            "to": "+14155550199", "whatsapp_account_id": account,
            "type": "text", "content": {"body": "Hello?"}})
        assert r.status == 422, r
        assert r.body["error"]["code"] == "OUTSIDE_SERVICE_WINDOW", r
        r = api("POST", "/messages/send", {
            "to": "+14155550199", "whatsapp_account_id": account,
            "type": "template",
            "content": {"name": "hello_world", "language": "en_US"}})
        assert r.status == 201, r
        # Webhooks: the lines up prints point a webhook at its receiver
        # and make a contact; the receiver gets the signed delivery and
        # both signatures check out with the demo secret.
        assert e["WAZERA_RECEIVER_URL"] == "http://127.0.0.1:%d" % \
            receiver_port
        assert e["WAZERA_WEBHOOK_SECRET"].startswith("whsec_")
        lines = out[out.index("Webhooks: a local receiver"):].splitlines()
        script = []
        for ln in lines[3:]:
            if not ln.startswith("  "):
                break
            script.append(ln)
        script = "\n".join(script).replace("sleep 1; ", "")
        script = script[:script.rindex("curl")]   # the deliveries' read
        r = subprocess.run(["bash", "-c", ". .local/env\n" + script],
                           cwd=tree, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0 and '"success":true' in \
            r.stdout.replace(" ", ""), r.stdout + r.stderr

        def receiver_deliveries():
            return http_request(receiver_port, "GET",
                                "/_receiver/deliveries", wazera=False).body
        wait_for(lambda: receiver_deliveries(), timeout=30,
                 what="the webhook delivery at the receiver")
        d = receiver_deliveries()[0]
        assert d["event"] == "contact.created", d
        assert d["body"]["data"]["phone"] == "+14155550177", d
        assert d["x_wazera_signature_ok"] and d["webhook_signature_ok"], d
        # As docs/openapi.yaml's webhooks: entry of its type says.
        assert check_event(json.dumps(d["body"]).encode(), d["headers"]) \
            == [], d

        # Outside the API, nginx (the shipped config) answers JSON 404.
        r = http_request(port, "GET", "/")
        assert r.status == 404 and r.body["success"] is False, r

        # Run twice, it reuses what is there: the same key and account,
        # the data kept.
        before = pids_of(tree)
        p = subprocess.run([up], cwd=tree, env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=900)
        out = p.stdout + p.stderr
        assert p.returncode == 0, out[-4000:]
        assert "reused" in out, out
        e2 = read_env(tree)
        assert (e2["WAZERA_API_KEY"], e2["WAZERA_ACCOUNT_ID"]) == \
            (key, str(account))
        assert api("GET", "/conversations/%d" % conv["id"]).status == 200
        # The dashboard's user and password too.
        assert "dashboard user admin@demo.example reused" in out, out
        assert check_dashboard(out, tree, port) == dash_pw

        # Its password lost (neither .local/state nor .local/env has it):
        # the same user gets a new one (wazera-admin user password), and
        # the old one no longer signs in.
        forget_dashboard_password(tree)
        p = subprocess.run([up], cwd=tree, env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=900)
        out = p.stdout + p.stderr
        assert p.returncode == 0, out[-4000:]
        assert "dashboard user admin@demo.example: password set" in out, out
        new_pw = check_dashboard(out, tree, port)
        assert new_pw != dash_pw
        r = login(port, "admin@demo.example", dash_pw)
        assert r.status == 401, r
        assert r.body["error"]["code"] == "AUTHENTICATION_ERROR", r

        # down stops all it started.
        pids = dict(before, **pids_of(tree))
        assert pids, "no pid files under .local"
        p = subprocess.run([down], cwd=tree, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=300)
        started = False
        assert p.returncode == 0, p.stdout + p.stderr
        for name, pid in pids.items():
            wait_for(lambda: not alive(pid), timeout=30,
                     what="%s (pid %d) gone after down" % (name, pid))
        r = subprocess.run(["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/%d"
                            % port], capture_output=True)
        assert r.returncode != 0, "something still listens on %d" % port
    finally:
        if started:
            subprocess.run([down], cwd=tree, env=env,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=300)
        shutil.rmtree(private, ignore_errors=True)
