-- revive: a dead letter back into its channel's stream, for attempts anew (`frontdoor outbox retry`).
-- KEYS: 1 the dead-letter stream, 2 the channel's stream. ARGV: 1 the dead letter's id, 2 now (ms).
-- Returns the new entry's id; false when there is no such dead letter; "expired" past its TTL.
local found = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if #found == 0 then return false end
local f = {}
local raw = found[1][2]
for i = 1, #raw, 2 do f[raw[i]] = raw[i + 1] end
if tonumber(f.expires) <= tonumber(ARGV[2]) then return 'expired' end
local id = redis.call('XADD', KEYS[2], '*', 'channel', f.channel, 'to', f.to, 'expires', f.expires, 'body', f.body)
redis.call('XDEL', KEYS[1], ARGV[1])
return id
