-- wrk script for bench/pos_load.py: the same requests as bench/loadgen.py, from a C load generator.
--
--   wrk -t C -c C -d 6s -s bench/loadgen.lua URL -- SCENARIO CARDS_FILE KEYS_FILE RUN_ID
--
-- One thread per connection and one POS key per thread (each client is a till). Every purchase has its
-- own external_id and every redemption its own Idempotency-Key; members are drawn at random from
-- CARDS_FILE (one card for the "-hot" scenarios). `done` prints one JSON line with the figures.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

local function lines(path)
  local values = {}
  for line in io.lines(path) do
    if line ~= "" then values[#values + 1] = line end
  end
  return values
end

function init(args)
  scenario, run_id = args[1], args[4]
  cards = lines(args[2])
  local keys = lines(args[3])
  authorization = "Api-Key " .. keys[((tid - 1) % #keys) + 1]
  math.randomseed(os.time() * 1000 + tid)
end

function request()
  counter = counter + 1
  local card = cards[math.random(#cards)]
  local sequence = run_id .. "-" .. tid .. "-" .. counter
  local headers = { ["Authorization"] = authorization, ["Content-Type"] = "application/json" }
  if scenario == "purchase" then
    local total = string.format("%.2f", math.random(100, 20000) / 100)
    local body = '{"external_id": "B-' .. sequence .. '", "member": {"card_number": "' .. card ..
      '"}, "currency": "EUR", "total": "' .. total ..
      '", "lines": [{"sku": "LATTE", "category": "coffee", "quantity": 2, "unit_price": "4.50"}]}'
    return wrk.format("POST", "/api/v1/pos/purchases/", headers, body)
  elseif scenario == "redeem" then
    headers["Idempotency-Key"] = "R-" .. sequence
    local body = '{"member": {"card_number": "' .. card .. '"}, "reward": "FREE-COFFEE"}'
    return wrk.format("POST", "/api/v1/pos/redemptions/", headers, body)
  elseif scenario == "lookup" then
    return wrk.format("GET", "/api/v1/pos/members/lookup/?card_number=" .. card, headers)
  end
  error("unknown scenario " .. tostring(scenario))
end

function done(summary, latency, requests)
  local e = summary.errors
  -- 1,000 quantiles of the distribution, for merging with other slices of the same level (--rounds)
  local quantiles = {}
  for i = 0, 999 do
    quantiles[#quantiles + 1] = string.format("%.3f", latency:percentile((i + 0.5) / 10) / 1000)
  end
  io.write(string.format(
    '{"requests": %d, "seconds": %.6f, "bad_status": %d, "socket_errors": %d, ' ..
    '"p50_ms": %.3f, "p95_ms": %.3f, "p99_ms": %.3f, "quantiles_ms": [%s]}\n',
    summary.requests, summary.duration / 1e6, e.status, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    table.concat(quantiles, ",")))
end
