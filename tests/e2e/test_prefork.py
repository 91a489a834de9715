"""The pre-forked server's master never loses a worker slot: a fork that
fails (here: the real RLIMIT_NPROC, which binds once the master has dropped
root with --user) is retried every second, also when every worker is gone,
and the master gets back to --workers processes as soon as forks work."""
import os
import pwd
import signal
import subprocess
import sys
import time

import pytest

from conftest import assert_error, read_log, wait_for

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0, reason="needs root: --user and prlimit on the master")


def prlimit_as(user, pid, limits=None):
    """prlimit(2) on pid's RLIMIT_NPROC, from a process running as user:
    a process may set the limits of another of the same user; root may not
    here without CAP_SYS_RESOURCE (containers often lack it)."""
    pw = pwd.getpwnam(user)
    code = ("import resource, sys; l = resource.prlimit(%d, "
            "resource.RLIMIT_NPROC%s); print(*(l or ()))" %
            (pid, "" if limits is None else ", %r" % (tuple(limits),)))
    p = subprocess.run([sys.executable, "-c", code], user=pw.pw_uid,
                       group=pw.pw_gid, extra_groups=[], capture_output=True,
                       text=True, timeout=30, cwd="/")
    assert p.returncode == 0, p.stderr
    return tuple(int(x) for x in p.stdout.split()) if limits is None else None


def nproc_of(uid):
    n = 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.stat("/proc/" + d).st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


def test_master_retries_failed_forks(stack):
    try:
        nobody = pwd.getpwnam("nobody").pw_uid
    except KeyError:
        pytest.skip("no user nobody")
    workers = 3
    fcgi = stack.start_fcgi(workers=workers, extra_args=[
        "--user", "nobody", "--socket-mode", "0666"])
    nginx = stack.start_nginx(fcgi.sock)
    limit = prlimit_as("nobody", fcgi.pid)
    try:
        # No process of nobody's may be started from now on (the limit
        # counts every process of the user; root is not subject to it, the
        # master running as nobody without capabilities is).
        prlimit_as("nobody", fcgi.pid, (1, limit[1]))
        assert nproc_of(nobody) >= workers + 1
        for pid in fcgi.children():
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: fcgi.children() == [], what="workers killed")
        time.sleep(3.2)
        # The master is alive without a single worker, and kept trying.
        assert fcgi.popen.poll() is None
        assert fcgi.children() == []
        # Forks work again: every slot is filled within about a second.
        prlimit_as("nobody", fcgi.pid, limit)
        t0 = time.time()
        wait_for(lambda: len(fcgi.children()) == workers, timeout=5,
                 what="%d workers again" % workers)
        assert time.time() - t0 < 2.5
        # Each empty slot was retried about once a second, with a log line.
        fails = [l for l in read_log(fcgi.log, 10 ** 6).splitlines()
                 if "fork for worker slot" in l]
        assert len(fails) >= 2 * workers, fails
        for _ in range(2 * workers):
            r = stack.request("GET", "/nope", port=nginx.port)
            assert_error(r, 404, "RESOURCE_NOT_FOUND")
            assert r.headers.get("x-request-id")
        time.sleep(1.5)
        assert len(fcgi.children()) == workers
    finally:
        prlimit_as("nobody", fcgi.pid, limit)
        stack.stop_nginx(nginx)
    t0 = time.time()
    assert fcgi.stop() == 0
    assert time.time() - t0 < 5


def test_master_stops_promptly_while_forks_fail(stack):
    """SIGTERM is handled at once even while the master waits to retry."""
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    fcgi = stack.start_fcgi(workers=2, extra_args=["--user", "nobody"])
    limit = prlimit_as("nobody", fcgi.pid)
    try:
        prlimit_as("nobody", fcgi.pid, (1, limit[1]))
        for pid in fcgi.children():
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: fcgi.children() == [], what="workers killed")
        time.sleep(1.5)
        assert fcgi.popen.poll() is None
    finally:
        # LeakSanitizer needs a thread at exit: lift the limit first.
        prlimit_as("nobody", fcgi.pid, limit)
    t0 = time.time()
    assert fcgi.stop() == 0
    assert time.time() - t0 < 2
