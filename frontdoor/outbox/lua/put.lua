-- put: messages for one recipient into a channel's outbox stream, or nothing when `once` was seen.
-- KEYS: 1 the channel's stream, 2 the once-marker ("" in ARGV[1]: none; then any key of the slot).
-- ARGV: 1 once ("1" to check and set KEYS[2]), 2 its TTL in seconds, 3 the messages' TTL in ms,
--       4 channel, 5 recipient (encrypted), 6 expires (ms), then one body (JSON) per message.
-- Returns the entry ids, or {} when the marker says these messages were put before.
if ARGV[1] == '1' and not redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[2])) then
  return {}
end
-- MINID trims what is past every message's TTL, so the stream never outgrows a few days. Entry ids are
-- Redis's clock, so the cut is made by Redis's clock too.
local t = redis.call('TIME')
local oldest = (tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - tonumber(ARGV[3])) .. '-0'
local ids = {}
for i = 7, #ARGV do
  ids[#ids + 1] = redis.call('XADD', KEYS[1], 'MINID', '~', oldest, '*',
                             'channel', ARGV[4], 'to', ARGV[5], 'expires', ARGV[6], 'body', ARGV[i])
end
return ids
