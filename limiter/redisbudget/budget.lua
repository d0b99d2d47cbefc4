-- The budget of one scope (a model key or a provider key), as package
-- limiter keeps it in memory (budget.go), ported to Redis so that every
-- replica admits calls against the same state. Times are milliseconds of
-- the Unix epoch; 0 means unknown.
--
-- A scope is a hash and a sorted set. The hash holds the windows w1..w4
-- (one per resource: requests, tokens, input tokens, output tokens), each a
-- string of numbers (see WF), and retry (the Retry-After pause), seq (the
-- last number given to an admitted call), probe (the member of the call
-- out to learn an unknown reset, or "") and cool (the end of a cooldown);
-- a provider key's hash also holds pooled, 1 once a replica has learned
-- that the key's models share the budgets they announce per model, whose
-- pool is then a scope of its own, and skew and skewAt, the provider's
-- clock offset learned from its Date headers and when.
-- The sorted set holds the calls in flight, scored by the expiry of their
-- lease; a member is "seq:c1:c2:c3:c4:lease", the call's number, its cost
-- of each resource and its lease id.

local R = 4
-- The fields of a window, in the order they are stored: known, limit,
-- count, reported, least, by, lo, hi, prevLo, prevHi, period, and the
-- current and previous resets as the provider announced them, before the
-- correction by its clock offset (rh, rph): the period is learned from
-- those, so that a better offset learned between two resets does not
-- shorten it.
local WF = {'k', 'l', 'c', 'rep', 'q', 'b', 'lo', 'hi', 'pl', 'ph', 'p', 'rh', 'rph'}

local function later(a, b)
  if b > a then return b end
  return a
end

