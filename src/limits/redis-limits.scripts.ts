// Server-side scripts of the Redis limits: every limit of a call is read, decided and counted
// in one round trip, atomically. The arithmetic is gcra.ts's, in Lua; the clock is Redis's
// own (TIME), so instances whose clocks differ still agree. Lua numbers returned to Redis
// become integers, so every returned value is a whole number of units or milliseconds.

/**
 * KEYS: request counters, token counters, then the lease set (when ARGV[5] = 1), then the
 * memo (when ARGV[9] > 0).
 * ARGV: period, #requests, #tokens, token cost, has lease, lease limit, lease id, lease TTL,
 * memo TTL, then one limit per counter.
 * Returns: allowed (0/1); per counter remaining, reset ms, retry ms; then leases active, full.
 */
export const ACQUIRE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local period = tonumber(ARGV[1])
local nreq = tonumber(ARGV[2])
local n = nreq + tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local haslease = ARGV[5] == '1'
local memottl = tonumber(ARGV[9])
local tats, wanted, limits = {}, {}, {}
local allowed = true
for i = 1, n do
  local limit = tonumber(ARGV[9 + i])
  local units = 1
  if i > nreq then units = cost end
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  limits[i] = limit
  tats[i] = tat
  wanted[i] = tat + units * period / limit
  if wanted[i] - now > period + 0.001 then allowed = false end
end
local leasekey = KEYS[n + 1]
local active, full = 0, 0
if haslease then
  redis.call('ZREMRANGEBYSCORE', leasekey, '-inf', now)
  active = redis.call('ZCARD', leasekey)
  if active >= tonumber(ARGV[6]) then
    allowed = false
    full = 1
  end
end
local out = { allowed and 1 or 0 }
for i = 1, n do
  local stored = tats[i]
  if allowed then
    stored = wanted[i]
    redis.call('SET', KEYS[i], string.format('%.3f', stored), 'PX', math.ceil(stored - now) + 1000)
  end
  local per = period / limits[i]
  local remaining = math.floor((period - (stored - now)) / per + 0.000001)
  if remaining < 0 then remaining = 0 end
  if remaining > limits[i] then remaining = limits[i] end
  local retry = 0
  if wanted[i] - now > period + 0.001 then retry = math.ceil(wanted[i] - period - now) end
  out[#out + 1] = remaining
  out[#out + 1] = math.ceil(stored - now)
  out[#out + 1] = retry
end
if haslease then
  if allowed then
    local ttl = tonumber(ARGV[8])
    redis.call('ZADD', leasekey, now + ttl, ARGV[7])
    redis.call('PEXPIRE', leasekey, ttl + 1000)
    active = active + 1
  end
  out[#out + 1] = active
  out[#out + 1] = full
end
if allowed and memottl > 0 and cost > 0 then
  redis.call('SET', KEYS[#KEYS], cost, 'PX', memottl)
end
return out
`;

/**
 * KEYS: token counters, then the lease set (when ARGV[5] = 1), then the memo (when ARGV[7] = 1).
 * ARGV: period, #tokens, used tokens, reserved fallback, has lease, lease id ('' for the
 * oldest), has memo, then one limit per counter.
 */
export const RELEASE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local period = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local reserved = tonumber(ARGV[4])
if ARGV[7] == '1' then
  local memo = redis.call('GET', KEYS[#KEYS])
  if memo then
    reserved = tonumber(memo)
    redis.call('DEL', KEYS[#KEYS])
  end
end
local delta = tonumber(ARGV[3]) - reserved
if delta ~= 0 then
  for i = 1, n do
    local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
    if tat < now then tat = now end
    tat = tat + delta * period / tonumber(ARGV[7 + i])
    if tat > now then
      redis.call('SET', KEYS[i], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1000)
    else
      redis.call('DEL', KEYS[i])
    end
  end
end
if ARGV[5] == '1' then
  local leasekey = KEYS[n + 1]
  redis.call('ZREMRANGEBYSCORE', leasekey, '-inf', now)
  local removed = 0
  if ARGV[6] ~= '' then removed = redis.call('ZREM', leasekey, ARGV[6]) end
  if removed == 0 then redis.call('ZPOPMIN', leasekey) end
end
return 1
`;
