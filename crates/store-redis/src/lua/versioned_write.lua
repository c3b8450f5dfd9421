-- Inserts (ARGV[1] == "") or compare-and-swaps a {data, version} hash and
-- its sorted-set index. KEYS: record key[, index key] (on a cluster the
-- index is in another slot and written after, see src/cluster/mod.rs).
-- ARGV: expected version or "", new version, data, index score, index member
local cur = redis.call('HGET', KEYS[1], 'version')
if ARGV[1] == '' then
  if cur then return {'exists'} end
else
  if not cur then return {'notfound'} end
  if cur ~= ARGV[1] then return {'version'} end
end
redis.call('HSET', KEYS[1], 'data', ARGV[3], 'version', ARGV[2])
if KEYS[2] then redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5]) end
return {'ok'}
