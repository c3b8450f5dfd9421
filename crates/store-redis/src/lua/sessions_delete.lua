-- Deletes one session (ARGV[2] = id hash) or all of a user (ARGV[2] = "",
-- ARGV[3] = user id). ARGV: prefix, id hash, user. Returns {count}.
local p = ARGV[1]
local n = 0
if ARGV[2] ~= '' then
  local k = p .. 'session:' .. ARGV[2]
  local user = redis.call('HGET', k, 'user')
  if user then
    n = redis.call('DEL', k)
    redis.call('SREM', p .. 'idx:user-sessions:' .. user, ARGV[2])
  end
else
  local uk = p .. 'idx:user-sessions:' .. ARGV[3]
  for _, h in ipairs(redis.call('SMEMBERS', uk)) do
    n = n + redis.call('DEL', p .. 'session:' .. h)
  end
  redis.call('DEL', uk)
end
return {tostring(n)}
