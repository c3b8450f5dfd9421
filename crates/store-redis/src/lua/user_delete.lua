-- Deletes a user and its indexes. ARGV: prefix, id
local p, id = ARGV[1], ARGV[2]
local k = p .. 'user:' .. id
local cur = redis.call('HMGET', k, 'name', 'ext', 'emails')
if not cur[1] then return {'notfound'} end
redis.call('DEL', k, p .. 'idx:username:' .. cur[1])
if cur[2] ~= '' then redis.call('SREM', p .. 'idx:user-external:' .. cur[2], id) end
if cur[3] then
  for _, old in ipairs(cjson.decode(cur[3])) do
    redis.call('SREM', p .. 'idx:user-email:' .. old, id)
  end
end
redis.call('ZREM', p .. 'idx:users', id)
return {'ok'}
