-- Deletes a group and its member set. KEYS: group key, member set.
-- Returns {'ok', member ids...} or {'notfound'}.
if redis.call('EXISTS', KEYS[1]) == 0 then return {'notfound'} end
local out = {'ok'}
for _, m in ipairs(redis.call('SMEMBERS', KEYS[2])) do out[#out + 1] = m end
redis.call('DEL', KEYS[1], KEYS[2])
return out
