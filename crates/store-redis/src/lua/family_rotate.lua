-- The compare-and-swap of refresh-token rotation (RFC 9700 §4.14.2); the
-- decision mirrors store::rotation::decide (crates/store/src/rotation.rs).
-- ARGV: prefix, presented hash, new hash, now, new idle expiry, grace seconds
-- Returns {outcome, data, rotated_at, idle_exp, revoked}.
local p, presented, new = ARGV[1], ARGV[2], ARGV[3]
local now, idle, grace = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local fid = redis.call('GET', p .. 'token:' .. presented)
if not fid then return {'notfound'} end
local fk = p .. 'family:' .. fid
local f = redis.call('HMGET', fk, 'current', 'previous', 'rotated_at', 'idle_exp', 'exp', 'revoked')
if not f[1] or f[6] == '1' or tonumber(f[5]) <= now or tonumber(f[4]) <= now then return {'notfound'} end
local outcome
if f[1] == presented then
  if redis.call('EXISTS', p .. 'token:' .. new) == 1 then return {'exists'} end
  redis.call('HSET', fk, 'current', new, 'previous', presented, 'rotated_at', now,
    'idle_exp', math.min(idle, tonumber(f[5])))
  redis.call('SET', p .. 'token:' .. new, fid, 'EX', math.max(tonumber(f[5]) - now, 1))
  outcome = 'rotated'
elseif f[2] == presented and now - tonumber(f[3]) < grace then
  outcome = 'grace'
else
  redis.call('HSET', fk, 'revoked', '1')
  outcome = 'reuse'
end
local s = redis.call('HMGET', fk, 'data', 'rotated_at', 'idle_exp', 'revoked')
return {outcome, s[1], s[2], s[3], s[4]}
