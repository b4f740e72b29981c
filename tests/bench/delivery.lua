-- wrk script of the ingest benchmark: POSTs an Okta event-hook delivery
-- (a sample from ../shared/okta/samples) with a new eventId and event uuid
-- in every request, so that each one is stored, not de-duplicated.
--
-- Environment:
--   BENCH_SAMPLE  the delivery JSON (one event; its eventId and first uuid
--                 are replaced)
--   BENCH_SECRET  the Authorization header value
--   BENCH_RUN     a number unique to this wrk run (ids: run-thread-counter)
--   BENCH_OUT     file that done() writes its figures to (key=value lines)
--
-- Ids keep the uuid shape and length of the sample:
--   eventId  RRRRRRRR-TTTT-4e7e-8000-NNNNNNNNNNNN
--   uuid     RRRRRRRR-TTTT-4000-8000-NNNNNNNNNNNN
-- (R run, T wrk thread, N per-thread counter, in decimal digits).

local threads = {}
local next_tid = 0

function setup(thread)
   next_tid = next_tid + 1
   thread:set("tid", next_tid)
   table.insert(threads, thread)
end

local head, mid, tail, prefix
sent = 0

function init(args)
   local f = assert(io.open(os.getenv("BENCH_SAMPLE"), "rb"))
   local body = f:read("*a")
   f:close()
   local _, e1 = body:find('"eventId"%s*:%s*"')
   local e2 = body:find('"', e1 + 1, true)
   local _, u1 = body:find('"uuid"%s*:%s*"', e2)
   local u2 = body:find('"', u1 + 1, true)
   assert(e1 and e2 and u1 and u2, "sample without eventId or uuid")
   head = body:sub(1, e1)
   mid = body:sub(e2, u1)
   tail = body:sub(u2)
   prefix = string.format("%08x-%04x-", tonumber(os.getenv("BENCH_RUN")) % 2^31, tid)
   wrk.method = "POST"
   wrk.path = "/hooks/okta"
   wrk.headers["Authorization"] = os.getenv("BENCH_SECRET")
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Accept"] = "application/json"
end

function request()
   sent = sent + 1
   local n = string.format("8000-%012d", sent)
   local body = head .. prefix .. "4e7e-" .. n .. mid .. prefix .. "4000-" .. n .. tail
   return wrk.format(nil, nil, nil, body)
end

function done(summary, latency, requests)
   local total_sent = 0
   for _, t in ipairs(threads) do
      total_sent = total_sent + t:get("sent")
   end
   local e = summary.errors
   local f = assert(io.open(os.getenv("BENCH_OUT"), "w"))
   -- wrk counts a status >= 400 as a "status error": that is our non-2xx
   -- (neither server answers 1xx or 3xx)
   f:write(string.format("requests=%d\nok=%d\nnon2xx=%d\nconnect=%d\nread=%d\n" ..
      "write=%d\ntimeout=%d\nduration_us=%d\nsent=%d\np50_us=%d\np99_us=%d\n" ..
      "max_us=%d\n",
      summary.requests, summary.requests - e.status, e.status, e.connect, e.read,
      e.write, e.timeout, summary.duration, total_sent,
      latency:percentile(50), latency:percentile(99), latency.max))
   f:close()
end
