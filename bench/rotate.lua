-- wrk script: one request per line of an input file, each line used exactly once, then stop.
--
--   wrk -t T -c C -d 300s --latency -s bench/rotate.lua URL -- MODE INPUT OUTDIR T TAG
--
-- MODE login: each line is a username; POST /api/auth/login with MEMBER password (env
--   BENCH_MEMBER_PASS is not visible to wrk, so the password is the 6th argument); the access
--   token of each 200 is written to OUTDIR/tokens.<thread>.
-- MODE pay: each line is an access token; POST /api/payments/pay, fee 20, a Bitpin payment id
--   unique per line and TAG.
-- Lines are split between the T threads (line i goes to thread i mod T). A connection asks
-- delay() before each request; when its thread's lines are all taken it parks (a long delay),
-- so no request beyond the input is sent. When a thread has every answer it writes
-- OUTDIR/done.<thread> (bench/run.sh then stops wrk with SIGINT) and stops. done() prints one
-- JSON line: requests, status counts, first-request and last-answer wall times, latency
-- percentiles (microseconds).

local threads = {}
local next_id = 0

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local function wall()
  local p = io.popen("date +%s.%N")
  local t = tonumber(p:read("*l"))
  p:close()
  return t
end

function init(args)
  mode, input, outdir, nthreads, tag = args[1], args[2], args[3], tonumber(args[4]), args[5]
  password = args[6] or ""
  mine = {}
  local i = 0
  for line in io.lines(input) do
    if line ~= "" then
      if i % nthreads == tid then table.insert(mine, line) end
      i = i + 1
    end
  end
  reserved, sent, answered = 0, 0, 0
  ok, status_other, status_401, status_409, status_5xx = 0, 0, 0, 0, 0
  started, finished = 0, 0
  if mode == "login" then
    token_file = io.open(outdir .. "/tokens." .. tid, "w")
  end
end

function delay()
  if reserved < #mine then
    reserved = reserved + 1
    return 0
  end
  return 3600000 -- parked until the thread stops
end

function request()
  if sent >= reserved then
    -- wrk calls request() once on thread 0 before the run to check the script (no delay()
    -- before it, nothing is sent): answer without taking a line.
    return wrk.format("GET", "/healthz")
  end
  sent = sent + 1
  if started == 0 then started = wall() end
  local line = mine[sent]
  if mode == "login" then
    return wrk.format("POST", "/api/auth/login", { ["Content-Type"] = "application/json" },
      '{"username":"' .. line .. '","password":"' .. password .. '"}')
  end
  return wrk.format("POST", "/api/payments/pay",
    { ["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. line },
    '{"membership_fee":"20","bitpin_payment_id":"bench-' .. tag .. '-' .. tid .. '-' .. sent .. '"}')
end

function response(status, headers, body)
  answered = answered + 1
  if status == 200 or status == 201 then
    ok = ok + 1
    if mode == "login" then
      local token = string.match(body, '"access_token"%s*:%s*"([^"]+)"')
      if token then token_file:write(token, "\n") end
    end
  elseif status == 401 then status_401 = status_401 + 1
  elseif status == 409 then status_409 = status_409 + 1
  elseif status >= 500 then status_5xx = status_5xx + 1
  else status_other = status_other + 1 end
  if answered >= #mine then
    finished = wall()
    if token_file then token_file:close(); token_file = nil end
    local f = io.open(outdir .. "/done." .. tid, "w")
    f:write(finished, "\n")
    f:close()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local t = { answered = 0, ok = 0, s401 = 0, s409 = 0, s5xx = 0, other = 0, first = nil, last = 0 }
  for _, th in ipairs(threads) do
    t.answered = t.answered + th:get("answered")
    t.ok = t.ok + th:get("ok")
    t.s401 = t.s401 + th:get("status_401")
    t.s409 = t.s409 + th:get("status_409")
    t.s5xx = t.s5xx + th:get("status_5xx")
    t.other = t.other + th:get("status_other")
    local s, f = th:get("started"), th:get("finished")
    if s and s > 0 and (t.first == nil or s < t.first) then t.first = s end
    if f and f > t.last then t.last = f end
  end
  io.write(string.format(
    '{"answered":%d,"ok":%d,"s401":%d,"s409":%d,"s5xx":%d,"other":%d,"first":%.6f,"last":%.6f,' ..
    '"wrk_requests":%d,"socket_errors":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    t.answered, t.ok, t.s401, t.s409, t.s5xx, t.other, t.first or 0, t.last,
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
