-- assess: the analyst's classification of a case they hold, with optional actions;
-- or (op "actions") further actions on an assessed case, such as content_removed.
-- ARGV: 2 op ("assess" | "actions"), 3 analyst, 4 case_id, 5 now_ms, 6 day,
--       7 classification, 8 hosting_country ("" = unknown), 9 note ("" = none),
--       10 actions_json, 11 retention_ms, 12 clock_skew_ms.
-- Returns {"ok", status} or {error_code}.
local op, analyst, cid, now, day = ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5]), ARGV[6]
local actions, retention_ms = cjson.decode(ARGV[10]), tonumber(ARGV[11])
local c = ckey(cid)
local status = redis.call('HGET', c, 'status')
if not status then return {'not_found'} end
local ILLEGAL = {baseline = true, illegal_national = true}

-- A backdated action may not predate the case (beyond clock skew); within the skew it is clamped.
local created = tonumber(redis.call('HGET', c, 'created_at'))
for _, a in ipairs(actions) do
  if tonumber(a.at) < created - tonumber(ARGV[12]) then return {'action_before_case'} end
  if tonumber(a.at) < created then a.at = created end
end

if op == 'actions' then
  if status == 'closed' then return {'closed'} end
  if not ILLEGAL[redis.call('HGET', c, 'classification') or ''] then return {'not_actionable'} end
  apply_actions(cid, c, now, analyst, actions, retention_ms)
  return {'ok', redis.call('HGET', c, 'status')}
end

if status ~= 'queued' and status ~= 'in_review' then return {'already_assessed'} end
if status ~= 'in_review' or redis.call('HGET', c, 'claimed_by') ~= analyst then return {'not_claimed'} end

local classification, hosting = ARGV[7], ARGV[8]
redis.call('HSET', c, 'classification', classification, 'assessed_at', now, 'assessed_by', analyst)
set_status(c, cid, 'assessed')
if hosting ~= '' then redis.call('HSET', c, 'hosting_country', hosting) end
if ARGV[9] ~= '' then redis.call('HSET', c, 'note', ARGV[9]) end
leave_queue(c)
stat(day, 'cases:classification:' .. classification)
timing('assess', day, (now - tonumber(redis.call('HGET', c, 'created_at'))) / 1000)
audit(cid, now, analyst, 'assessed', {classification = classification, hosting_country = hosting ~= '' and hosting or false, note = ARGV[9] ~= ''})

if not ILLEGAL[classification] then
  close(cid, c, now, analyst, retention_ms)
else
  apply_actions(cid, c, now, analyst, actions, retention_ms)
end
return {'ok', redis.call('HGET', c, 'status')}
