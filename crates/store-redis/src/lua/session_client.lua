-- Records a session's client. KEYS: the user's session clients (a hash,
-- "sid\nclient" -> expiry). ARGV: field, expiry, now (the store's clock).
-- Keeps the later expiry, and the key lives as long as its longest entry.
-- Returns {"ok"}.
local expires = tonumber(ARGV[2])
local left = expires - tonumber(ARGV[3])
if left <= 0 then
  return {'ok'}
end
local old = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if expires > old then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
if redis.call('TTL', KEYS[1]) < left then
  redis.call('EXPIRE', KEYS[1], left)
end
return {'ok'}
