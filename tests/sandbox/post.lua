-- wrk -t1 -c64 -d5s -s post.lua http://127.0.0.1:PORT
-- POSTs a text message to the sandbox's messages endpoint.
wrk.method = "POST"
wrk.path = "/v25.0/106540352242922/messages"
wrk.headers["Authorization"] = "Bearer sandbox-token"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"messaging_product":"whatsapp","recipient_type":"individual","to":"+4915112345678",' ..
  '"type":"text","text":{"preview_url":false,"body":"Hello from the benchmark"},' ..
  '"biz_opaque_callback_data":"bench-1"}'

local counts = {}
response = function(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end

done = function(summary, latency, requests)
  io.write(string.format("non-2xx/3xx: %d, p50 %.2f ms, p99 %.2f ms\n",
    summary.errors.status, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
