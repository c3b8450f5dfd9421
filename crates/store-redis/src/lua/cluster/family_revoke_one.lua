-- Revokes one live family, optionally only if it belongs to a browser
-- session. KEYS: family key. ARGV: now, session id or "". Returns {count}.
local f = redis.call('HMGET', KEYS[1], 'revoked', 'exp', 'idle_exp', 'sid')
local now = tonumber(ARGV[1])
if f[1] == '0' and tonumber(f[2]) > now and tonumber(f[3]) > now and (ARGV[2] == '' or f[4] == ARGV[2]) then
  redis.call('HSET', KEYS[1], 'revoked', '1')
  return {'1'}
end
return {'0'}
