"""wazera-spooler's command line: usage errors, bad option values, config
errors, --help; and what its options set, read from its start line
(holder, requests in flight, time budget, journal directory), against a
database of its own with an empty queue (nothing is sent)."""
import fcntl
import hashlib
import os
import resource
import subprocess

import pytest

from conftest import DB_USER, cli_checked

USAGE = ("usage: wazera-spooler [--config FILE] (--once | --loop | --drain)\n"
         "                      [--max-seconds N] [--holder NAME] "
         "[--lock-file PATH]\n"
         "                      [--max-inflight N] [--journal DIR] "
         "[--trace FILE]\n")


@pytest.fixture(scope="module")
def conf(stack):
    """A config whose database is migrated and empty: a --drain ends at
    once. graph_api_base is a closed port; nothing is due to be sent."""
    db = stack.unique("spoolcli")
    stack.sql_root("CREATE DATABASE %s; GRANT ALL PRIVILEGES ON %s.* TO "
                   "'%s'@'localhost'" % (db, db, DB_USER))
    path = stack.write_config(db + ".conf", db_name=db)
    stack.admin("migrate", config=path)
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write("graph_api_base = http://127.0.0.1:9/\n" + text)
    return path


def spooler(stack, *args, env=None, preexec_fn=None, timeout=60):
    p = subprocess.run([stack.spooler_bin] + [str(a) for a in args],
                       capture_output=True, text=True,
                       stdin=subprocess.DEVNULL, timeout=timeout,
                       env=dict(os.environ, **(env or {})),
                       preexec_fn=preexec_fn)
    return cli_checked(p)


def log_lines(p, level):
    """The messages of the log lines of this level, without time stamp
    and pid."""
    out = []
    for line in p.stderr.splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4 and parts[1].startswith("wazera-spooler[") and \
                parts[2] == level + ":":
            out.append(parts[3])
    return out


def start_line(p):
    starts = [m for m in log_lines(p, "info") if m.startswith("start: ")]
    assert len(starts) == 1, p.stderr
    return starts[0]


def journal_arg(stack):
    return ["--journal", os.path.join(stack.work, stack.unique("sj-"))]


# -- usage errors --------------------------------------------------------------

@pytest.mark.parametrize("args", [
    [],                                   # no mode
    ["--once", "--loop"], ["--drain", "--once"], ["--drain", "--drain"],
    ["--drain", "extra"], ["--drain", "--bogus"], ["-d"],
    ["--drain", "--max-seconds"],         # no value
    ["--drain", "--journal", ""],
])
def test_usage_errors_exit_2(stack, conf, args):
    p = spooler(stack, "--config", conf, *args)
    assert p.returncode == 2, p
    assert p.stdout == ""
    assert p.stderr.endswith(USAGE), p.stderr
    assert "start: " not in p.stderr


def test_help(stack):
    p = spooler(stack, "--help")
    assert p.returncode == 0, p
    assert p.stdout == USAGE
    assert p.stderr == ""


@pytest.mark.parametrize("opt,value,lo,hi", [
    ("max-seconds", "0", 1, 86400), ("max-seconds", "86401", 1, 86400),
    ("max-seconds", "-3", 1, 86400), ("max-seconds", "10s", 1, 86400),
    ("max-seconds", "", 1, 86400),
    ("max-seconds", "99999999999999999999", 1, 86400),
    ("max-inflight", "0", 1, 4096), ("max-inflight", "4097", 1, 4096),
    ("max-inflight", "many", 1, 4096),
])
def test_bad_numbers(stack, conf, opt, value, lo, hi):
    p = spooler(stack, "--config", conf, "--drain", "--" + opt, value)
    assert p.returncode == 2, p
    assert p.stderr == "wazera-spooler: --%s must be an integer from %d " \
        "to %d\n" % (opt, lo, hi)


@pytest.mark.parametrize("holder", ["", "h" * 129])
def test_bad_holder(stack, conf, holder):
    p = spooler(stack, "--config", conf, "--drain", "--holder", holder)
    assert p.returncode == 2, p
    assert p.stderr == "wazera-spooler: --holder must be 1 to 128 " \
        "characters\n"


