-- Aggregators polling feeds, for wrk (bench/writes.py runs it).
--   wrk -t48 -c48 -s bench/poll.lua URL -- LISTFILE
-- One connection per thread, so each thread is one client and a response
-- belongs to the request before it. LISTFILE has "path<TAB>etag" lines (the
-- gzip ETags seen while warming). Every client asks gzip and walks the list
-- from its own offset; odd-numbered clients are conditional: they send the
-- ETag they last saw for that path and keep the new one from each 200,
-- as a feed reader does.

local counter = 0
local threads = {}

function setup(thread)
   thread:set("id", counter)
   counter = counter + 1
   table.insert(threads, thread)
end

function init(args)
   paths, etags = {}, {}
   for line in io.lines(args[1]) do
      local p, e = line:match("^([^\t]+)\t?(.*)$")
      if p then
         table.insert(paths, p)
         if e ~= "" then etags[p] = e end
      end
   end
   conditional = (id % 2 == 1)
   pos = (id * 7919) % #paths
   current = nil
   non200 = 0
end

function request()
   pos = pos % #paths + 1
   current = paths[pos]
   local h = { ["Accept-Encoding"] = "gzip" }
   if conditional and etags[current] then
      h["If-None-Match"] = etags[current]
   end
   return wrk.format("GET", current, h)
end

function response(status, headers, body)
   if status == 200 then
      if conditional then
         local e = headers["etag"] or headers["ETag"]
         if e then etags[current] = e end
      end
   elseif status ~= 304 then
      non200 = non200 + 1
   end
end

function done(summary, latency, requests)
   local bad = 0
   for _, t in ipairs(threads) do
      bad = bad + (t:get("non200") or 0)
   end
   io.write(string.format("POLL requests=%d duration_us=%d p50_us=%d p99_us=%d max_us=%d errors=%d bad_status=%d\n",
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
      latency.max, summary.errors.connect + summary.errors.read + summary.errors.write
      + summary.errors.timeout + summary.errors.status, bad))
end
