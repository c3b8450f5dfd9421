-- The live family whose current token is the presented one.
-- ARGV: prefix, token hash, now. Returns {'ok', data, rotated_at, idle_exp, revoked}.
local p, hash, now = ARGV[1], ARGV[2], tonumber(ARGV[3])
local fid = redis.call('GET', p .. 'token:' .. hash)
if not fid then return {'notfound'} end
local f = redis.call('HMGET', p .. 'family:' .. fid, 'current', 'idle_exp', 'exp', 'revoked', 'data', 'rotated_at')
if not f[1] or f[1] ~= hash or f[4] == '1' or tonumber(f[3]) <= now or tonumber(f[2]) <= now then
  return {'notfound'}
end
return {'ok', f[5], f[6], f[2], f[4]}
