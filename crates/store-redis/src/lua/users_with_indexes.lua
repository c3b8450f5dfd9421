-- For each pair of KEYS (a user's hash, its member-groups set): the user's
-- `data` (false when missing) and the set's members. One command for a
-- page of users and their groups' ids.
local out = {}
for i = 1, #KEYS, 2 do
  out[#out + 1] = redis.call('HGET', KEYS[i], 'data')
  out[#out + 1] = redis.call('SMEMBERS', KEYS[i + 1])
end
return out
