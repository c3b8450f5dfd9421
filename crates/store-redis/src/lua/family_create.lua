-- Starts a refresh-token family. ARGV: prefix, family id, token hash, user id
-- or "", data, rotated_at, idle_exp, exp, now, session id or ""
local p, id, hash, user = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local fk, tk = p .. 'family:' .. id, p .. 'token:' .. hash
if redis.call('EXISTS', fk) == 1 or redis.call('EXISTS', tk) == 1 then return {'exists'} end
local ttl = math.max(tonumber(ARGV[8]) - tonumber(ARGV[9]), 1)
redis.call('HSET', fk, 'data', ARGV[5], 'current', hash, 'previous', '', 'rotated_at', ARGV[6],
  'idle_exp', ARGV[7], 'exp', ARGV[8], 'revoked', '0', 'sid', ARGV[10])
redis.call('EXPIRE', fk, ttl)
redis.call('SET', tk, id, 'EX', ttl)
if user ~= '' then
  local uk = p .. 'idx:user-families:' .. user
  redis.call('SADD', uk, id)
  if redis.call('TTL', uk) < ttl then redis.call('EXPIRE', uk, ttl) end
end
return {'ok'}