def test_config_errors(stack, conf):
    missing = os.path.join(stack.work, "no-such-spooler.conf")
    p = spooler(stack, "--config", missing, "--drain")
    assert p.returncode == 1, p
    assert p.stderr == "wazera-spooler: config: %s: No such file or " \
        "directory\n" % missing
    # WAZERA_CONFIG when there is no --config.
    p = spooler(stack, "--drain", env={"WAZERA_CONFIG": missing})
    assert p.returncode == 1, p
    assert p.stderr == "wazera-spooler: config: %s: No such file or " \
        "directory\n" % missing
    bad = os.path.join(stack.work, stack.unique("badsp-") + ".conf")
    with open(bad, "w") as f:
        f.write("[spooler]\nmax_seconds = soon\n")
    p = spooler(stack, "--config", bad, "--drain")
    assert p.returncode == 1, p
    assert p.stderr == "wazera-spooler: config: %s: line 2: spooler." \
        "max_seconds must be an integer from 1 to 3600\n" % bad
    # No master key: nothing can be decrypted, nothing is started.
    nokey = os.path.join(stack.work, stack.unique("nokey-") + ".conf")
    with open(conf) as f:
        text = f.read()
    with open(nokey, "w") as f:
        f.write(text.replace(stack.master_key,
                             os.path.join(stack.work, "no-such.key")))
    p = spooler(stack, "--config", nokey, "--drain", *journal_arg(stack))
    assert p.returncode == 1, p
    assert "no-such.key" in p.stderr, p.stderr
    assert "start: " not in p.stderr


# -- what the options set ------------------------------------------------------

def test_options_in_the_start_line(stack, conf):
    jdir = os.path.join(stack.work, stack.unique("jdir-"))
    p = spooler(stack, "--config", conf, "--drain", "--holder", "cli-h.1",
                "--max-seconds", "30", "--max-inflight", "7",
                "--journal", jdir)
    assert p.returncode == 0, p
    assert start_line(p) == (
        "start: drain, holder cli-h.1, 7 requests in flight at most, "
        "time budget 30 s, resend grace 600 s, journal %s/cli-h.1.journal"
        % jdir)
    assert os.stat(jdir).st_mode & 0o777 == 0o700
    # A holder of any characters: its journal's name keeps the safe ones.
    p = spooler(stack, "--config", conf, "--drain", "--holder",
                ".a b/c:d", "--journal", jdir)
    assert p.returncode == 0, p
    assert start_line(p).endswith("journal %s/_a_b_c_d.journal" % jdir)
    assert "holder .a b/c:d, 512 requests in flight at most, time budget " \
        "none," in start_line(p)


def test_once_takes_the_configured_time_budget(stack, conf):
    p = spooler(stack, "--config", conf, "--once", "--max-seconds", "1",
                *journal_arg(stack))
    assert p.returncode == 0, p
    assert "time budget 1 s" in start_line(p)


def test_default_holder_is_host_pid_random(stack, conf):
    p = spooler(stack, "--config", conf, "--drain", *journal_arg(stack))
    assert p.returncode == 0, p
    holder = start_line(p).split("holder ", 1)[1].split(",", 1)[0]
    host, pid, rnd = holder.split(":")
    assert host == os.uname().nodename[:90]
    assert int(pid) > 0
    assert len(rnd) == 16 and int(rnd, 16) >= 0


def test_default_journal_directory(stack, conf):
    """Without --journal and with /var/lib/wazera not writable (missing
    here): $TMPDIR/wazera-spooler-<uid>-<hash of the config's path>."""
    if os.access("/var/lib/wazera", os.W_OK | os.X_OK):
        pytest.skip("/var/lib/wazera is writable here")
    tmp = os.path.join(stack.work, stack.unique("tmpdir-"))
    os.mkdir(tmp)
    h = hashlib.sha256(os.path.realpath(conf).encode()).hexdigest()[:16]
    want = os.path.join(tmp, "wazera-spooler-%d-%s" % (os.geteuid(), h))
    p = spooler(stack, "--config", conf, "--drain", "--holder", "dflt",
                env={"TMPDIR": tmp})
    assert p.returncode == 0, p
    assert start_line(p).endswith("journal %s/dflt.journal" % want)
    assert os.path.isdir(want)
    # The same config by another path (a symbolic link): the same one.
    link = os.path.join(stack.work, stack.unique("link-") + ".conf")
    os.symlink(conf, link)
    p = spooler(stack, "--config", link, "--drain", "--holder", "dflt",
                env={"TMPDIR": tmp})
    assert p.returncode == 0, p
    assert start_line(p).endswith("journal %s/dflt.journal" % want)


