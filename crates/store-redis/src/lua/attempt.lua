-- Counts one attempt unless the key is locked, as store::limits::next_attempt.
-- KEYS: the key. ARGV: now (s), threshold, base delay, max delay, quiet period.
-- Returns {"locked", until} or {"allowed", failures}.
local now, threshold, base, max, quiet =
  tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local cur = redis.call('HMGET', KEYS[1], 'failures', 'until', 'exp')
local failures, locked = 0, 0
if cur[3] and tonumber(cur[3]) > now then
  failures, locked = tonumber(cur[1]), tonumber(cur[2])
end
if now < locked then return {'locked', tostring(locked)} end
failures = failures + 1
local delay = 0
if failures >= math.max(threshold, 1) then
  delay = math.min(base * 2 ^ math.min(failures - threshold, 30), max)
  delay = math.floor(delay)
end
local until_ = 0
if delay > 0 then until_ = now + delay end
local exp = now + delay + math.max(quiet, 1)
redis.call('HSET', KEYS[1], 'failures', failures, 'until', until_, 'exp', exp)
redis.call('EXPIRE', KEYS[1], exp - now + 1)
return {'allowed', tostring(failures)}
