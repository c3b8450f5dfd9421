-- Leases up to ARGV[2] notices due at ARGV[1] (earliest first; equal due
-- times by id): each is due again at ARGV[3]. KEYS: the queue, the notices.
-- Returns their JSON in that order.
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  local data = redis.call('HGET', KEYS[2], id)
  if data then
    redis.call('ZADD', KEYS[1], ARGV[3], id)
    out[#out + 1] = data
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
