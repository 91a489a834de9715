"""What the bench scripts (bench/campaign.py, bench/spooler.py) compute
alike from the sandbox's arrival times."""


def densest_second(ts):
    """The most arrivals in any 1000 ms window of ts (sorted times in ms)
    and where that window starts, in ms from the first arrival."""
    best, at, j = 0, 0.0, 0
    for i in range(len(ts)):
        while ts[i] - ts[j] >= 1000.0:
            j += 1
        if i - j + 1 > best:
            best, at = i - j + 1, ts[j] - ts[0]
    return best, at
