-- Removes a notice. KEYS: the queue, the notices. ARGV: id. Returns {"ok"}.
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[1], ARGV[1])
return {'ok'}
