-- Replaces a queued notice. KEYS: the queue, the notices. ARGV: id, due
-- time, JSON. Returns {"ok"}, or {"notfound"} if it is not queued.
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then
  return {'notfound'}
end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return {'ok'}
