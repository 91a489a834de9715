"""No secret in any log (issue 13): runs last (file order), after every
other test of the run made its keys, tokens and secrets, and reads every
log the run wrote -- the FastCGI servers' (with their request lines), the
spoolers', nginx's, Apache's, MariaDB's -- looking for each of them.

The secrets are those the suite's helpers saw (conftest.SECRETS: API keys
from wazera-admin, access tokens and app secrets given to it, webhook
secrets sent and shown, passwords), the master key, the database password,
and every secret-named value of every config file the run wrote."""
import os
import re

import conftest
from conftest import DB_PASS

# Where the run's logs are, in the session's work directory: files by
# these names (the database's data files are not logs).
LOG_NAME = re.compile(r"(\.log|\.err|_log|log\.txt)$|^(error|access)")
CONF_SECRET = re.compile(
    r"^\s*(verify_token|app_secret|password|access_token)\s*=\s*(\S+)",
    re.M)
# Logs of the stand-ins for the other side, which are given the secrets
# meant for them: the sandbox Graph API is Meta (it receives access
# tokens), a webhook receiver is the customer's server (it knows its
# signing secret).
NOT_OURS = re.compile(r"^(sandbox-|receiver-|graph-sandbox)")


def run_files(work):
    for root, dirs, files in os.walk(work):
        for name in files:
            yield root, name


def test_no_secret_in_any_log(stack):
    secrets = set(conftest.SECRETS)
    secrets.add(DB_PASS)
    with open(stack.master_key) as f:
        secrets.add(f.read().strip())
    logs = []
    for root, name in run_files(stack.work):
        path = os.path.join(root, name)
        if name.endswith(".conf") or name.endswith(".ini"):
            try:
                with open(path, errors="replace") as f:
                    for m in CONF_SECRET.finditer(f.read()):
                        conftest.note_secret(m.group(2))
                        if len(m.group(2)) >= conftest.SECRET_MIN:
                            secrets.add(m.group(2))
            except OSError:
                pass
        if (LOG_NAME.search(name) or path in stack.logs) and \
                not NOT_OURS.match(name):
            logs.append(path)
    # The suite made many: a run that saw none is not checking anything.
    assert len(secrets) >= 3, secrets
    assert logs, "no log files under %s" % stack.work
    found = []
    lines = 0
    for path in sorted(set(logs)):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue
        lines += data.count(b"\n")
        for s in secrets:
            if s.encode() in data:
                i = data.index(s.encode())
                found.append("%s: %s...: %r" % (
                    path, s[:6], data[max(0, i - 120):i + 20]))
    assert not found, "secrets in logs:\n" + "\n".join(found)
    assert lines > 0
