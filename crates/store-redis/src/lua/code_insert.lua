-- Stores a code unless a live one has the same hash.
-- KEYS: code key. ARGV: data, expires_at, now
local exp = redis.call('HGET', KEYS[1], 'exp')
local now = tonumber(ARGV[3])
if exp and tonumber(exp) > now then return {'exists'} end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'used', '0', 'exp', ARGV[2])
redis.call('EXPIRE', KEYS[1], math.max(tonumber(ARGV[2]) - now, 1))
return {'ok'}
