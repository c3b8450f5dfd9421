-- Creates (ARGV[1] == "") or compare-and-swaps a user record alone; its
-- indexes are in other slots (src/cluster/mod.rs). KEYS: user key.
-- ARGV: expected version or "", new version, data, userName key,
--       externalId or "", email keys as JSON.
-- Returns {'ok', old userName key, old externalId, old email keys JSON}.
local cur = redis.call('HMGET', KEYS[1], 'version', 'name', 'ext', 'emails')
if ARGV[1] == '' then
  if cur[1] then return {'exists'} end
else
  if not cur[1] then return {'notfound'} end
  if cur[1] ~= ARGV[1] then return {'version'} end
end
redis.call('HSET', KEYS[1], 'version', ARGV[2], 'data', ARGV[3], 'name', ARGV[4],
  'ext', ARGV[5], 'emails', ARGV[6])
return {'ok', cur[2] or '', cur[3] or '', cur[4] or '[]'}
