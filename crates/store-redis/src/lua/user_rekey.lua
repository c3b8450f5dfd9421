-- Moves users' userName index entries to new keys (RFC 8265 re-keying).
-- ARGV: prefix, then (id, new key) pairs. Returns the ids whose new key
-- another user holds; those keep their old key.
local p = ARGV[1]
local taken = {}
for i = 2, #ARGV, 2 do
  local id, new = ARGV[i], ARGV[i + 1]
  local k = p .. 'user:' .. id
  local old = redis.call('HGET', k, 'name')
  if old and old ~= new then
    local owner = redis.call('GET', p .. 'idx:username:' .. new)
    if owner and owner ~= id then
      taken[#taken + 1] = id
    else
      if redis.call('GET', p .. 'idx:username:' .. old) == id then
        redis.call('DEL', p .. 'idx:username:' .. old)
      end
      redis.call('SET', p .. 'idx:username:' .. new, id)
      redis.call('HSET', k, 'name', new)
    end
  end
end
return taken
