-- Deletes a group and its member index. ARGV: prefix, id
local p, id = ARGV[1], ARGV[2]
local k = p .. 'group:' .. id
if redis.call('EXISTS', k) == 0 then return {'notfound'} end
local mk = p .. 'idx:group-members:' .. id
for _, m in ipairs(redis.call('SMEMBERS', mk)) do
  redis.call('SREM', p .. 'idx:member-groups:' .. m, id)
end
redis.call('DEL', k, mk)
redis.call('ZREM', p .. 'idx:groups', id)
return {'ok'}
