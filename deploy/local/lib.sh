# Shell functions shared by deploy/local/up, deploy/local/down, bench/api and
# bench/spooler: building out of tree, writing the config, starting and
# stopping the pre-forked FastCGI server, a private nginx, the sandbox Graph
# API and the spooler. Sourced, never run.
#
# Every service started here records its PID in a file; stopping goes by that
# PID, after checking the process is still the program we started (a PID can
# be reused by another process after a reboot).

wz_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

wz_say() { printf '%s\n' "$*" >&2; }
wz_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# wz_alive PIDFILE PROGRAM: true when PIDFILE names a live process running
# PROGRAM (compared with the basename of its executable). PROGRAM may be
# EXE:WORD for an interpreter: the executable is EXE and one of its
# arguments contains WORD (node:graph-sandbox.js).
wz_alive() {
	local pid exe prog=${2%%:*} word=""
	[ "$prog" = "$2" ] || word=${2#*:}
	[ -s "$1" ] || return 1
	pid=$(cat "$1")
	[ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
	exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 1
	exe=${exe% (deleted)}	# a rebuilt binary is still ours
	[ "${exe##*/}" = "$prog" ] || return 1
	[ -z "$word" ] || tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null |
	    grep -qF -- "$word"
}

# wz_stop PIDFILE PROGRAM [SECONDS]: SIGTERM, wait (default 15 s), then SIGKILL.
wz_stop() {
	local pid i
	if wz_alive "$1" "$2"; then
		pid=$(cat "$1")
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < ${3:-15} * 10; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		if kill -0 "$pid" 2>/dev/null; then
			wz_say "$2 ($pid) ignored SIGTERM; killing it"
			kill -KILL "$pid" 2>/dev/null || true
		fi
		wz_say "stopped $2 ($pid)"
	fi
	rm -f "$1"
}

# wz_install_packages LOG PACKAGE...: apt-get installs those of the Debian
# packages that are missing (as root; otherwise says which to install).
# The package lists are fetched once, and only when something is missing:
# up front on a machine that never fetched them, else after a failed install
# (stale lists).
wz_install_packages() {
	local log=$1 missing=() p fresh=no
	shift
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		    missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || wz_die "missing packages (run as root, or install them): ${missing[*]}"
	wz_say "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	: >"$log"
	if ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; then
		apt-get update -q >>"$log" 2>&1 || true
		fresh=yes
	fi
	if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1; then
		[ $fresh = yes ] || apt-get update -q >>"$log" 2>&1 || true
		apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1 ||
		    { tail -n 20 "$log" >&2; wz_die "apt-get install failed; see $log"; }
	fi
}

# wz_build BUILDDIR [CFLAGS [SRCDIR]]: an optimised out-of-tree build of
# SRCDIR (default: this checkout; the source tree itself is never
# configured). Make's jobs: $WAZERA_JOBS, default all cores.
wz_build() {
	local dir=$1 cflags=${2:--O2 -g} src=${3:-$wz_top} key
	if [ ! -x "$src/configure" ] ||
	    [ "$src/configure.ac" -nt "$src/configure" ] ||
	    [ "$src/Makefile.am" -nt "$src/Makefile.in" ]; then
		wz_say "generating $src/configure"
		"$src/autogen.sh" >/dev/null 2>&1 ||
		    wz_die "autogen.sh failed (run it by hand to see why)"
	fi
	# What the build is of: flags, source tree and, for a tree made by
	# git archive (bench's BENCH_COMMIT), its commit. Another one builds
	# from scratch: objects depend on sources, not flags, and files from
	# git archive carry their commit's time, older than the objects of
	# the last build, so make would keep those.
	key="$cflags $src $(cat "$src/.rev" 2>/dev/null || true)"
	if [ ! -f "$dir/Makefile" ] || [ "$(cat "$dir/.cflags" 2>/dev/null)" != "$key" ]; then
		wz_say "configuring in $dir"
		rm -rf "$dir"
		mkdir -p "$dir"
		(cd "$dir" && "$src/configure" -q CFLAGS="$cflags") ||
		    wz_die "configure failed; see $dir/config.log"
		printf '%s\n' "$key" >"$dir/.cflags"
	fi
	wz_say "building in $dir"
	make -C "$dir" -s -j"${WAZERA_JOBS:-$(nproc)}" wazera-fcgi wazera-admin \
	    wazera-spooler >"$dir/make.log" 2>&1 ||
	    { tail -n 30 "$dir/make.log" >&2; wz_die "build failed; see $dir/make.log"; }
}

# wz_random_secret: 32 base62-ish characters.
wz_random_secret() {
	head -c 48 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32
}

# wz_write_config FILE DIR PASSWORD [SQLDIR [TOPLINES]]: the INI config for
# a private stack whose MariaDB socket and master key live in DIR. TOPLINES
# (newline-separated "key = value" lines) go before the first section:
# graph_api_base, verify_token, app_secret.
wz_write_config() {
	cat >"$1.tmp" <<CONF
# Written by ${0##*/} (the password is generated once and kept).
sql_dir = ${4:-$wz_top/sql}
master_key_file = $2/master.key
${5:-}

[database]
socket = $2/mariadb/mysql.sock
user = wazera
password = $3
name = wazera

[webhooks]
# The receivers a developer runs locally are on loopback.
allow_private_targets = true
CONF
	chmod 600 "$1.tmp"
	# Unchanged, the file keeps its time: a running server is not restarted.
	if cmp -s "$1.tmp" "$1"; then rm -f "$1.tmp"; else mv "$1.tmp" "$1"; fi
}

# wz_config_password FILE: the database password of an existing config.
wz_config_password() {
	sed -n 's/^password *= *//p' "$1" 2>/dev/null | head -n 1 || true
}

# wz_wait_socket PATH PIDFILE PROGRAM LOG: waits up to 10 s for a unix socket.
wz_wait_socket() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ -S "$1" ] && return 0
		# Alive is enough here: until setsid has exec'd the program,
		# the pid's executable is setsid's, which wz_alive would take
		# for another program (a busy machine lost the race).
		kill -0 "$(cat "$2")" 2>/dev/null || break
		sleep 0.1
	done
	tail -n 20 "$4" >&2
	wz_die "$3 did not come up (log: $4)"
}

