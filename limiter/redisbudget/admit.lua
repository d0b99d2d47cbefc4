-- Admit one call, in one step, against its model key and its provider key.
-- KEYS: model hash, model set, provider hash, provider set.
-- ARGV: now, lease expiry, key ttl, in-flight cap (0: none), lease id,
-- the call's cost of each resource (4 numbers).
-- Returns {1, model member, provider member} when admitted; {2, end} while
-- the model cools down; {0, until, in_flight} when held back (until 0:
-- until another call ends).
local now, expiry, ttl, cap, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local cost = {tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])}
local shared = {1, 0, 0, 0}
local m = load(KEYS[1], KEYS[2], now)
if m.cool > now then return {2, m.cool} end
local p = load(KEYS[3], KEYS[4], now)
if cap > 0 and #p.out >= cap then return {0, 0, 1} end
local okM, probeM, untilM = check(m, now, cost)
local okP, probeP, untilP = check(p, now, shared)
if not (okM and okP) then
  save(m, ttl)
  save(p, ttl)
  return {0, later(untilM, untilP), 0}
end
local mm = take(m, cost, probeM, lease, expiry)
local pm = take(p, shared, probeP, lease, expiry)
save(m, ttl)
save(p, ttl)
return {1, mm, pm}
