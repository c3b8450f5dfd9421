-- Adds to a counter; an absent or expired one restarts with a fresh window.
-- KEYS: counter key. ARGV: by, ttl seconds, now. Returns {value}.
local by, ttl, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local exp = redis.call('HGET', KEYS[1], 'exp')
if not exp or tonumber(exp) <= now then
  redis.call('HSET', KEYS[1], 'value', by, 'exp', now + ttl)
  redis.call('EXPIRE', KEYS[1], math.max(ttl, 1))
  return {tostring(by)}
end
return {tostring(redis.call('HINCRBY', KEYS[1], 'value', by))}