# wz_fcgi_start BUILDDIR CONFIG SOCKET PIDFILE LOG [WORKERS]: the standalone
# pre-forked server. A running one is kept unless its binary or config is
# newer than it (then it is restarted, so a rebuild takes effect).
wz_fcgi_start() {
	local bin=$1/wazera-fcgi conf=$2 sock=$3 pidf=$4 log=$5 workers=${6:-4}
	if wz_alive "$pidf" wazera-fcgi; then
		if [ "$bin" -nt "$pidf" ] || [ "$conf" -nt "$pidf" ]; then
			wz_say "wazera-fcgi: binary or config changed; restarting"
			wz_stop "$pidf" wazera-fcgi
		else
			wz_say "wazera-fcgi already running (pid $(cat "$pidf"))"
			return 0
		fi
	fi
	rm -f "$sock"
	# setsid: a Ctrl-C in the terminal that ran us must not reach it.
	setsid "$bin" --config "$conf" --listen "$sock" --workers "$workers" \
	    --socket-mode 0660 </dev/null >>"$log" 2>&1 &
	echo $! >"$pidf"
	wz_wait_socket "$sock" "$pidf" wazera-fcgi "$log"
	wz_say "wazera-fcgi started (pid $(cat "$pidf"), $workers workers, $sock)"
}

# wz_fcgi_workers PIDFILE: the PIDs of the server's workers, one a line.
wz_fcgi_workers() {
	local pid
	pid=$(cat "$1")
	pgrep -P "$pid" 2>/dev/null || true
}

