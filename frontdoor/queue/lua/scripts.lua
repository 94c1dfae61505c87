-- Shared prelude of every queue script. ARGV[1] is the shard's key prefix ("fd:{s0}:"):
-- every key below is built from it, so a script stays inside one Redis Cluster slot.
-- KEYS[1] is always a key of that slot, declared so a cluster routes the call correctly.
local T = ARGV[1]
-- The guard that makes "one slot per script" hold on a cluster: KEYS[1] routes the call, T builds
-- every key, so they must name the same shard. Redis itself lets an EVAL reach undeclared keys of
-- another slot when that slot lives on the same node, so a mismatch would pass on one node and in a
-- small cluster and break only after slots move; refuse it everywhere instead. T must hold a whole
-- hash tag ("{s0}"), or keys built from it would hash in full and scatter over slots.
if not string.find(T, '^[^{]*{[^}]+}') or string.sub(KEYS[1] or '', 1, #T) ~= T then
  return redis.error_reply('ERR frontdoor: KEYS[1] is outside the shard ' .. T .. ' the script writes to')
end
local GROUP = 'analysts'
local DAY_MS = 86400000

local function ckey(id) return T .. 'case:' .. id end

-- A case's place in the listing indexes (cases:<status>, one sorted set per status, every score 0):
-- its creation time in 13 digits, then its id, so that lexicographic order is creation order with
-- the id breaking ties (one report's URLs open their cases in the same millisecond).
local function position(created, cid) return string.format('%013d', tonumber(created)) .. ':' .. cid end

-- Every status change goes through here, so the index never disagrees with the case's hash.
local function set_status(c, cid, new)
  local old = redis.call('HGET', c, 'status')
  if old == new then return end
  redis.call('HSET', c, 'status', new)
  local at = position(redis.call('HGET', c, 'created_at'), cid)
  if old then redis.call('ZREM', T .. 'cases:' .. old, at) end
  redis.call('ZADD', T .. 'cases:' .. new, 0, at)
end

local function audit(cid, now, by, what, extra)
  local e = {t = tonumber(now), by = by, what = what}
  if extra then for k, v in pairs(extra) do e[k] = v end end
  redis.call('RPUSH', T .. 'case:' .. cid .. ':audit', cjson.encode(e))
end

local function stat(day, field, n)
  redis.call('HINCRBY', T .. 'stats:' .. day, field, n or 1)
  redis.call('SADD', T .. 'stats:days', day)
end

-- Several counters of one day, each up by one: the day is noted once.
local function stats(day, fields)
  local key = T .. 'stats:' .. day
  for _, field in ipairs(fields) do redis.call('HINCRBY', key, field, 1) end
  if #fields > 0 then redis.call('SADD', T .. 'stats:days', day) end
end

local function timing(metric, day, seconds)
  redis.call('RPUSH', T .. 'timing:' .. metric .. ':' .. day, string.format('%.3f', seconds))
  redis.call('SADD', T .. 'stats:days', day)
end

-- Acknowledge and delete a case's stream entry: the case has left the queue.
-- XACK comes first so an entry is never deleted while still pending (a PEL entry
-- without a stream entry would be handed out as nil by Redis 6.2's XAUTOCLAIM).
local function leave_queue(c)
  local entry, lane = redis.call('HGET', c, 'entry'), redis.call('HGET', c, 'entry_lane')
  if entry and lane then
    local key = T .. 'lane:' .. lane
    redis.call('XACK', key, GROUP, entry)
    redis.call('XDEL', key, entry)
  end
  redis.call('HDEL', c, 'entry', 'entry_lane', 'claimed_by', 'lease_until')
end

local function enqueue(c, lane)
  local cid = redis.call('HGET', c, 'id')
  local entry = redis.call('XADD', T .. 'lane:' .. lane, '*', 'c', cid)
  redis.call('HSET', c, 'entry', entry, 'entry_lane', lane)
  set_status(c, cid, 'queued')
  redis.call('HDEL', c, 'claimed_by', 'lease_until')
end

local function close(cid, c, now, by, retention_ms)
  set_status(c, cid, 'closed')
  redis.call('HSET', c, 'closed_at', now)
  leave_queue(c)
  local erase_at = now + retention_ms
  for _, rid in ipairs(redis.call('LRANGE', T .. 'case:' .. cid .. ':reports', 0, -1)) do
    redis.call('ZADD', T .. 'retention', erase_at, 'r:' .. rid)
  end
  redis.call('ZADD', T .. 'retention', erase_at, 'c:' .. cid)
  audit(cid, now, by, 'closed')
end

-- Actions arrive validated, each with its time `at` (ms) and that time's UTC `day`.
local function apply_actions(cid, c, now, by, actions, retention_ms)
  local created = tonumber(redis.call('HGET', c, 'created_at'))
  for _, a in ipairs(actions) do
    local at, day, kind = tonumber(a.at), a.day, a.type
    local detail = {at = at}
    if kind == 'forwarded_law_enforcement' or kind == 'forwarded_partner_hotline' then
      if kind == 'forwarded_law_enforcement' then
        redis.call('HSET', c, 'forwarded_le_at', at)
      else
        redis.call('HSET', c, 'forwarded_partner_at', at, 'partner_country', a.partner_country)
        detail.partner_country = a.partner_country
      end
      if redis.call('HSETNX', c, 'forwarded_at', at) == 1 then
        timing('forward', day, (at - created) / 1000)
      end
    elseif kind == 'notice_and_takedown_sent' then
      if redis.call('HSETNX', c, 'ntd_sent_at', at) == 1 then
        redis.call('HSET', c, 'ntd_day', day)
        stat(day, 'ntd_sent')
      end
    elseif kind == 'content_removed' then
      if redis.call('HSETNX', c, 'removed_at', at) == 1 then
        timing('removal', day, (at - created) / 1000)
        local ntd = redis.call('HGET', c, 'ntd_sent_at')
        if ntd then
          local waited = at - tonumber(ntd)
          local ntd_day = redis.call('HGET', c, 'ntd_day')
          if waited <= 3 * DAY_MS then stat(ntd_day, 'ntd_removed_3d') end
          if waited <= 7 * DAY_MS then stat(ntd_day, 'ntd_removed_7d') end
        end
      end
    end
    if a.reference then detail.reference = a.reference end
    stat(day, 'actions:' .. kind)
    audit(cid, now, by, kind, detail)
  end
  for _, a in ipairs(actions) do
    if a.type == 'content_removed' then
      close(cid, c, now, by, retention_ms)
      return
    end
  end
  if #actions > 0 then set_status(c, cid, 'action_taken') end
end
