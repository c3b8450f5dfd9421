-- Moves a live session's idle expiry, never past its absolute expiry.
-- KEYS: session key. ARGV: now, new idle expiry
local s = redis.call('HMGET', KEYS[1], 'idle_exp', 'exp')
local now = tonumber(ARGV[1])
if not s[1] or tonumber(s[1]) <= now or tonumber(s[2]) <= now then return {'notfound'} end
redis.call('HSET', KEYS[1], 'idle_exp', math.min(tonumber(ARGV[2]), tonumber(s[2])))
return {'ok'}
