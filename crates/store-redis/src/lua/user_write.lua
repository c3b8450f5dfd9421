-- Creates (ARGV[2] == "") or compare-and-swaps a user and its indexes.
-- ARGV: prefix, expected version or "", id, userName key, externalId or "",
--       new version, data, then the user's email keys (one per argument)
local p, expected, id, name, ext, version, data =
  ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local k = p .. 'user:' .. id
local cur = redis.call('HMGET', k, 'version', 'name', 'ext', 'emails')
if expected == '' then
  if cur[1] then return {'exists'} end
else
  if not cur[1] then return {'notfound'} end
  if cur[1] ~= expected then return {'version'} end
end
local owner = redis.call('GET', p .. 'idx:username:' .. name)
if owner and owner ~= id then return {'unique'} end
if cur[2] and cur[2] ~= name then redis.call('DEL', p .. 'idx:username:' .. cur[2]) end
redis.call('SET', p .. 'idx:username:' .. name, id)
if cur[3] and cur[3] ~= '' and cur[3] ~= ext then redis.call('SREM', p .. 'idx:user-external:' .. cur[3], id) end
if ext ~= '' then redis.call('SADD', p .. 'idx:user-external:' .. ext, id) end
if cur[4] then
  for _, old in ipairs(cjson.decode(cur[4])) do
    redis.call('SREM', p .. 'idx:user-email:' .. old, id)
  end
end
local emails = {}
for i = 8, #ARGV do
  emails[#emails + 1] = ARGV[i]
  redis.call('SADD', p .. 'idx:user-email:' .. ARGV[i], id)
end
-- An empty Lua table encodes as {}, which decodes back to an empty table.
redis.call('HSET', k, 'data', data, 'version', version, 'name', name, 'ext', ext,
  'emails', cjson.encode(emails))
redis.call('ZADD', p .. 'idx:users', 0, id)
return {'ok'}
