-- Deletes a user record. KEYS: user key.
-- Returns {'ok', userName key, externalId, email keys JSON} or {'notfound'}.
local cur = redis.call('HMGET', KEYS[1], 'name', 'ext', 'emails')
if not cur[1] then return {'notfound'} end
redis.call('DEL', KEYS[1])
return {'ok', cur[1], cur[2] or '', cur[3] or '[]'}
