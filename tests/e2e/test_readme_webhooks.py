"""The README's webhook verification snippets (Python and PHP), run as
printed against deliveries signed the way SPEC 6 says: they accept an
authentic one (also with a second signature of a replaced secret, also for
a secret that is not whsec_), and refuse a changed body, a stale timestamp
and another secret's signature. The spooler's own signing is checked
against a receiver in test_webhooks_delivery.py; here the subject is the
documentation."""
import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import time

import pytest

from conftest import REPO

PHP = shutil.which("php")


def readme_block(lang, marker):
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    for m in re.finditer(r"```%s\n(.*?)```" % lang, text, re.S):
        if marker in m.group(1):
            return m.group(1)
    raise AssertionError("no %s block with %r in README.md" % (lang, marker))


def sign(secret, msg_id, ts, body):
    key = (base64.b64decode(secret[6:]) if secret.startswith("whsec_")
           else secret.encode())
    mac = hmac.new(key, b"%s.%s.%s" % (msg_id.encode(), str(ts).encode(),
                                        body), hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
OLD = "whsec_" + base64.b64encode(b"o" * 32).decode()
PLAIN = "a plain shared secret"
BODY = json.dumps({"id": "1b4e28ba-2fa1-4d3b-9e8a-6f0f3c9c2a11",
                   "event": "contact.created",
                   "timestamp": "2026-12-05T10:00:00Z",
                   "data": {"id": 7, "name": "Grace \u00e9"}}).encode()


def cases():
    now = int(time.time())
    good = {"webhook-id": "42", "webhook-timestamp": str(now),
            "webhook-signature": sign(SECRET, "42", now, BODY)}
    both = dict(good, **{"webhook-signature": "%s %s" % (
        sign(SECRET, "42", now, BODY), sign(OLD, "42", now, BODY))})
    old_first = dict(good, **{"webhook-signature": "%s %s" % (
        sign(OLD, "42", now, BODY), sign(SECRET, "42", now, BODY))})
    stale = dict(good, **{"webhook-timestamp": str(now - 3600),
                          "webhook-signature": sign(SECRET, "42", now - 3600,
                                                    BODY)})
    other = dict(good, **{"webhook-signature": sign(OLD, "42", now, BODY)})
    plain = dict(good, **{"webhook-signature": sign(PLAIN, "42", now, BODY)})
    return [
        ("authentic", SECRET, BODY, good, True),
        ("with the old secret's too", SECRET, BODY, both, True),
        ("old secret's first", SECRET, BODY, old_first, True),
        ("a plain secret", PLAIN, BODY, plain, True),
        ("body changed", SECRET, BODY.replace(b"7", b"8"), good, False),
        ("stale timestamp", SECRET, BODY, stale, False),
        ("another secret", SECRET, BODY, other, False),
        ("id changed", SECRET, BODY, dict(good, **{"webhook-id": "43"}),
         False),
    ]


def test_python_snippet_verifies_as_specified():
    ns = {}
    exec(readme_block("python", "def verify"), ns)
    for name, secret, body, headers, want in cases():
        assert ns["verify"](secret, body, headers) is want, name


@pytest.mark.skipif(PHP is None, reason="php-cli is not installed")
def test_php_snippet_verifies_as_specified(tmp_path):
    fn = readme_block("php", "function wazera_verify")
    script = tmp_path / "verify.php"
    script.write_text(fn + """
$cases = json_decode(file_get_contents('php://stdin'), true);
foreach ($cases as $c)
    echo json_encode(wazera_verify($c['secret'], base64_decode($c['body']),
        $c['headers'])), "\\n";
""")
    cs = cases()
    data = json.dumps([{"secret": s, "body": base64.b64encode(b).decode(),
                        "headers": h} for _, s, b, h, _ in cs])
    p = subprocess.run([PHP, str(script)], input=data, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr + p.stdout
    got = [json.loads(x) for x in p.stdout.split()]
    assert got == [w for *_, w in cs], list(zip([c[0] for c in cs], got))


def test_wazera_signature_one_liners_agree():
    """The hex X-Wazera-Signature the README gives in both languages."""
    want = "sha256=" + hmac.new(SECRET.encode(), BODY,
                                hashlib.sha256).hexdigest()
    py = readme_block("python", "def verify")
    assert 'hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()' \
        in py
    if PHP is not None:
        p = subprocess.run([PHP, "-r", "echo 'sha256=' . hash_hmac('sha256',"
                            " base64_decode($argv[1]), $argv[2]);",
                            base64.b64encode(BODY).decode(), SECRET],
                           capture_output=True, text=True, timeout=30)
        assert p.stdout == want, p.stdout + p.stderr
