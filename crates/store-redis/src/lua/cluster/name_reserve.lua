-- Reserves a userName key for a user at a version (src/cluster/mod.rs).
-- KEYS: the name key. ARGV: id, version, now.
-- The value is "id version time". Returns {'new'} (reserved now), {'held'}
-- (already this user's; the version moves up), or {'taken', value}.
local v = redis.call('GET', KEYS[1])
local mine = ARGV[1] .. ' ' .. ARGV[2] .. ' ' .. ARGV[3]
if not v then
  redis.call('SET', KEYS[1], mine)
  return {'new'}
end
local owner, version = string.match(v, '^(%S+) (%d+)')
if owner == ARGV[1] then
  if tonumber(version) < tonumber(ARGV[2]) then redis.call('SET', KEYS[1], mine) end
  return {'held'}
end
return {'taken', v}
