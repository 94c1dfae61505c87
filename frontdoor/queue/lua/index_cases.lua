-- index_cases: put cases stored before the listing index existed into it, one SCAN step at a time
-- (TriageQueue.setup runs it until the cursor comes back 0, once per shard). Idempotent: a case already
-- in its status's index is left alone, one found in another status's (never, unless the data was
-- edited by hand) is moved. SCAN inside the script sees only this node's keys, and the pattern only
-- this shard's, so the script stays in the shard's slot on a cluster too.
-- KEYS[1]: the shard's index marker (declared for routing). ARGV: 2 SCAN cursor, 3 COUNT, 4 the statuses,
-- comma-separated. Returns {next cursor, cases added}.
local statuses = {}
for s in string.gmatch(ARGV[4], '[^,]+') do statuses[#statuses + 1] = s end
local reply = redis.call('SCAN', ARGV[2], 'MATCH', T .. 'case:*', 'COUNT', tonumber(ARGV[3]))
local added = 0
for _, key in ipairs(reply[2]) do
  local cid = string.sub(key, #T + 6)  -- after "case:"; a case's :reports and :audit keys have a colon
  if not string.find(cid, ':', 1, true) and redis.call('TYPE', key).ok == 'hash' then
    local status, created = unpack(redis.call('HMGET', key, 'status', 'created_at'))
    if status and created then
      local at = position(created, cid)
      if not redis.call('ZSCORE', T .. 'cases:' .. status, at) then
        for _, other in ipairs(statuses) do redis.call('ZREM', T .. 'cases:' .. other, at) end
        redis.call('ZADD', T .. 'cases:' .. status, 0, at)
        added = added + 1
      end
    end
  end
end
return {reply[1], added}
