-- Admit one call, in one step, against its model key, its provider key
-- and, when the key's models share their budgets, the key's pool.
-- KEYS: model hash, model set, provider hash, provider set, pool hash,
-- pool set.
-- ARGV: now, lease expiry, key ttl, in-flight cap (0: none), lease id,
-- the call's cost of each resource (4 numbers), pooled (0/1: the replica
-- has learned that the key's models share their budgets).
-- Returns {1, model member, provider member, pool member ("": not pooled)}
-- when admitted; {2, end} while the model cools down; {0, until,
-- in_flight} when held back (until 0: until another call ends).
local now, expiry, ttl, cap, lease = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local cost = {tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])}
local shared = {1, 0, 0, 0}
local m = load(KEYS[1], KEYS[2], now)
if m.cool > now then return {2, m.cool} end
local p = load(KEYS[3], KEYS[4], now)
if cap > 0 and #p.out >= cap then return {0, 0, 1} end
-- The scope a replica learned is stored with the provider key: once one
-- replica pools the key's calls, every replica does.
local pooled = ARGV[10] == '1' or p.pooled == 1
local k
local okK, probeK, untilK = true, false, 0
if pooled then
  k = load(KEYS[5], KEYS[6], now)
  okK, probeK, untilK = check(k, now, cost)
end
local okM, probeM, untilM = check(m, now, cost)
local okP, probeP, untilP = check(p, now, shared)
if not (okM and okP and okK) then
  if m.dirty then save(m, ttl) end
  if p.dirty then save(p, ttl) end
  if pooled and k.dirty then save(k, ttl) end
  return {0, later(later(untilM, untilP), untilK), 0}
end
local mm = take(m, cost, probeM, lease, expiry)
local pm = take(p, shared, probeP, lease, expiry)
local km = ''
if pooled then km = take(k, cost, probeK, lease, expiry) end
save(m, ttl)
save(p, ttl)
if pooled then save(k, ttl) end
return {1, mm, pm, km}