# wz_nginx_conf DIR PORT FCGISOCK [EXTRA]: writes DIR/nginx.conf, an nginx of
# our own on 127.0.0.1:PORT in front of FCGISOCK. Its server block is the
# shipped deploy/nginx/wazera.conf with only the listen address, the socket,
# the include paths and the dashboard's directory (the checkout's
# dashboard/) changed (as the e2e suite runs it); EXTRA is inserted in the
# server block (the bench adds its yardsticks there).
wz_nginx_conf() {
	local dir=$1 port=$2 sock=$3 extra=${4:-} user="" site
	mkdir -p "$dir/tmp" "$dir/snippets"
	cp "$wz_top/deploy/nginx/wazera-errors.conf" "$dir/snippets/"
	# nginx's workers must reach the FastCGI socket (mode 0660, owned by us).
	[ "$(id -u)" = 0 ] && user="user root;"
	site=$(WZ_PORT=$port WZ_SOCK=$sock WZ_DIR=$dir WZ_EXTRA=$extra \
	    WZ_DASHBOARD=$wz_top/dashboard awk '
		function sub1(old, new) {
			if (index($0, old)) {
				$0 = substr($0, 1, index($0, old) - 1) new \
				    substr($0, index($0, old) + length(old))
				n[old]++
			}
		}
		{
			sub1("listen 80;", "listen 127.0.0.1:" ENVIRON["WZ_PORT"] ";")
			sub1("unix:/run/wazera/fcgi.sock", "unix:" ENVIRON["WZ_SOCK"])
			sub1("include snippets/", "include " ENVIRON["WZ_DIR"] "/snippets/")
			sub1("include fastcgi_params;", "include /etc/nginx/fastcgi_params;")
			sub1("alias /usr/share/wazera/dashboard/;", "alias " ENVIRON["WZ_DASHBOARD"] "/;")
			lines[NR] = $0
		}
		END {
			if (n["listen 80;"] != 1 || n["unix:/run/wazera/fcgi.sock"] != 1 ||
			    n["include snippets/"] != 1 || n["include fastcgi_params;"] != 1 ||
			    n["alias /usr/share/wazera/dashboard/;"] != 1)
				exit 1
			# EXTRA goes before the server block'"'"'s closing brace, the
			# last line that is one.
			for (last = NR; last > 0 && lines[last] != "}"; last--)
				;
			for (i = 1; i <= NR; i++) {
				if (i == last)
					print ENVIRON["WZ_EXTRA"]
				print lines[i]
			}
		}' "$wz_top/deploy/nginx/wazera.conf") ||
	    wz_die "deploy/nginx/wazera.conf: its listen, socket, include or dashboard alias lines changed; update wz_nginx_conf"
	cat >"$dir/nginx.conf.tmp" <<CONF
# Written by ${0##*/}; regenerated on every run.
$user
worker_processes auto;
pid $dir/nginx.pid;
error_log $dir/error.log warn;

events {
	worker_connections 4096;
}

http {
	include /etc/nginx/mime.types;
	default_type application/octet-stream;
	access_log off;
	server_tokens off;
	sendfile on;
	tcp_nodelay on;

	client_body_temp_path $dir/tmp/client_body;
	proxy_temp_path $dir/tmp/proxy;
	fastcgi_temp_path $dir/tmp/fastcgi;
	uwsgi_temp_path $dir/tmp/uwsgi;
	scgi_temp_path $dir/tmp/scgi;

$site
}
CONF
	if cmp -s "$dir/nginx.conf.tmp" "$dir/nginx.conf"; then
		rm -f "$dir/nginx.conf.tmp"
	else
		mv "$dir/nginx.conf.tmp" "$dir/nginx.conf"
	fi
}

# wz_nginx_start DIR: starts nginx with DIR/nginx.conf; a running one is
# kept, and reloaded if the config changed since it last read it.
wz_nginx_start() {
	local dir=$1 i
	if wz_alive "$dir/nginx.pid" nginx; then
		if [ "$dir/nginx.conf" -nt "$dir/nginx.loaded" ]; then
			nginx -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" ||
			    wz_die "nginx rejects $dir/nginx.conf"
			kill -HUP "$(cat "$dir/nginx.pid")"
			sleep 0.5	# the reload is asynchronous
			touch "$dir/nginx.loaded"
			wz_say "nginx already running (pid $(cat "$dir/nginx.pid")); reloaded its new config"
		else
			wz_say "nginx already running (pid $(cat "$dir/nginx.pid"))"
		fi
		return 0
	fi
	rm -f "$dir/nginx.pid"
	nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" ||
	    wz_die "nginx did not start (log: $dir/error.log)"
	for ((i = 0; i < 50; i++)); do
		wz_alive "$dir/nginx.pid" nginx && break
		sleep 0.1
	done
	wz_alive "$dir/nginx.pid" nginx || wz_die "nginx did not start (log: $dir/error.log)"
	touch "$dir/nginx.loaded"
	wz_say "nginx started (pid $(cat "$dir/nginx.pid"))"
}

# wz_json_field NAME: the first top-level-looking "NAME": value of the JSON
# line on stdin (numbers and plain strings only; enough for wazera-admin's
# output, without needing jq or python on a fresh machine).
wz_json_field() {
	grep -o "\"$1\" *: *\"\{0,1\}[^\",}]*" | head -n 1 | sed 's/^[^:]*: *"\{0,1\}//'
}

# wz_sandbox_start PIDFILE LOG LISTEN [ARG...]: the sandbox Graph API
# (tests/sandbox/graph-sandbox.js, Node) on LISTEN (127.0.0.1:PORT; port 0
# picks a free one). A running one is kept if it was started with the same
# arguments and the script has not changed since; otherwise it is restarted
# (its records, kept in memory, are then gone). Sets wz_sandbox_port.
wz_sandbox_start() {
	local pidf=$1 log=$2 listen=$3 js=$wz_top/tests/sandbox/graph-sandbox.js
	local args i n line
	shift 3
	args="--listen $listen $*"
	if wz_alive "$pidf" node:graph-sandbox.js; then
		if [ "$js" -nt "$pidf" ] || [ "$(cat "$pidf.args" 2>/dev/null)" != "$args" ]; then
			wz_say "sandbox Graph API: script or arguments changed; restarting"
			wz_stop "$pidf" node:graph-sandbox.js
		else
			wz_sandbox_port=$(sed -n 's/^graph-sandbox listening on .*:\([0-9]*\)$/\1/p' "$log" | tail -n 1)
			wz_say "sandbox Graph API already running (pid $(cat "$pidf"), port $wz_sandbox_port)"
			return 0
		fi
	fi
	rm -f "$pidf"
	(umask 077 && printf '%s\n' "$args" >"$pidf.args")
	: >"$log"
	# The sandbox writes the pid file itself once it listens.
	setsid node "$js" --listen "$listen" --pidfile "$pidf" "$@" \
	    </dev/null >>"$log" 2>&1 &
	i=$!
	line=""
	for ((n = 0; n < 100; n++)); do
		line=$(grep -m 1 '^graph-sandbox listening on ' "$log" || true)
		[ -n "$line" ] && [ -s "$pidf" ] && break
		kill -0 "$i" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$line" ] || ! wz_alive "$pidf" node:graph-sandbox.js; then
		tail -n 20 "$log" >&2
		wz_die "the sandbox Graph API did not come up (log: $log)"
	fi
	wz_sandbox_port=${line##*:}
	curl -sf "http://127.0.0.1:$wz_sandbox_port/_sandbox/health" >/dev/null ||
	    wz_die "the sandbox Graph API does not answer on port $wz_sandbox_port"
	wz_say "sandbox Graph API started (pid $(cat "$pidf"), 127.0.0.1:$wz_sandbox_port)"
}

# wz_spooler_start BUILDDIR CONFIG PIDFILE LOG [ARG...]: wazera-spooler in
# the background, with ARGs (default --loop). A running one is kept unless
# its binary or config is newer than it; then it is stopped (SIGTERM: it
# finishes its requests in flight) and started again.
wz_spooler_start() {
	local bin=$1/wazera-spooler conf=$2 pidf=$3 log=$4 i
	shift 4
	[ $# -gt 0 ] || set -- --loop
	if wz_alive "$pidf" wazera-spooler; then
		if [ "$bin" -nt "$pidf" ] || [ "$conf" -nt "$pidf" ]; then
			wz_say "wazera-spooler: binary or config changed; restarting"
			wz_stop "$pidf" wazera-spooler 20
		else
			wz_say "wazera-spooler already running (pid $(cat "$pidf"))"
			return 0
		fi
	fi
	setsid "$bin" --config "$conf" "$@" </dev/null >>"$log" 2>&1 &
	echo $! >"$pidf"
	# It fails fast on a bad config or an unusable master key.
	for ((i = 0; i < 5; i++)); do
		sleep 0.1
		wz_alive "$pidf" wazera-spooler ||
		    { tail -n 20 "$log" >&2; wz_die "wazera-spooler did not start (log: $log)"; }
	done
	wz_say "wazera-spooler started (pid $(cat "$pidf"), $*)"
}
