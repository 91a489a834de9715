-- wrk script for bench/spooler: queues exactly WZ_COUNT template messages
-- through POST /api/v1/messages/send, then stops wrk.
--
--   WZ_KEY      the API key (Authorization: Bearer)
--   WZ_KEYS     several keys, comma-separated: one drawn per request instead
--               of WZ_KEY (bench/cluster: the rate counters of many keys)
--   WZ_ACCOUNT  whatsapp_account_id
--   WZ_COUNT    how many messages
--   WZ_PHONE    the first recipient: +49151 and 8 digits from here on, one
--               recipient (so one contact and conversation) per message,
--               as a campaign to a list would have
--
-- Once every message is posted, the connections fetch /static (nginx's own
-- answer, status 200) while the last answers arrive; a POST's answer is 201
-- or an error, never 200, so the count below sees each POST once. done()
-- prints one line for bench/spooler to read:
--   WZ seconds=S p50_ms=X p99_ms=Y non2xx=N errors=N

local key = os.getenv("WZ_KEY")
local keys = {}
for k in (os.getenv("WZ_KEYS") or ""):gmatch("[^,]+") do
   keys[#keys + 1] = k
end
key = key or keys[1]
local account = tonumber(os.getenv("WZ_ACCOUNT"))
local count = tonumber(os.getenv("WZ_COUNT"))
local phone = tonumber(os.getenv("WZ_PHONE") or "10000000")
assert(key and account and count, "WZ_KEY, WZ_ACCOUNT and WZ_COUNT are needed")

wrk.headers["Authorization"] = "Bearer " .. key
wrk.headers["Content-Type"] = "application/json"

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

local words = { "Your", "order", "has", "shipped", "and", "will", "arrive",
   "on", "Tuesday", "between", "9", "and", "12", "reply", "STOP", "to", "opt",
   "out" }

local i, answered, verified = 0, 0, false

request = function()
   -- wrk calls request() once before the run to count pipelined requests
   -- and never sends that one: it must not use up a message.
   if not verified then
      verified = true
      return wrk.format("GET", "/static")
   end
   if i >= count then
      return wrk.format("GET", "/static")
   end
   i = i + 1
   if #keys > 0 then
      wrk.headers["Authorization"] = "Bearer " .. keys[i % #keys + 1]
   end
   -- Templates: new recipients have not written, so free text would be
   -- outside their 24-hour window (422).
   local body = string.format(
      '{"to":"+49151%08d","whatsapp_account_id":%d,"type":"template",' ..
      '"content":{"name":"order_update","language":"en_US","components":' ..
      '[{"type":"body","parameters":[{"type":"text","text":"Hello %d. %s %s %s %s."}]}]}}',
      phone + i, account, i, words[i % #words + 1], words[(i * 3) % #words + 1],
      words[(i * 7) % #words + 1], words[(i * 11) % #words + 1])
   return wrk.format("POST", "/api/v1/messages/send", nil, body)
end

response = function(status)
   if status == 200 then
      return
   end
   answered = answered + 1
   if answered >= count then
      finish()
   end
end

-- done() runs in wrk's main Lua state, which does not see the counters of
-- the thread above: bench/spooler counts the queued rows in the database.
function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "WZ seconds=%.2f p50_ms=%.2f p99_ms=%.2f non2xx=%d errors=%d\n",
      summary.duration / 1e6, latency:percentile(50) / 1000,
      latency:percentile(99) / 1000, e.status,
      e.connect + e.read + e.write + e.timeout))
end
