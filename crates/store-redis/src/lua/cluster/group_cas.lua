-- Creates (ARGV[1] == "") or compare-and-swaps a group and its member set,
-- which share its hash tag. KEYS: group key, member set.
-- ARGV: expected version or "", new version, data, member ids...
-- Returns {'ok', old member ids...}.
local cur = redis.call('HGET', KEYS[1], 'version')
if ARGV[1] == '' then
  if cur then return {'exists'} end
else
  if not cur then return {'notfound'} end
  if cur ~= ARGV[1] then return {'version'} end
end
local old = redis.call('SMEMBERS', KEYS[2])
redis.call('DEL', KEYS[2])
for i = 4, #ARGV do redis.call('SADD', KEYS[2], ARGV[i]) end
redis.call('HSET', KEYS[1], 'data', ARGV[3], 'version', ARGV[2])
local out = {'ok'}
for _, m in ipairs(old) do out[#out + 1] = m end
return out
