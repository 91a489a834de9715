"""The pre-forked server's master never loses a worker slot: a fork that
fails (here: the real RLIMIT_NPROC, which binds once the master has dropped
root with --user) is retried every second, also when every worker is gone,
and the master gets back to --workers processes as soon as forks work."""
import os
import pwd
import signal
import subprocess
import sys

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


def fork_failures(fcgi):
    """The master's log lines for failed forks."""
    return [l for l in read_log(fcgi.log, 10 ** 6).splitlines()
            if "fork for worker slot" in l]


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
        assert fork_failures(fcgi) == []
        # No process of nobody's may be started from now on (the limit
        # counts every process of the user; root is not subject to it, the
        # master running as nobody without capabilities is).
        prlimit_as("nobody", fcgi.pid, (1, limit[1]))
        assert nproc_of(nobody) >= workers + 1
        for pid in fcgi.children():
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: fcgi.children() == [], what="workers killed")
        # Each empty slot is tried again and again (a log line each time,
        # about once a second): wait for two rounds of every slot.
        wait_for(lambda: len(fork_failures(fcgi)) >= 2 * workers,
                 timeout=30, what="two failed forks per slot")
        slots = {l.split("fork for worker slot ")[1].split(":")[0]
                 for l in fork_failures(fcgi)}
        assert slots == {str(i) for i in range(workers)}, slots
        # The master is alive without a single worker, and kept trying.
        assert fcgi.popen.poll() is None
        assert fcgi.children() == []
        # Forks work again: every slot is filled.
        prlimit_as("nobody", fcgi.pid, limit)
        wait_for(lambda: len(fcgi.children()) == workers,
                 what="%d workers again" % workers)
        refilled = sorted(fcgi.children())
        for _ in range(2 * workers):
            r = stack.request("GET", "/nope", port=nginx.port)
            assert_error(r, 404, "RESOURCE_NOT_FOUND")
            assert r.headers.get("x-request-id")
        # The same workers served them: none was added or replaced.
        assert sorted(fcgi.children()) == refilled
    finally:
        prlimit_as("nobody", fcgi.pid, limit)
        stack.stop_nginx(nginx)
    # SIGTERM alone stops it (Proc.stop would SIGKILL it after 20 s).
    assert fcgi.stop() == 0


def test_master_stops_while_forks_fail(stack):
    """SIGTERM stops the master while it waits to retry a fork that
    failed, with no worker at all and forks still failing."""
    try:
        pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    # LeakSanitizer starts a thread at exit, which the process limit would
    # refuse (a fatal error): this master stops under the limit, so its
    # leak check is off (every other test's fcgi has it).
    fcgi = stack.start_fcgi(workers=2, extra_args=["--user", "nobody"],
                            env={"ASAN_OPTIONS": os.environ.get(
                                "ASAN_OPTIONS", "") + ":detect_leaks=0"})
    limit = prlimit_as("nobody", fcgi.pid)
    try:
        prlimit_as("nobody", fcgi.pid, (1, limit[1]))
        for pid in fcgi.children():
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: fcgi.children() == [], what="workers killed")
        wait_for(lambda: len(fork_failures(fcgi)) >= 4, timeout=30,
                 what="two failed forks per slot")
        assert fcgi.popen.poll() is None
        # SIGTERM alone stops it (Proc.stop would SIGKILL it after 20 s).
        assert fcgi.stop() == 0
    finally:
        if fcgi.popen.poll() is None:
            prlimit_as("nobody", fcgi.pid, limit)
    log = read_log(fcgi.log, 10 ** 6)
    assert "draining 0 workers" in log and "stopped" in log, log