local function parseMember(m)
  local f = {}
  for part in string.gmatch(m, '[^:]+') do
    f[#f + 1] = part
    if #f == 5 then break end
  end
  return {m = m, seq = tonumber(f[1]) or 0,
          c = {tonumber(f[2]) or 0, tonumber(f[3]) or 0, tonumber(f[4]) or 0, tonumber(f[5]) or 0}}
end

-- load reads a scope, dropping the leases that expired before now.
local function load(hkey, zkey, now)
  redis.call('ZREMRANGEBYSCORE', zkey, '-inf', '(' .. string.format('%.0f', now))
  local st = {h = hkey, z = zkey, w = {}, out = {}, retry = 0, seq = 0, probe = '', cool = 0, pooled = 0}
  local flat = redis.call('HGETALL', hkey)
  local raw = {}
  for i = 1, #flat, 2 do raw[flat[i]] = flat[i + 1] end
  for r = 1, R do
    local w = {}
    local i = 1
    for v in string.gmatch(raw['w' .. r] or '', '%S+') do
      w[WF[i]] = tonumber(v) or 0
      i = i + 1
    end
    for _, f in ipairs(WF) do
      if w[f] == nil then w[f] = 0 end
    end
    st.w[r] = w
  end
  st.retry = tonumber(raw.retry) or 0
  st.seq = tonumber(raw.seq) or 0
  st.cool = tonumber(raw.cool) or 0
  st.probe = raw.probe or ''
  st.pooled = tonumber(raw.pooled) or 0
  st.skew = tonumber(raw.skew) or 0
  st.skewAt = tonumber(raw.skewAt) or 0
  local probing = false
  for _, m in ipairs(redis.call('ZRANGE', zkey, 0, -1)) do
    st.out[#st.out + 1] = parseMember(m)
    if m == st.probe then probing = true end
  end
  -- A probe whose lease expired learns nothing any more.
  if not probing then st.probe = '' end
  return st
end

local function save(st, ttl)
  local args = {}
  for r = 1, R do
    local vals = {}
    for i, f in ipairs(WF) do vals[i] = string.format('%.0f', st.w[r][f]) end
    args[#args + 1] = 'w' .. r
    args[#args + 1] = table.concat(vals, ' ')
  end
  redis.call('HSET', st.h, 'retry', string.format('%.0f', st.retry), 'seq', string.format('%.0f', st.seq),
    'probe', st.probe, 'cool', string.format('%.0f', st.cool), 'pooled', string.format('%.0f', st.pooled),
    'skew', string.format('%.0f', st.skew), 'skewAt', string.format('%.0f', st.skewAt), unpack(args))
  redis.call('PEXPIRE', st.h, ttl)
  if #st.out > 0 then redis.call('PEXPIRE', st.z, ttl) end
end

-- after is what the calls admitted after seq and still in flight may take
-- of resource r.
local function after(st, r, seq)
  local n = 0
  for _, o in ipairs(st.out) do
    if o.seq > seq then n = n + o.c[r] end
  end
  return n
end

-- left is the estimate of what is left of resource r.
local function left(st, r)
  local w = st.w[r]
  if w.rep == 0 then return w.c end
  return math.max(math.min(w.c, w.q - after(st, r, w.b)), 0)
end

-- learnSkew learns the provider's clock offset from a Date header, date,
-- on an answer received at done: its clock is at least date-done ahead of
-- ours. The highest bound is kept, for at most a minute after which a new
-- one replaces it (budget.learnSkew).
local function learnSkew(st, date, done)
  if date == 0 then return end
  local low = date - done
  if st.skewAt == 0 or low > st.skew or done - st.skewAt > 60000 then
    st.skew, st.skewAt = low, done
  end
end

-- toLocal converts a reset announced as a time of the provider's clock to
-- ours, with a 5 ms guard (budget.local); q[6] keeps it as announced.
local function toLocal(st, q)
  q[6] = q[4]
  if st.skewAt ~= 0 and q[1] == 1 and q[5] == 0 and q[4] ~= 0 then
    q[4] = q[4] - st.skew + 5
  end
  return q
end

-- roll opens the next window once the reset of the current one passed;
-- it reports whether it did.
local function roll(w, now, outstanding)
  if w.k == 0 or w.hi == 0 or now < w.hi then return false end
  w.pl, w.ph, w.rph = w.lo, w.hi, w.rh
  w.rep = 0
  if w.l == 0 then
    w.k, w.lo, w.hi, w.rh = 0, 0, 0, 0
    return true
  end
  w.c = math.max(w.l - outstanding, 0)
  if w.p <= 0 then
    w.lo, w.hi, w.rh = 0, 0, 0
    return true
  end
  local k = math.floor((now - w.hi) / w.p) + 1
  w.lo, w.hi, w.rh = w.lo + k * w.p, w.hi + k * w.p, w.rh + k * w.p
  return true
end

-- observe applies the announcement of call seq, sent at sent: rem left,
-- the reset in [lo, hi] (raw as announced); learn is true for a
-- rate-limit rejection. The period is learned only from a call sent in
-- the first half of the time since the last reset, so that windows in
-- which no call was rejected are not taken for one longer window.
local function observe(w, now, sent, lo, hi, raw, limit, rem, seq, aft, learn)
  -- A delay answered late may speak of the window that passed although it
  -- ends after it.
  if not (hi > now) or (w.ph ~= 0 and not (lo > w.ph)) then return end
  if w.k == 1 and w.hi == 0 then
    if learn and lo == hi and w.pl == w.ph and w.rph ~= 0 and raw > w.rph and 2 * (sent - w.ph) < raw - w.rph then
      local p = raw - w.rph
      if w.p == 0 or p < w.p then w.p = p end
    end
    w.lo, w.hi, w.rh = lo, hi, raw
    w.rep, w.q, w.b = 1, rem, seq
  elseif w.k == 0 or lo > w.hi then
    w.k, w.lo, w.hi, w.rh = 1, lo, hi, raw
    w.rep, w.q, w.b = 1, rem, seq
    w.c = math.max(rem - aft, 0)
  elseif hi < w.lo then
    return
  else
    if w.rep == 0 or rem < w.q or (rem == w.q and seq > w.b) then
      w.rep, w.q, w.b = 1, rem, seq
    end
    w.lo, w.hi, w.rh = later(w.lo, lo), later(w.hi, hi), later(w.rh, raw)
  end
  if limit > 0 then w.l = limit end
end

-- check decides whether a call costing c may go at now: ok, probe, and
-- the time to wait until (0: until another call ends).
local function check(st, now, c)
  if now < st.retry then return false, false, st.retry end
  local untl, wait, probe = 0, false, false
  for r = 1, R do
    local w = st.w[r]
    if roll(w, now, after(st, r, 0)) then st.dirty = true end
    local need = c[r]
    if need > 0 and w.k == 1 then
      if w.l > 0 then need = math.min(need, w.l) end
      if left(st, r) >= need then
      elseif w.hi ~= 0 then untl = later(untl, w.hi)
      elseif #st.out > 0 then wait = true
      else probe = true end
    end
  end
  if untl ~= 0 then return false, false, untl end
  if wait or (probe and st.probe ~= '') then return false, false, 0 end
  return true, probe, 0
end

-- take books an admitted call and returns its member.
local function take(st, c, probe, lease, expiry)
  for r = 1, R do
    local w = st.w[r]
    if w.k == 1 then w.c = math.max(w.c - c[r], 0) end
  end
  st.seq = st.seq + 1
  local m = string.format('%.0f:%.0f:%.0f:%.0f:%.0f:%s', st.seq, c[1], c[2], c[3], c[4], lease)
  redis.call('ZADD', st.z, expiry, m)
  st.out[#st.out + 1] = parseMember(m)
  if probe then st.probe = m end
  return m
end

-- settle books the end of the call member, answered at done, sent at
-- sent, with the announced quotas q[r] = {announced, limit, remaining,
-- reset, relative} and Retry-After time retryAt.
local function settle(st, member, sent, done, q, retryAt, limited, empty)
  redis.call('ZREM', st.z, member)
  for i, o in ipairs(st.out) do
    if o.m == member then table.remove(st.out, i) break end
  end
  if st.probe == member then st.probe = '' end
  st.retry = later(st.retry, retryAt)
  local seq = parseMember(member).seq
  local announced = false
  for r = 1, #q do
    local a = q[r]
    if a[1] == 1 and a[4] ~= 0 then
      if r == 1 then announced = true end
      local lo = a[4]
      if a[5] == 1 then lo = lo - (done - sent) end
      observe(st.w[r], done, sent, lo, a[4], a[6] or a[4], a[2], a[3], seq, after(st, r, seq), limited)
    end
  end
  if limited and empty and not announced and retryAt == 0 then
    local w = st.w[1]
    if w.k == 1 and w.hi > done then w.c = 0 end
  end
end

-- seed opens the windows of a new scope from the quotas q announced to a
-- call sent at sent and answered at done, calls that may take aft of the
-- requests being in flight.
local function seed(st, sent, done, q, retryAt, aft)
  st.retry = later(st.retry, retryAt)
  for r = 1, #q do
    local a = q[r]
    if a[1] == 1 and a[4] ~= 0 then
      local lo = a[4]
      if a[5] == 1 then lo = lo - (done - sent) end
      local n = 0
      if r == 1 then n = aft end
      observe(st.w[r], done, sent, lo, a[4], a[6] or a[4], a[2], a[3], 0, n, false)
    end
  end
end
