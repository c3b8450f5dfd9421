-- Records the decision on a live, undecided device authorization whose
-- user code is the one given; once.
-- KEYS: device key. ARGV: decision, user code hash, now
local v = redis.call('HMGET', KEYS[1], 'u', 'dec', 'exp')
if not v[1] or v[1] ~= ARGV[2] or v[2] or tonumber(v[3]) <= tonumber(ARGV[3]) then
  return {'notfound'}
end
redis.call('HSET', KEYS[1], 'dec', ARGV[1])
return {'ok'}
