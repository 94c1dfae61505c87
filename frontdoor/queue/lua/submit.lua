-- submit: store a report (when this is its home shard) and open or join one case per URL.
-- ARGV: 2 now_ms, 3 day, 4 report_id, 5 home ("1"/"0"), 6 report_json, 7 receipt,
--       8 urgent ("1"/"0"), 9 category, 10 channel, 11 n_urls,
--       12 dedupe id ("" for none; home only), 13 seconds the dedupe id is remembered,
--       14 the submission's fingerprint ("" for none), kept with the dedupe id,
--       then n_urls times: digest, normalized, original, fresh_case_id;
--       with n_urls == 0 (home only): the id of the report's own case.
-- Returns {"ok", case_id, outcome, ...} with outcome "opened" | "joined" | "reopened",
-- or {"receipt_taken"} / {"exists"} / {"duplicate", report_id, receipt, fingerprint} (the dedupe id
-- made that report before: nothing is stored; receipt and fingerprint are "" for a marker written
-- before they were kept).
local now, day, rid = tonumber(ARGV[2]), ARGV[3], ARGV[4]
local home, urgent = ARGV[5] == '1', ARGV[8] == '1'
local category, channel, n = ARGV[9], ARGV[10], tonumber(ARGV[11])
local dedupe = ARGV[12] ~= '' and T .. 'submitted:' .. ARGV[12] or nil
local FIRST = 15  -- the first URL argument
local marker = T .. 'applied:' .. rid
local counted = {}  -- the day's counters this submit moves, counted together at the end (stats)
local function count(field) counted[#counted + 1] = field end

if home then
  local rkey = T .. 'report:' .. rid
  if redis.call('EXISTS', rkey) == 1 then return {'exists'} end
  if dedupe then
    local made = redis.call('GET', dedupe)
    if made then
      local first, code, fp = string.match(made, '^(%S+) ?(%S*) ?(%S*)$')
      return {'duplicate', first or made, code or '', fp or ''}
    end
  end
  if not redis.call('SET', T .. 'receipt:' .. ARGV[7], rid, 'NX') then return {'receipt_taken'} end
  redis.call('SET', rkey, ARGV[6])
  -- Set with the report, in one script: a report is remembered exactly when it was stored.
  -- The receipt with it, so that a retry is answered as the first submit was.
  if dedupe then
    local value = rid .. ' ' .. ARGV[7] .. (ARGV[14] ~= '' and ' ' .. ARGV[14] or '')
    redis.call('SET', dedupe, value, 'EX', tonumber(ARGV[13]))
  end
  count('reports')
  count('reports:channel:' .. channel)
  count('reports:category:' .. category)
  if urgent then count('reports:urgent') end
else
  -- A retried fan-out must not add the report twice.
  local prior = redis.call('GET', marker)
  if prior then return cjson.decode(prior) end
end

local function escalate(cid, c)
  redis.call('HSET', c, 'lane', 'urgent')
  if redis.call('HGET', c, 'status') == 'queued' and redis.call('HGET', c, 'entry_lane') ~= 'urgent' then
    leave_queue(c)
    enqueue(c, 'urgent')
  end
  -- A case already in review moves lanes when it is released (see release.lua).
  audit(cid, now, 'system', 'escalated', {report = rid})
end

local function open(cid, digest, normalized, original, previous)
  local c = ckey(cid)
  local lane = urgent and 'urgent' or 'normal'
  -- A new case, queued: what enqueue() leaves, written with the rest of the hash in one HSET.
  local entry = redis.call('XADD', T .. 'lane:' .. lane, '*', 'c', cid)
  local fields = {'id', cid, 'lane', lane, 'created_at', now, 'report_count', 1, 'categories', category,
                  'entry', entry, 'entry_lane', lane, 'status', 'queued'}
  if digest then
    fields[#fields + 1] = 'url'
    fields[#fields + 1] = normalized
    if original ~= normalized then
      fields[#fields + 1] = 'url_original'
      fields[#fields + 1] = original
    end
    redis.call('HSET', T .. 'urls', digest, cid)
  end
  redis.call('HSET', c, unpack(fields))
  redis.call('ZADD', T .. 'cases:queued', 0, position(now, cid))  -- the listing index (see set_status)
  redis.call('RPUSH', T .. 'case:' .. cid .. ':reports', rid)
  local detail = {report = rid, lane = lane}
  if previous then
    redis.call('HSET', c, 'previous_case', previous)
    redis.call('HSET', ckey(previous), 'next_case', cid)
    audit(previous, now, 'system', 'content_came_back', {case = cid})
    detail.previous_case = previous
  end
  audit(cid, now, 'system', 'opened', detail)
  count('cases')
  count('cases:category:' .. category)
  count('cases:channel:' .. channel)
  if urgent then count('cases:urgent') end
end

local function join(cid, c)
  redis.call('HINCRBY', c, 'report_count', 1)
  redis.call('RPUSH', T .. 'case:' .. cid .. ':reports', rid)
  local cats = redis.call('HGET', c, 'categories') or ''
  if not string.find(' ' .. cats .. ' ', ' ' .. category .. ' ', 1, true) then
    redis.call('HSET', c, 'categories', cats .. ' ' .. category)
  end
  audit(cid, now, 'system', 'report_joined', {report = rid})
  if urgent and redis.call('HGET', c, 'lane') ~= 'urgent' then escalate(cid, c) end
end

local out = {'ok'}
if n == 0 then
  open(ARGV[FIRST], nil, nil, nil, nil)
  out[#out + 1] = ARGV[FIRST]
  out[#out + 1] = 'opened'
end
for i = 0, n - 1 do
  local a = FIRST + i * 4
  local digest, normalized, original, fresh = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
  local latest = redis.call('HGET', T .. 'urls', digest)
  local status = latest and redis.call('HGET', ckey(latest), 'status')
  if status and status ~= 'closed' then
    join(latest, ckey(latest))
    out[#out + 1] = latest
    out[#out + 1] = 'joined'
  else
    open(fresh, digest, normalized, original, status and latest or nil)
    out[#out + 1] = fresh
    out[#out + 1] = status and 'reopened' or 'opened'
  end
end

stats(day, counted)
local mine = {}
for i = 2, #out, 2 do mine[#mine + 1] = out[i] end
if home then
  redis.call('SET', T .. 'report:' .. rid .. ':cases', table.concat(mine, ' '))
else
  redis.call('SET', marker, cjson.encode(out), 'EX', 604800)
end
return out
