-- Settle one admitted call on its model key and its provider key.
-- KEYS: model hash, model set, provider hash, provider set.
-- ARGV: sent, done, key ttl, model member, provider member, limited (0/1),
-- retry-at, then the model's four quotas and the provider key's one, each
-- as announced (0/1), limit, remaining, reset, relative (0/1).
local sent, done, ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local mm, pm, limited, retryAt = ARGV[4], ARGV[5], ARGV[6] == '1', tonumber(ARGV[7])
local function quota(i)
  local b = 7 + 5 * (i - 1)
  return {tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2]), tonumber(ARGV[b + 3]), tonumber(ARGV[b + 4]), tonumber(ARGV[b + 5])}
end
local m = load(KEYS[1], KEYS[2], done)
settle(m, mm, sent, done, {quota(1), quota(2), quota(3), quota(4)}, retryAt, limited, true)
save(m, ttl)
local p = load(KEYS[3], KEYS[4], done)
settle(p, pm, sent, done, {quota(5)}, 0, limited, false)
save(p, ttl)
return 1
