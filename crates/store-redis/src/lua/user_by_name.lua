-- A user's record by userName key, in one round trip. ARGV: prefix, key
local id = redis.call('GET', ARGV[1] .. 'idx:username:' .. ARGV[2])
if not id then return nil end
return redis.call('HGET', ARGV[1] .. 'user:' .. id, 'data')
