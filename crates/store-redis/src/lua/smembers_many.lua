-- The members of each set in KEYS, in order (an empty list for a missing one).
local out = {}
for i, key in ipairs(KEYS) do
  out[i] = redis.call('SMEMBERS', key)
end
return out
