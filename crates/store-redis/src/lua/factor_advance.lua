-- Accepts a use of a factor at a counter greater than the stored one
-- (store::FactorStore::advance_factor). KEYS: the user's factor hash.
-- ARGV: factor id, counter, now. Returns {'ok', '1'} when it moved,
-- {'ok', '0'} when the counter was not greater, {'notfound'}.
local field = 'c:' .. ARGV[1]
local state = redis.call('HGET', KEYS[1], field)
if not state then return {'notfound'} end
local stored = tonumber(string.match(state, '^(%d+)'))
if tonumber(ARGV[2]) <= stored then return {'ok', '0'} end
redis.call('HSET', KEYS[1], field, ARGV[2] .. ' ' .. ARGV[3])
return {'ok', '1'}
