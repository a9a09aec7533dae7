-- wrk script of bench/bench_capacity.py: `wrk ... -s capacity.lua URL -- REQUESTS_FILE`.
--
-- REQUESTS_FILE holds the requests to send, one a line, tab-separated: method, path, API token
-- ("-" for none), body ("" for none). Each thread cycles through them from its own offset, so
-- the posts spread over every (user, chat) pair; the requests are formatted once, in init(),
-- not per request. done() prints one line, "CAPACITY_JSON {...}", the figures the bench reads:
-- requests, seconds, errors by kind and latency percentiles in microseconds.

local requests = {}
local counter = 0
local threads = {} -- main state only: the threads setup() has seen

local function split(line)
  local fields = {}
  for field in (line .. "\t"):gmatch("([^\t]*)\t") do
    fields[#fields + 1] = field
  end
  return fields
end

function setup(thread)
  thread:set("thread_id", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  local file = args[1]
  for line in io.lines(file) do
    if line ~= "" then
      local f = split(line)
      local headers = {}
      if f[3] ~= "-" then
        headers["Authorization"] = "Token " .. f[3]
      end
      local body = nil
      if f[4] ~= nil and f[4] ~= "" then
        body = f[4]
        headers["Content-Type"] = "application/json"
      end
      requests[#requests + 1] = wrk.format(f[1], f[2], headers, body)
    end
  end
  if #requests == 0 then
    error("no requests in " .. file)
  end
  -- thread_id: set by setup() in this thread's state. Threads start at different requests.
  counter = (thread_id or 0) * 7
end

function request()
  counter = counter + 1
  return requests[(counter % #requests) + 1]
end

function done(summary, latency, _)
  local e = summary.errors
  local p = {}
  for _, q in ipairs({ 50, 90, 99, 99.9 }) do
    p[#p + 1] = string.format('"%s": %d', tostring(q), latency:percentile(q))
  end
  io.write(
    string.format(
      'CAPACITY_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "errors": '
        .. '{"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, '
        .. '"latency_us": {"mean": %.1f, "max": %d, %s}}\n',
      summary.requests,
      summary.duration,
      summary.bytes,
      e.connect,
      e.read,
      e.write,
      e.status,
      e.timeout,
      latency.mean,
      latency.max,
      table.concat(p, ", ")
    )
  )
end
