-- Cool a model key down until ARGV[1], unless a longer cooldown runs.
-- KEYS: model hash. ARGV: end, key ttl.
local untl = tonumber(ARGV[1])
local cur = tonumber(redis.call('HGET', KEYS[1], 'cool')) or 0
if untl > cur then
  redis.call('HSET', KEYS[1], 'cool', ARGV[1])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
