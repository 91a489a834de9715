-- wrk script for bench/api: every route of the bench, chosen by $WZ_MODE.
-- (wrk decides whether a script is dynamic before init() runs, so the mode
-- comes from the environment rather than from wrk's "--" arguments.)
--
--   WZ_MODE  get      GET  /api/v1/contacts/{random id in WZ_MINID..WZ_MAXID,
--                     or a random line of WZ_FILE when given}
--            baseline GET  /baseline/contacts/{same}
--            search   GET  /api/v1/contacts?search={random line of WZ_FILE}
--            post     POST /api/v1/contacts, unique phones
--            load     POST each line of WZ_FILE once, then stop
--            signed   POST /api/v1/whatsapp/webhook: each line of WZ_FILE
--                     ("SIGNATURE<TAB>BODY", bench/inbound.py) once, with
--                     X-Hub-Signature-256; stops when they are used up
--            fixed    the URL given to wrk, as it is (list, static)
--   WZ_KEY   the API key (Authorization: Bearer)
--   WZ_KEYS  several keys, comma-separated: one drawn per request instead
--            of WZ_KEY (bench/cluster: the rate counters of many keys)
--   WZ_CAP   stop after this many responses (load: after the last POST's)
--
-- done() prints one line for bench/api to read:
--   WZ requests=N seconds=S rps=R p50_ms=X p99_ms=Y non2xx=N errors=N

local mode = os.getenv("WZ_MODE") or "fixed"
local key = os.getenv("WZ_KEY")
local cap = tonumber(os.getenv("WZ_CAP") or "0")
local minid = tonumber(os.getenv("WZ_MINID") or "1")
local maxid = tonumber(os.getenv("WZ_MAXID") or "1")
local file = os.getenv("WZ_FILE")

if key then
   wrk.headers["Authorization"] = "Bearer " .. key
end
if mode == "post" or mode == "load" then
   wrk.headers["Content-Type"] = "application/json"
end

local ffi = require("ffi")
ffi.cdef [[
int getpid(void);
int tgkill(int tgid, int tid, int sig);
]]

-- Stops the whole run now: wrk's main thread sleeps for the -d duration
-- and only a SIGINT to it (tid == pid) cuts that short.
local function finish()
   local pid = ffi.C.getpid()
   ffi.C.tgkill(pid, pid, 2)
   wrk.thread:stop()
end

local function lines(path)
   local t = {}
   for l in io.lines(path) do
      t[#t + 1] = l:match("^[^\t]*")
   end
   assert(#t > 0, "empty " .. path)
   return t
end

-- each_once(N, MAKE, [AT_END]): a request() that sends MAKE(1) .. MAKE(N)
-- once each. wrk calls request() once before the run to count pipelined
-- requests and never sends that one: it must not use up a request. After
-- the last, AT_END() is called, and the connections are kept busy with
-- something harmless while the last answers arrive.
local function each_once(n, make, at_end)
   local i, counted = 0, false
   return function()
      if not counted then
         counted = true
         return wrk.format("GET", "/static")
      end
      i = i + 1
      if i > n then
         if at_end then
            at_end()
         end
         return wrk.format("GET", "/static")
      end
      return make(i)
   end
end

local first = { "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances",
   "Ken", "Dennis", "Margaret", "Niklaus", "Radia", "Tim", "Sophie", "Linus" }
local last = { "Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth",
   "Allen", "Thompson", "Ritchie", "Hamilton", "Wirth", "Perlman", "Berners",
   "Wilson", "Torvalds" }

if mode == "get" or mode == "baseline" then
   local prefix = mode == "get" and "/api/v1/contacts/" or "/baseline/contacts/"
   math.randomseed(os.time())
   if file then
      -- The ids themselves: a Galera cluster's interleave leaves gaps.
      local ids = lines(file)
      request = function()
         return wrk.format("GET", prefix .. ids[math.random(#ids)])
      end
   else
      request = function()
         return wrk.format("GET", prefix .. math.random(minid, maxid))
      end
   end
elseif mode == "search" then
   local terms = lines(file)
   math.randomseed(os.time())
   request = function()
      return wrk.format("GET", "/api/v1/contacts?search=" .. terms[math.random(#terms)])
   end
elseif mode == "post" then
   -- Phones +33 and ten digits from a per-run random base: unique in a run,
   -- and unlike the loaded +44 ones.
   math.randomseed(os.time())
   local base = math.random(0, 8999999) * 1000
   local n = 0
   request = function()
      n = n + 1
      local f, l = first[n % #first + 1], last[(n * 7) % #last + 1]
      local body = string.format(
         '{"phone":"+33%010d","name":"%s %s","email":"%s.%s%d@example.com","tags":["bench"]}',
         base + n, f, l, f:lower(), l:lower(), n)
      return wrk.format("POST", "/api/v1/contacts", nil, body)
   end
elseif mode == "load" then
   local bodies = lines(file)
   local done = 0
   request = each_once(#bodies, function(i)
      return wrk.format("POST", "/api/v1/contacts", nil, bodies[i])
   end)
   response = function(status)
      if status ~= 200 then -- a POST's answer (201, or an error wrk counts)
         done = done + 1
         if done >= #bodies then
            finish()
         end
      end
   end
elseif mode == "signed" then
   local sigs, bodies = {}, {}
   for l in io.lines(file) do
      local sig, body = l:match("^([^\t]*)\t(.*)$")
      sigs[#sigs + 1], bodies[#bodies + 1] = sig, body
   end
   assert(#bodies > 0, "empty " .. file)
   local headers = { ["Content-Type"] = "application/json" }
   request = each_once(#bodies, function(i)
      headers["X-Hub-Signature-256"] = sigs[i]
      return wrk.format("POST", "/api/v1/whatsapp/webhook", headers, bodies[i])
   end, finish)
end

-- WZ_KEYS: each request with a key drawn from the list (every mode above
-- formats its requests with wrk.headers, which holds the key).
if os.getenv("WZ_KEYS") and request then
   local keys = {}
   for k in os.getenv("WZ_KEYS"):gmatch("[^,]+") do
      keys[#keys + 1] = "Bearer " .. k
   end
   assert(#keys > 0, "empty WZ_KEYS")
   local inner = request
   request = function()
      wrk.headers["Authorization"] = keys[math.random(#keys)]
      return inner()
   end
end

if cap > 0 and mode ~= "load" then
   local seen = 0
   response = function()
      seen = seen + 1
      if seen == cap then
         finish()
      end
   end
end

function done(summary, latency, requests)
   local e = summary.errors
   local secs = summary.duration / 1e6
   io.write(string.format(
      "WZ requests=%d seconds=%.2f rps=%.0f p50_ms=%.2f p99_ms=%.2f non2xx=%d errors=%d\n",
      summary.requests, secs, summary.requests / secs,
      latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      e.status, e.connect + e.read + e.write + e.timeout))
end
