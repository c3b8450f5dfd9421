-- Releases a userName key held by a user at a version up to ARGV[2] (a
-- later reservation by the same user, for a later version, stays).
-- KEYS: the name key. ARGV: id, version ("inf" for any).
local v = redis.call('GET', KEYS[1])
if not v then return {'ok'} end
local owner, version = string.match(v, '^(%S+) (%d+)')
if owner == ARGV[1] and (ARGV[2] == 'inf' or tonumber(version) <= tonumber(ARGV[2])) then
  redis.call('DEL', KEYS[1])
end
return {'ok'}
