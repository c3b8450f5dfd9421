-- One poll of a device authorization (RFC 8628 §3.5): slow_down when
-- sooner than the interval (which then grows by the step), else the
-- decision once, then 'used'; every poll becomes the previous one.
-- KEYS: device key. ARGV: now, slow-down step
local v = redis.call('HMGET', KEYS[1], 'd', 'dec', 'used', 'last', 'iv', 'exp')
local now = tonumber(ARGV[1])
if not v[1] or tonumber(v[6]) <= now then return {'notfound'} end
local iv = tonumber(v[5])
if v[4] and now < tonumber(v[4]) + iv then
  iv = iv + tonumber(ARGV[2])
  redis.call('HSET', KEYS[1], 'last', ARGV[1], 'iv', iv)
  return {'slow_down', tostring(iv)}
end
redis.call('HSET', KEYS[1], 'last', ARGV[1])
if v[3] then return {'used'} end
if v[2] then
  redis.call('HSET', KEYS[1], 'used', '1')
  return {'decided', v[1], v[2]}
end
return {'pending'}