def test_journal_directory_that_is_not_ours(stack, conf):
    afile = os.path.join(stack.work, stack.unique("afile-"))
    open(afile, "w").close()
    open_dir = os.path.join(stack.work, stack.unique("open-"))
    os.mkdir(open_dir)
    os.chmod(open_dir, 0o777)
    for d in (afile, open_dir):
        p = spooler(stack, "--config", conf, "--drain", "--journal", d)
        assert p.returncode == 1, p
        assert log_lines(p, "fatal") == [
            "journal directory %s: not a directory of ours closed to "
            "others" % d], p.stderr
    missing = os.path.join(stack.work, "no-such-parent", "j")
    p = spooler(stack, "--config", conf, "--drain", "--journal", missing)
    assert p.returncode == 1, p
    assert log_lines(p, "fatal") == [
        "journal directory %s: No such file or directory" % missing]


def test_journal_held_by_another_spooler(stack, conf):
    jdir = os.path.join(stack.work, stack.unique("held-"))
    os.mkdir(jdir, 0o700)
    path = os.path.join(jdir, "twin.journal")
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        p = spooler(stack, "--config", conf, "--drain", "--holder", "twin",
                    "--journal", jdir)
    assert p.returncode == 1, p
    assert log_lines(p, "fatal") == [
        "journal %s is held by another spooler: two spoolers on this host "
        "with holder twin" % path], p.stderr


def limit_files(soft, hard):
    def f():
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return f


@pytest.mark.parametrize("soft,hard,inflight,warned", [
    # Two connection caches (http.c): 2 x in flight + 64 needed.
    (256, 256, 96, True),       # cannot be raised: 64 kept, half of the rest
    (90, 90, 32, True),         # too few for that: 32 at most
    (256, 8192, 4064, True),    # raised to the hard limit: not enough
    (256, 8256, 4096, False),   # raised to what is needed
])
def test_max_inflight_within_the_descriptor_limit(stack, conf, soft, hard,
                                                  inflight, warned):
    p = spooler(stack, "--config", conf, "--drain", "--max-inflight", "4096",
                *journal_arg(stack), preexec_fn=limit_files(soft, hard))
    assert p.returncode == 0, p
    assert "%d requests in flight at most" % inflight in start_line(p)
    warns = [w for w in log_lines(p, "warn") if "file descriptors" in w]
    if warned:
        assert warns == ["only %d file descriptors: %d requests in flight "
                         "at most" % (hard, inflight)], p.stderr
    else:
        assert warns == [], p.stderr


def test_lock_file(stack, conf):
    lock = os.path.join(stack.work, stack.unique("lock-"))
    with open(lock, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        # --once: another spooler has it; nothing to do, exit 0 at once.
        p = spooler(stack, "--config", conf, "--once", "--lock-file", lock,
                    *journal_arg(stack))
        assert p.returncode == 0, p
        assert p.stderr == ""
    # Free: taken, and the holder's pid written into it.
    p = spooler(stack, "--config", conf, "--drain", "--lock-file", lock,
                *journal_arg(stack))
    assert p.returncode == 0, p
    assert "start: drain" in start_line(p)
    with open(lock) as f:
        assert int(f.read()) > 0
    missing = os.path.join(stack.work, "no-such-dir", "lock")
    p = spooler(stack, "--config", conf, "--drain", "--lock-file", missing,
                *journal_arg(stack))
    assert p.returncode == 1, p
    assert log_lines(p, "fatal") == [
        "lock file %s: No such file or directory" % missing]


def test_drain_waits_for_the_lock_file(stack, conf):
    lock = os.path.join(stack.work, stack.unique("lockw-"))
    f = open(lock, "w")
    fcntl.flock(f, fcntl.LOCK_EX)
    args = [stack.spooler_bin, "--config", conf, "--drain", "--lock-file",
            lock] + journal_arg(stack)
    log = stack.logfile(stack.unique("lockwait-") + ".log")
    with open(log, "ab") as lf:
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=lf,
                                stderr=lf)
    try:
        from conftest import wait_for
        wait_for(lambda: "another spooler holds %s; waiting" % lock
                 in open(log).read(), what="the spooler to wait")
        assert proc.poll() is None
        assert "start: " not in open(log).read()
    finally:
        f.close()          # releases the lock
    assert proc.wait(60) == 0
    text = open(log).read()
    assert text.count("another spooler holds") == 1, text
    assert "start: drain" in text
