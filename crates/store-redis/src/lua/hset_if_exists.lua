-- Overwrites a hash field only if the hash exists. KEYS: key. ARGV: field, value
if redis.call('EXISTS', KEYS[1]) == 0 then return {'notfound'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {'ok'}
