-- Stores a device authorization unless a live one has the same key.
-- KEYS: device key. ARGV: data, user code hash, interval, expires_at, now
local exp = redis.call('HGET', KEYS[1], 'exp')
local now = tonumber(ARGV[5])
if exp and tonumber(exp) > now then return {'exists'} end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'd', ARGV[1], 'u', ARGV[2], 'iv', ARGV[3], 'exp', ARGV[4])
redis.call('EXPIRE', KEYS[1], math.max(tonumber(ARGV[4]) - now, 1))
return {'ok'}
