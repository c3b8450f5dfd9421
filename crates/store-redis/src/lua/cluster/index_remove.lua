-- Removes a member from a version-stamped index (a sorted set whose score
-- is the version of the record that last asserted the entry), unless a
-- later version asserted it since. KEYS: index. ARGV: member, version ("inf").
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and (ARGV[2] == 'inf' or tonumber(score) <= tonumber(ARGV[2])) then
  redis.call('ZREM', KEYS[1], ARGV[1])
end
return {'ok'}
