-- fanout: a multi-shard report's other shards have confirmed their cases; record them with the
-- report and take it off the home shard's fan-out set, in one step so that a crash leaves either
-- both or neither (recover_fanout then runs the idempotent fan-out again).
-- KEYS[1]: the home shard's fan-out set. ARGV: 2 report_id, then the confirmed case ids in order.
-- The report's case list keeps its home cases first and gains each confirmed id it lacks.
local rid = ARGV[2]
local list_key = T .. 'report:' .. rid .. ':cases'
local ids, have = {}, {}
for id in string.gmatch(redis.call('GET', list_key) or '', '%S+') do
  ids[#ids + 1] = id
  have[id] = true
end
for i = 3, #ARGV do
  if not have[ARGV[i]] then ids[#ids + 1] = ARGV[i] end
end
redis.call('SET', list_key, table.concat(ids, ' '))
redis.call('ZREM', T .. 'fanout', rid)
return {'ok'}
