# bench/lib.sh: what bench/api and bench/inbound share. Sourced after
# deploy/local/lib.sh, with B (the bench's directory) and res (its results
# directory) set.
#
#   bench_prepare BUILD_CFLAGS PACKAGE...   packages, the source, the build
#   bench_mariadb [CONFIG_LINES]            a fresh MariaDB and config, migrated
#   bench_tenant                            tenant_id and key (no 429s)
#   run NAME CONNS SECONDS PATH [VAR=VALUE...]   one wrk run (bench/bench.lua)

bench_say() { printf '%s\n' "$*"; }

# bench_prepare CFLAGS PACKAGE...: installs what is missing, and builds the
# work tree (or, with BENCH_COMMIT, that commit as committed, for
# bench/RESULTS.md) in $B/build; sets src and rev.
bench_prepare() {
	local cflags=$1
	shift
	wz_install_packages "$B/apt.log" build-essential autoconf automake libtool \
	    pkg-config libfcgi-dev libmariadb-dev libjson-c-dev libcurl4-openssl-dev \
	    libsodium-dev libssl-dev mariadb-server mariadb-client nginx-light \
	    curl procps wrk python3 "$@"
	src=$wz_top
	rev=
	if [ -n "${BENCH_COMMIT:-}" ]; then
		rev=$(git -C "$wz_top" rev-parse --verify "$BENCH_COMMIT^{commit}") ||
		    wz_die "no commit $BENCH_COMMIT"
		src=$B/src
		if [ "$(cat "$src/.rev" 2>/dev/null)" != "$rev" ]; then
			rm -rf "$src"
			mkdir -p "$src"
			git -C "$wz_top" archive "$rev" | tar -x -C "$src"
			echo "$rev" >"$src/.rev"
		fi
	fi
	# (wz_build builds another source, a commit or the work tree, from
	# scratch.)
	wz_build "$B/build" "$cflags" "$src"
}

# bench_what: the commit measured, for the report's title.
bench_what() {
	local what
	if [ -n "${rev:-}" ]; then
		what="commit ${rev:0:7}"
	else
		what="work tree at $(git -C "$wz_top" rev-parse --short HEAD)"
		git -C "$wz_top" diff --quiet HEAD -- app lib sql configure.ac Makefile.am ||
		    what="$what, with uncommitted changes"
	fi
	echo "$what"
}

# bench_mariadb [CONFIG_LINES]: a MariaDB made anew in $B/mariadb, the
# config $B/wazera.conf (with CONFIG_LINES), the schema migrated; sets pass.
bench_mariadb() {
	pass=$(wz_random_secret)
	"$wz_top/deploy/local/mariadb" stop "$B/mariadb"
	rm -rf "$B/mariadb"
	"$wz_top/deploy/local/mariadb" start "$B/mariadb" wazera wazera "$pass"
	wz_write_config "$B/wazera.conf" "$B" "$pass" "$src/sql" "${1:-}"
	admin init
	admin migrate || wz_die "migrate failed; see $B/admin.log"
}

sql() {
	mariadb --no-defaults -uroot -S "$B/mariadb/mysql.sock" -N -B wazera -e "$1"
}

admin() {
	"$B/build/wazera-admin" --config "$B/wazera.conf" "$@" 2>>"$B/admin.log"
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# bench_tenant: an enterprise tenant whose limit never answers 429, and its
# key: tenant_id, key.
bench_tenant() {
	local out
	out=$(admin tenant create --name Bench --plan enterprise --rate-limit 1000000000) ||
	    wz_die "tenant create failed; see $B/admin.log"
	tenant_id=$(wz_json_field id <<<"$out")
	out=$(admin apikey create --tenant "$tenant_id" --name bench) ||
	    wz_die "apikey create failed; see $B/admin.log"
	key=$(wz_json_field key <<<"$out")
}

# --- measuring ---------------------------------------------------------------

declare -A rps p50 p99 bad reqs perreq
wrk_pid=

# db_counters: the server's Questions and Queries counters.
db_counters() {
	sql "SHOW GLOBAL STATUS WHERE Variable_name IN ('Questions', 'Queries')" |
	    awk '$1 == "Questions" { q = $2 } $1 == "Queries" { a = $2 } END { print q, a }'
}

# run NAME CONNS SECONDS PATH [VAR=VALUE...]: one wrk run through nginx at
# $url with bench/bench.lua; the figures land in rps[NAME], p50[NAME],
# p99[NAME], bad[NAME] (non-2xx and socket errors), reqs[NAME], perreq[NAME]
# (database statements per request), the whole output in $res/NAME.txt.
run() {
	local name=$1 conns=$2 dur=$3 path=$4 line before after
	shift 4
	before=$(db_counters)
	# In the background and waited for, so that a Ctrl-C runs the trap at
	# once (bash would let a foreground wrk that handles SIGINT finish).
	env WZ_KEY="${key:-}" "$@" wrk -t1 -c"$conns" -d"$dur"s --latency \
	    -s "$wz_top/bench/bench.lua" "$url$path" >"$res/$name.txt" 2>&1 &
	wrk_pid=$!
	wait $wrk_pid || { cat "$res/$name.txt" >&2; wz_die "wrk failed ($name)"; }
	wrk_pid=
	line=$(grep '^WZ ' "$res/$name.txt") || { cat "$res/$name.txt" >&2; wz_die "no figures ($name)"; }
	rps[$name]=$(sed 's/.* rps=\([0-9]*\).*/\1/' <<<"$line")
	p50[$name]=$(sed 's/.* p50_ms=\([0-9.]*\).*/\1/' <<<"$line")
	p99[$name]=$(sed 's/.* p99_ms=\([0-9.]*\).*/\1/' <<<"$line")
	after=$(db_counters)
	reqs[$name]=$(sed 's/.* requests=\([0-9]*\).*/\1/' <<<"$line")
	# Statements per request: sent by the client (round trips, about), and
	# run in all (with those inside stored procedures).
	perreq[$name]=$(awk -v b="$before" -v a="$after" -v n="${reqs[$name]}" 'BEGIN {
	    split(b, x); split(a, y); if (n > 0) printf "%.1f/%.1f", (y[1] - x[1]) / n, (y[2] - x[2]) / n; else print "-" }')
	bad[$name]=$(awk '{ for (i = 1; i <= NF; i++) { split($i, kv, "=");
	    if (kv[1] == "non2xx" || kv[1] == "errors") n += kv[2] } } END { print n + 0 }' <<<"$line")
}

# rss PID...: VmRSS in KiB of each.
rss() {
	local p
	for p in "$@"; do
		awk '/^VmRSS:/ { print $2 }' "/proc/$p/status" 2>/dev/null || echo 0
	done
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "-" }'; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }
# ratio_ge A B R: A / B >= R, unrounded.
ratio_ge() { awk -v a="$1" -v b="$2" -v r="$3" 'BEGIN { exit !(b > 0 && a / b >= r) }'; }
verdict() { if "$@"; then echo met; else echo MISSED; fi; }
