"""Bounded memory for every body: a body of empty objects
('{"entry":[{},{},...]}') made json-c allocate ~270 times its size -- a
3 MB unsigned webhook grew a worker by ~500 MiB before its signature was
checked. Now such bodies are refused by the byte-level check (400), and a
webhook's tree is built only once its signature holds; a worker grows by
little more than the bodies it held."""
import pytest

from conftest import assert_error, http_request, run_calls, run_parallel

MIB = 1 << 20
# Far below what the code before took (784 and 753 MiB for the two
# workers), above what holding the bodies costs (9 MiB each measured): one
# worker may serve all eight (16 MiB), and AddressSanitizer's quarantine
# keeps freed buffers mapped.
GROWTH_MAX = 32 * MIB


@pytest.fixture(scope="module")
def server(stack):
    """A server of its own (2 workers), so no other test's requests count."""
    fcgi = stack.start_fcgi(workers=2)
    nginx = stack.start_nginx(fcgi.sock)
    yield fcgi, nginx.port
    stack.stop_nginx(nginx)
    fcgi.stop()


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS for %d" % pid)


def empties(pre, size):
    """pre + '{},{},...' + ']}' of at most size bytes."""
    n = (size - len(pre) - 2) // 3
    return (pre + ",".join(["{}"] * n) + "]}").encode()


def test_bodies_of_empty_objects_stay_small(stack, server, key):
    fcgi, port = server
    workers = fcgi.children()
    assert len(workers) == 2
    hook = empties('{"entry":[', 3 * MIB)
    api = empties('{"a":[', MIB)
    assert len(hook) <= 3 * MIB and len(api) <= MIB

    def webhook(i):
        headers = {} if i % 2 else {"X-Hub-Signature-256":
                                    "sha256=" + "0" * 64}
        return http_request(port, "POST", "/api/v1/whatsapp/webhook", hook,
                            headers=headers, timeout=120)

    def contacts(_):
        return http_request(port, "POST", "/api/v1/contacts", api,
                            key=key.key, timeout=120)

    # Warm both workers up (connections, statements, first allocations).
    warm = run_parallel(lambda _: key("POST", "/contacts", {}, port=port),
                        range(8), workers=4)
    assert len(warm) == 8
    for r in warm:
        assert_error(r, 422, "VALIDATION_ERROR")
    before = {pid: rss(pid) for pid in workers}
    answers = run_calls([lambda i=i: webhook(i) for i in range(4)] +
                        [lambda i=i: contacts(i) for i in range(4)],
                        workers=4)
    assert len(answers) == 8
    hooks, apis = answers[:4], answers[4:]
    after = {pid: rss(pid) for pid in workers}
    growth = {pid: after[pid] - before[pid] for pid in workers}
    print("worker RSS growth (MiB):",
          {pid: round(g / MIB, 1) for pid, g in growth.items()})
    assert all(g < GROWTH_MAX for g in growth.values()), \
        "worker RSS grew by %s MiB" % {p: g // MIB for p, g in growth.items()}
    for r in hooks + apis:
        assert_error(r, 400, "BAD_REQUEST")
