-- Deletes one session. KEYS: session key. Returns {count, user id}.
local user = redis.call('HGET', KEYS[1], 'user')
if not user then return {'0', ''} end
redis.call('DEL', KEYS[1])
return {'1', user}
