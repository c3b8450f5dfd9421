-- The compare-and-swap of refresh-token rotation on the family record
-- alone, as ../family_rotate.lua decides it (store::rotation::decide,
-- crates/store/src/rotation.rs); the new token's pointer is written by the
-- caller before. KEYS: family key.
-- ARGV: presented hash, new hash, now, new idle expiry, grace seconds.
-- Returns {outcome, data, rotated_at, idle_exp, revoked} or {'notfound'}.
local fk, presented, new = KEYS[1], ARGV[1], ARGV[2]
local now, idle, grace = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local f = redis.call('HMGET', fk, 'current', 'previous', 'rotated_at', 'idle_exp', 'exp', 'revoked')
if not f[1] or f[6] == '1' or tonumber(f[5]) <= now or tonumber(f[4]) <= now then return {'notfound'} end
local outcome
if f[1] == presented then
  redis.call('HSET', fk, 'current', new, 'previous', presented, 'rotated_at', now,
    'idle_exp', math.min(idle, tonumber(f[5])))
  outcome = 'rotated'
elseif f[2] == presented and now - tonumber(f[3]) < grace then
  outcome = 'grace'
else
  redis.call('HSET', fk, 'revoked', '1')
  outcome = 'reuse'
end
local s = redis.call('HMGET', fk, 'data', 'rotated_at', 'idle_exp', 'revoked')
return {outcome, s[1], s[2], s[3], s[4]}
