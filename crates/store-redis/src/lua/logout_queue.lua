-- Queues logout notices. KEYS: the queue (sorted by due time), the notices
-- (a hash, id -> JSON). ARGV: (id, due time, JSON) triples. A notice whose
-- id is queued already stays as it is. Returns {"ok"}.
for i = 1, #ARGV, 3 do
  if redis.call('HSETNX', KEYS[2], ARGV[i], ARGV[i + 2]) == 1 then
    redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i])
  end
end
return {'ok'}
