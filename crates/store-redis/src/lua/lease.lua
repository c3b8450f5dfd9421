-- Takes or renews a lease. KEYS: lease key. ARGV: holder, ttl, now.
local s = redis.call('HMGET', KEYS[1], 'holder', 'exp')
local ttl, now = tonumber(ARGV[2]), tonumber(ARGV[3])
if s[1] and s[1] ~= ARGV[1] and tonumber(s[2]) > now then return {'0'} end
redis.call('HSET', KEYS[1], 'holder', ARGV[1], 'exp', now + ttl)
redis.call('EXPIRE', KEYS[1], math.max(ttl, 1))
return {'1'}
