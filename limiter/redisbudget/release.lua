-- Release the in-flight slots of a lease whose admission was not heard
-- back (a round trip that timed out after Redis ran it), so that they do
-- not wait for the lease to expire.
-- KEYS: model set, provider set. ARGV: lease id.
local suffix = ':' .. ARGV[1]
for _, z in ipairs(KEYS) do
  for _, m in ipairs(redis.call('ZRANGE', z, 0, -1)) do
    if string.sub(m, -#suffix) == suffix then redis.call('ZREM', z, m) end
  end
end
return 1
