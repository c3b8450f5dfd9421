-- Starts a refresh-token family record alone (its token pointer is written
-- first, in its own slot). KEYS: family key.
-- ARGV: data, current hash, rotated_at, idle_exp, exp, now, session id or "".
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
redis.call('HSET', KEYS[1], 'data', ARGV[1], 'current', ARGV[2], 'previous', '',
  'rotated_at', ARGV[3], 'idle_exp', ARGV[4], 'exp', ARGV[5], 'revoked', '0', 'sid', ARGV[7])
redis.call('EXPIRE', KEYS[1], math.max(tonumber(ARGV[5]) - tonumber(ARGV[6]), 1))
return {'ok'}
