-- Inserts (ARGV[1] = 'insert') or renames (ARGV[1] = 'rename') one factor
-- in a user's factor hash. KEYS: the hash. ARGV: mode, factor id, record
-- JSON, and for an insert its counter state ("counter last_used_at").
-- Fields: d:<id> is the record, c:<id> its counter state, which only
-- factor_advance.lua moves.
local field = 'd:' .. ARGV[2]
local exists = redis.call('HEXISTS', KEYS[1], field) == 1
if ARGV[1] == 'insert' then
  if exists then return {'exists'} end
  redis.call('HSET', KEYS[1], field, ARGV[3], 'c:' .. ARGV[2], ARGV[4])
else
  if not exists then return {'notfound'} end
  redis.call('HSET', KEYS[1], field, ARGV[3])
end
return {'ok'}
