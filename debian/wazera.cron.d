# The spooler from cron: the alternative to the wazera-spooler systemd unit
# (recommended: systemctl enable --now wazera-spooler). To use cron instead,
# remove the "#" before the line at the end.
#
# Each run works for spooler.max_seconds (55 s), looking for new work every
# 200 ms, so a message accepted by the API reaches the Graph API within a
# second although cron starts the process only once a minute. Runs may
# overlap and may run beside the unit: the database shares the work out
# (account leases, SKIP LOCKED claims), so enabling both is safe, only
# wasteful. Results a run could not write to the database are kept in its
# journal under /var/lib/wazera; the next run writes them.
#
# The spooler writes its lines to [log] file of /etc/wazera/wazera.conf
# (/var/log/wazera/wazera.log); what still reaches standard error (a log
# file it cannot open) cron mails to root.
SHELL=/bin/sh
PATH=/usr/sbin:/usr/bin:/sbin:/bin
#* * * * * wazera /usr/sbin/wazera-spooler --config /etc/wazera/wazera.conf --once
