-- Accepts a use of a factor at a counter greater than the stored one
-- (store::FactorStore::advance_factor), or, with ARGV[4] = 'touch', records
-- a use without a counter (store::FactorStore::touch_factor). KEYS: the
-- user's factor hash. ARGV: factor id, counter, now[, 'touch']. Returns
-- {'ok', '1'} when it moved, {'ok', '0'} when the counter was not greater,
-- {'notfound'}.
local field = 'c:' .. ARGV[1]
local state = redis.call('HGET', KEYS[1], field)
if not state then return {'notfound'} end
local stored = string.match(state, '^(%d+)')
if ARGV[4] == 'touch' then
  redis.call('HSET', KEYS[1], field, stored .. ' ' .. ARGV[3])
  return {'ok', '1'}
end
if tonumber(ARGV[2]) <= tonumber(stored) then return {'ok', '0'} end
redis.call('HSET', KEYS[1], field, ARGV[2] .. ' ' .. ARGV[3])
return {'ok', '1'}
