-- Revokes live families: one by id (ARGV[3] = id) or all of a user
-- (ARGV[3] = "", ARGV[4] = user id), optionally only those of one browser
-- session (ARGV[5] = session id, or ""). ARGV: prefix, now, id, user, session.
-- Returns {count}.
local p, now, session = ARGV[1], tonumber(ARGV[2]), ARGV[5]
local ids
if ARGV[3] ~= '' then ids = {ARGV[3]} else ids = redis.call('SMEMBERS', p .. 'idx:user-families:' .. ARGV[4]) end
local n = 0
for _, id in ipairs(ids) do
  local fk = p .. 'family:' .. id
  local f = redis.call('HMGET', fk, 'revoked', 'exp', 'idle_exp', 'sid')
  if f[1] == '0' and tonumber(f[2]) > now and tonumber(f[3]) > now and (session == '' or f[4] == session) then
    redis.call('HSET', fk, 'revoked', '1')
    n = n + 1
  end
end
return {tostring(n)}
