-- The `data` field of each hash in KEYS, in order; false for a missing one.
-- One command instead of a pipeline of N, which the multiplexed connection
-- pays for per command.
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('HGET', key, 'data')
end
return out
