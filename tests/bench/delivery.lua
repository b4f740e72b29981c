-- wrk script of the ingest benchmark: POSTs an Okta event-hook delivery
-- (a sample from ../shared/okta/samples) with a new eventId, event uuid
-- and (unless BENCH_USER_ID is empty) target user id in every request, so
-- that each one is a new delivery that is stored, not de-duplicated.
--
-- Environment:
--   BENCH_SAMPLE   the delivery JSON (one event; its eventId and first uuid
--                  are replaced)
--   BENCH_USER_ID  the sample's target user id: every occurrence is
--                  replaced by a new one per request (empty: keep it)
--   BENCH_SECRET   the Authorization header value
--   BENCH_RUN      a number unique to this wrk run
--   BENCH_OUT      file that done() writes its figures to (key=value lines)
--
-- Ids keep the shape and length of the sample's:
--   eventId  RRRRRRRR-TTTT-4e7e-8000-NNNNNNNNNNNN
--   uuid     RRRRRRRR-TTTT-4000-8000-NNNNNNNNNNNN
--   user     00uRRRRRTTNNNNNNNNNN
-- (R run, T wrk thread, in hex; N per-thread counter, in decimal digits).

local threads = {}
local next_tid = 0

function setup(thread)
   next_tid = next_tid + 1
   thread:set("tid", next_tid)
   table.insert(threads, thread)
end

local EVENT, UUID, USER = 1, 2, 3
local parts = {}      -- literal strings and EVENT/UUID/USER markers
local run, out = 0, {}
sent = 0

-- Splits s at every plain occurrence of what, inserting marker between.
local function split(pieces, what, marker)
   local res = {}
   for _, p in ipairs(pieces) do
      if type(p) ~= "string" then
         table.insert(res, p)
      else
         local at = 1
         while true do
            local i, j = p:find(what, at, true)
            if i == nil then break end
            table.insert(res, p:sub(at, i - 1))
            table.insert(res, marker)
            at = j + 1
         end
         table.insert(res, p:sub(at))
      end
   end
   return res
end

function init(args)
   local f = assert(io.open(os.getenv("BENCH_SAMPLE"), "rb"))
   local body = f:read("*a")
   f:close()
   local event_id = body:match('"eventId"%s*:%s*"([^"]*)"')
   local uuid = body:match('"uuid"%s*:%s*"([^"]*)"')
   assert(event_id and uuid, "sample without eventId or uuid")
   parts = split(split({body}, '"' .. event_id .. '"', EVENT), '"' .. uuid .. '"', UUID)
   local user = os.getenv("BENCH_USER_ID") or ""
   if user ~= "" then
      parts = split(parts, user, USER)
   end
   run = tonumber(os.getenv("BENCH_RUN"))
   wrk.method = "POST"
   wrk.path = "/hooks/okta"
   wrk.headers["Authorization"] = os.getenv("BENCH_SECRET")
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Accept"] = "application/json"
end

function request()
   sent = sent + 1
   local ev = string.format('"%08x-%04x-4e7e-8000-%012d"', run % 2^31, tid, sent)
   local uu = string.format('"%08x-%04x-4000-8000-%012d"', run % 2^31, tid, sent)
   local us = string.format("00u%05x%02x%010d", run % 2^20, tid % 256, sent)
   for i, p in ipairs(parts) do
      if p == EVENT then out[i] = ev
      elseif p == UUID then out[i] = uu
      elseif p == USER then out[i] = us
      else out[i] = p end
   end
   return wrk.format(nil, nil, nil, table.concat(out))
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
