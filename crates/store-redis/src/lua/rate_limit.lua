-- GCRA, as store::limits::gcra. KEYS: the key. ARGV: now (ms), interval (ms),
-- burst, cost (requests taken at once, all or none). Returns {"1", "0"} when admitted, {"0", retry_after_ms} when not.
-- The stored TAT carries its own expiry (ms, store clock); the Redis TTL
-- only collects it.
local now, interval, burst, cost =
  tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if cost < 1 then cost = 1 end
if interval < 1 then interval = 1 end
if burst < 1 then burst = 1 end
local cur = redis.call('HMGET', KEYS[1], 'tat', 'exp')
local tat = now
if cur[1] and tonumber(cur[2]) > now then tat = math.max(tonumber(cur[1]), now) end
local new_tat = tat + interval * cost
local allow_at = new_tat - interval * burst
if now < allow_at then return {'0', tostring(allow_at - now)} end
redis.call('HSET', KEYS[1], 'tat', new_tat, 'exp', new_tat)
redis.call('PEXPIRE', KEYS[1], math.max(new_tat - now, 1) + 1000)
return {'1', '0'}
