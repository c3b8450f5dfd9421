-- Points a user code at a device authorization: if the pointer is absent,
-- or still names `expected` (an authorization found dead), it names `new`.
-- KEYS: user-code key. ARGV: new, ttl seconds, expected ('' for none)
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[3] then return {'exists'} end
if not current and ARGV[3] ~= '' then return {'exists'} end
redis.call('SET', KEYS[1], ARGV[1], 'EX', math.max(tonumber(ARGV[2]), 1))
return {'ok'}
