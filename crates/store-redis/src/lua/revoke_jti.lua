-- Records a revoked token id until the later of its stored and new expiry.
-- KEYS: revoked key. ARGV: expires_at, now
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
local exp, now = tonumber(ARGV[1]), tonumber(ARGV[2])
if exp > cur then redis.call('SET', KEYS[1], ARGV[1], 'EX', math.max(exp - now, 1)) end
return {'ok'}
