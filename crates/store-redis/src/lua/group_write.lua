-- Creates (ARGV[2] == "") or compare-and-swaps a group, moving the member
-- index with it. ARGV: prefix, expected version or "", id, new version, data,
-- member ids...
local p, expected, id, version, data = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local k = p .. 'group:' .. id
local cur = redis.call('HGET', k, 'version')
if expected == '' then
  if cur then return {'exists'} end
else
  if not cur then return {'notfound'} end
  if cur ~= expected then return {'version'} end
end
local mk = p .. 'idx:group-members:' .. id
for _, m in ipairs(redis.call('SMEMBERS', mk)) do
  redis.call('SREM', p .. 'idx:member-groups:' .. m, id)
end
redis.call('DEL', mk)
for i = 6, #ARGV do
  redis.call('SADD', mk, ARGV[i])
  redis.call('SADD', p .. 'idx:member-groups:' .. ARGV[i], id)
end
redis.call('HSET', k, 'data', data, 'version', version)
redis.call('ZADD', p .. 'idx:groups', 0, id)
return {'ok'}
