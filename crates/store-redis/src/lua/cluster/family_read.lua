-- The live family whose current token is the presented one.
-- KEYS: family key. ARGV: token hash, now.
-- Returns {'ok', data, rotated_at, idle_exp, revoked} or {'notfound'}.
local hash, now = ARGV[1], tonumber(ARGV[2])
local f = redis.call('HMGET', KEYS[1], 'current', 'idle_exp', 'exp', 'revoked', 'data', 'rotated_at')
if not f[1] or f[1] ~= hash or f[4] == '1' or tonumber(f[3]) <= now or tonumber(f[2]) <= now then
  return {'notfound'}
end
return {'ok', f[5], f[6], f[2], f[4]}
