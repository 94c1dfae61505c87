-- bury: move an entry to the dead letters, with why, after its last attempt (or a permanent refusal).
-- KEYS: 1 the stream, 2 the dead-letter stream. ARGV: 1 the group, 2 the entry id, 3 attempts,
--       4 the reason (a short text, never the message), 5 now (ms), 6 how long dead letters are kept (ms).
-- Returns the dead letter's id, or false when the entry is gone (trimmed past its TTL).
local found = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if #found == 0 then return false end
local fields = found[1][2]
fields[#fields + 1] = 'entry'
fields[#fields + 1] = ARGV[2]
fields[#fields + 1] = 'attempts'
fields[#fields + 1] = ARGV[3]
fields[#fields + 1] = 'reason'
fields[#fields + 1] = ARGV[4]
fields[#fields + 1] = 'died'
fields[#fields + 1] = ARGV[5]
local t = redis.call('TIME')  -- entry ids are Redis's clock: so is the cut
local oldest = (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[6])) .. '-0'
return redis.call('XADD', KEYS[2], 'MINID', '~', oldest, '*', unpack(fields))
