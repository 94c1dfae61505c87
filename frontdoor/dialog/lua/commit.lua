-- commit: write a conversation's new state if Redis still holds the revision the turn was computed
-- from; with an inbound's digest, also keep the turn's answer, or hand back the one kept before.
-- KEYS: 1 state, 2 seen marker, 3 the inbound's answer (any key of the slot when there is none).
-- ARGV: 1 the revision computed from ("": nothing stored; "*": whatever is stored), 2 the new revision
--       ("": forget the conversation), 3 the state's JSON, 4 the idle TTL, 5 the seen marker's TTL,
--       6 the turn's answer as JSON ("": no inbound id), 7 how long the answer is kept.
-- Answers {1} when written; {2, answer} when this inbound was answered before (nothing written: the
-- conversation moves on once per inbound); {0, stored state or nil, seen marker exists} when the
-- revision moved on (compute the turn again from what is stored).
if ARGV[6] ~= '' then
  local answered = redis.call('GET', KEYS[3])
  if answered then return {2, answered} end
end
if ARGV[1] ~= '*' then
  local stored = redis.call('GET', KEYS[1])
  local revision = stored and string.match(stored, '^(%x+)|') or ''
  if revision ~= ARGV[1] then
    return {0, stored, redis.call('EXISTS', KEYS[2])}
  end
end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1], KEYS[2])
else
  redis.call('SET', KEYS[1], ARGV[2] .. '|' .. ARGV[3], 'EX', ARGV[4])
  redis.call('SET', KEYS[2], '1', 'EX', ARGV[5])
end
if ARGV[6] ~= '' then redis.call('SET', KEYS[3], ARGV[6], 'EX', ARGV[7]) end
return {1}
