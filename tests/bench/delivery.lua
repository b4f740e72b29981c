-- wrk script of the ingest benchmark: POSTs an Okta event-hook delivery
-- (a sample from tests/data/okta/samples) with a new eventId, event uuid
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
--   BENCH_IDS      "sequential": ids that sort in the order they are sent
--
-- Ids keep the shape and length of the sample's. By default they start
-- with a scrambled counter, so that they land all over the indexes as
-- Okta's (random or time-low-first) uuids and user ids do:
--   eventId  HHHHHHHH-TTTT-4e7e-RRRR-NNNNNNNNNNNN
--   uuid     HHHHHHHH-TTTT-4000-RRRR-NNNNNNNNNNNN
--   user     00uGGGGGGGGTTnnnnnnn
-- with BENCH_IDS=sequential:
--   eventId  RRRRRRRR-TTTT-4e7e-8000-NNNNNNNNNNNN
--   uuid     RRRRRRRR-TTTT-4000-8000-NNNNNNNNNNNN
--   user     00uRRRRRTTNNNNNNNNNN
-- (R run, T wrk thread, in hex; N per-thread counter, in decimal digits;
-- H and G two bijective scramblings of N).

local threads = {}
local next_tid = 0

function setup(thread)
   next_tid = next_tid + 1
   thread:set("tid", next_tid)
   table.insert(threads, thread)
end

local EVENT, UUID, USER = 1, 2, 3
local parts = {}      -- literal strings and EVENT/UUID/USER markers
local run, out, sequential = 0, {}, false
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
   sequential = os.getenv("BENCH_IDS") == "sequential"
   wrk.method = "POST"
   wrk.path = "/hooks/okta"
   wrk.headers["Authorization"] = os.getenv("BENCH_SECRET")
   wrk.headers["Content-Type"] = "application/json"
   wrk.headers["Accept"] = "application/json"
end

-- murmur3's finalizer: a bijection of 32-bit numbers that scatters them
-- (exact in doubles: no product exceeds 2^53)
local function mul32(a, b)
   local alo, ahi = a % 65536, math.floor(a / 65536)
   return (alo * b + ((ahi * (b % 65536)) % 65536) * 65536) % 4294967296
end

local function fmix32(h)
   h = bit.bxor(h, bit.rshift(h, 16)) % 4294967296
   h = mul32(h, 0x85ebca6b)
   h = bit.bxor(h, bit.rshift(h, 13)) % 4294967296
   h = mul32(h, 0xc2b2ae35)
   return bit.bxor(h, bit.rshift(h, 16)) % 4294967296
end

function request()
   sent = sent + 1
   local ev, uu, us
   if sequential then
      ev = string.format('"%08x-%04x-4e7e-8000-%012d"', run % 2^31, tid, sent)
      uu = string.format('"%08x-%04x-4000-8000-%012d"', run % 2^31, tid, sent)
      us = string.format("00u%05x%02x%010d", run % 2^20, tid % 256, sent)
   else
      local h = bit.tohex(fmix32(sent), 8)
      ev = string.format('"%s-%04x-4e7e-%04x-%012d"', h, tid, run % 65536, sent)
      uu = string.format('"%s-%04x-4000-%04x-%012d"', h, tid, run % 65536, sent)
      us = string.format("00u%s%02x%07d", bit.tohex(fmix32((sent + 0x9e3779b9) % 2^32), 8),
         tid % 256, sent % 10000000)
   end
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
