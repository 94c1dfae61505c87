-- pace: one more request of a kind, of all clients together, at a steady rate (GCRA, the
-- "virtual scheduling" form of a leaky bucket). The key holds the theoretical arrival time: when
-- the next request would be due if every request so far had come exactly one interval apart.
-- KEYS: 1 the kind's pace key. ARGV: 1 now (ms), 2 interval (ms; 1000 / rate), 3 burst (requests
-- answered at once after a quiet spell), 4 the longest wait (ms) a request may be given.
-- Returns the wait (ms, >= 0) after which this request may be answered, its place reserved; or,
-- negative, how much longer than the longest wait it would have had to wait: refused, nothing kept.
local now = tonumber(ARGV[1])
local interval = tonumber(ARGV[2])
local due = tonumber(redis.call('GET', KEYS[1]) or '0')
if due < now then due = now end
local wait = due - now - (tonumber(ARGV[3]) - 1) * interval
if wait < 0 then wait = 0 end
local longest = tonumber(ARGV[4])
if wait > longest then return -math.ceil(wait - longest) end
local after = due + interval
redis.call('SET', KEYS[1], string.format('%.0f', after), 'PX', math.ceil(after - now) + 1000)
return math.floor(wait)
