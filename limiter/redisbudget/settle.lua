-- Settle one admitted call on its model key, its provider key and, when
-- it was pooled or its answer revealed the pool, the key's pool.
-- KEYS: model hash, model set, provider hash, provider set, pool hash,
-- pool set.
-- ARGV: sent, done, key ttl, model member, provider member, limited (0/1),
-- retry-at, then the model's four quotas and the provider key's one, each
-- as announced (0/1), limit, remaining, reset, relative (0/1); then the
-- pool member ("" when not pooled), the pool's retry-at, and the scope the
-- answer made the replica learn (0: none, 1: per key, 2: per model), and
-- the provider's Date (0: none). Resets are as the provider announced
-- them; they are corrected here by the clock offset the provider key has
-- learned from every replica's Date headers.
local sent, done, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local mm, pm, limited, retryAt = ARGV[4], ARGV[5], ARGV[6] == '1', tonumber(ARGV[7])
local p = load(KEYS[3], KEYS[4], done)
learnSkew(p, tonumber(ARGV[36]), done)
local function quota(i)
  local b = 7 + 5 * (i - 1)
  return toLocal(p, {tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5])})
end
local km, poolRetryAt, scope = ARGV[33], tonumber(ARGV[34]), tonumber(ARGV[35])
local quotas = {quota(1), quota(2), quota(3), quota(4)}
local m = load(KEYS[1], KEYS[2], done)
settle(m, mm, sent, done, quotas, retryAt, limited, true)
save(m, ttl)
settle(p, pm, sent, done, {quota(5)}, 0, limited, false)
if scope == 1 then p.pooled = 1 elseif scope == 2 then p.pooled = 0 end
save(p, ttl)
if km ~= '' or scope == 1 then
  local k = load(KEYS[5], KEYS[6], done)
  if km ~= '' then settle(k, km, sent, done, quotas, poolRetryAt, limited, true) end
  -- The pool opens from the answer that revealed it, less every call of
  -- the key in flight.
  if scope == 1 then seed(k, sent, done, quotas, poolRetryAt, after(p, 1, 0)) end
  save(k, ttl)
end
return 1
