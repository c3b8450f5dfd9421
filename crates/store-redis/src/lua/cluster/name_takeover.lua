-- Takes over a stale reservation, only if it is still the one seen.
-- KEYS: the name key. ARGV: the value seen, the new value.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {'unique'} end
redis.call('SET', KEYS[1], ARGV[2])
return {'ok'}
