"""tests/run works from any checkout, also one in a directory only root
may enter (a clone in /root, a mktemp -d): the Apache tests, whose server
runs as www-data, run from such a copy of the tree and pass. (They failed
when the servers' work directory was inside the checkout: Apache's user
could reach neither the FastCGI socket nor the .htaccess.)"""
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from conftest import REPO

APACHE = shutil.which("apache2") or "/usr/sbin/apache2"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0,
                       reason="only as root does Apache run as www-data"),
    pytest.mark.skipif(not os.path.exists(APACHE),
                       reason="apache2 is not installed"),
]


def test_apache_tests_from_private_checkout(stack):
    private = tempfile.mkdtemp(prefix="wazera-private-")
    try:
        assert os.stat(private).st_mode & 0o777 == 0o700
        tree = os.path.join(private, "w")
        # docs: the answer check reads docs/openapi.yaml.
        for part in ("tests/e2e", "tests/sandbox", "deploy", "sql", "docs"):
            shutil.copytree(os.path.join(REPO, part),
                            os.path.join(tree, part),
                            ignore=shutil.ignore_patterns("__pycache__"))
        env = dict(os.environ, WAZERA_BUILD=stack.build,
                   PYTHONDONTWRITEBYTECODE="1")
        p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p",
                            "no:cacheprovider", "tests/e2e/test_apache.py"],
                           cwd=tree, env=env, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=600)
        out = p.stdout + p.stderr
        if p.returncode != 0:
            print(out)  # shown with the failure: the nested logs in full
        assert p.returncode == 0, out[-3000:]
        assert " passed" in out and "skipped" not in out, out[-3000:]
    finally:
        shutil.rmtree(private, ignore_errors=True)
