-- Marks a code used; exactly one caller ever sees "fresh".
-- KEYS: code key. ARGV: now
local v = redis.call('HMGET', KEYS[1], 'data', 'used', 'exp')
if not v[1] or tonumber(v[3]) <= tonumber(ARGV[1]) then return {'notfound'} end
if v[2] == '1' then return {'used', v[1]} end
redis.call('HSET', KEYS[1], 'used', '1')
return {'fresh', v[1]}
