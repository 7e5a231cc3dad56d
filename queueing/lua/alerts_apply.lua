-- alerts_apply: the alerts that should be on now (queueing/alerts.py evaluate), against those that
-- are: a new one is raised (alert_raised), one whose level changed is changed (alert_changed; going
-- up to critical wants a new acknowledgement), one no longer wanted is cleared (alert_cleared) and
-- kept on the history list. The events are the audit trail.
-- Several API processes evaluate at once: the same result twice changes nothing, and a result from
-- facts older than the last one applied is ignored, so a slow evaluator cannot bring back an alert
-- a newer one cleared. NOW is when the facts were read.
-- ARGV[3] JSON array of {key, kind, subject, level, value, threshold, detail, params (JSON text)}
-- Reply: result (applied / stale), raised, changed, cleared
local ALERT_KINDS = { longest_wait = true, service_level = true, no_desk = true, abandon_spike = true,
  fallback_callers = true, broken_recording = true, desk_paused = true, resource_shortage = true }
local RANK = { warning = 1, critical = 2 }
local HISTORY_KEPT = 200

return run(function()
  local ok, wanted = pcall(cjson.decode, ARGV[3] or '')
  if not ok or type(wanted) ~= 'table' then refuse('alerts must be a JSON array') end
  local seen = {}
  for i, a in ipairs(wanted) do
    if type(a) ~= 'table' or not ALERT_KINDS[a.kind] then
      refuse('alert ' .. i .. ': kind must be one of the alert kinds, got ' .. tostring(type(a) == 'table' and a.kind))
    end
    if not RANK[a.level] then refuse('alert ' .. i .. ': level must be warning or critical') end
    if a.subject ~= '' then check_id(a.subject, 'alert ' .. i .. ' subject') end
    local key = a.kind
    if a.subject ~= '' then key = a.kind .. ':' .. a.subject end
    if a.key ~= key then refuse('alert ' .. i .. ': key must be ' .. key) end
    if seen[key] then refuse('alert ' .. key .. ' is listed twice') end
    seen[key] = true
    a.detail = string.sub(tostring(a.detail or ''), 1, 500)
    a.params = string.sub(tostring(a.params or '{}'), 1, 2000)
    a.value = int_str(tonumber(a.value) or 0)
    a.threshold = int_str(tonumber(a.threshold) or 0)
  end

  local evaluated = PREFIX .. 'alerts:evaluated_ms'
  if NOW < (tonumber(redis.call('GET', evaluated)) or 0) then
    return { 'result', 'stale', 'raised', '0', 'changed', '0', 'cleared', '0' }
  end
  redis.call('SET', evaluated, int_str(NOW))

  local now = int_str(NOW)
  local active = {}
  local flat = redis.call('HGETALL', alerts_active_key())
  for i = 1, #flat, 2 do active[flat[i]] = flat[i + 1] end
  local raised, changed, cleared = 0, 0, 0

  for _, a in ipairs(wanted) do
    local id = active[a.key]
    local alert = id and load_hash(alert_key(id))
    if not alert then
      id = a.key .. '@' .. now
      redis.call('HSET', alert_key(id), 'alert_id', id, 'key', a.key, 'kind', a.kind, 'subject', a.subject,
        'level', a.level, 'value', a.value, 'threshold', a.threshold, 'detail', a.detail, 'params', a.params,
        'raised_ms', now, 'changed_ms', now, 'acked_by', '', 'acked_ms', '', 'cleared_ms', '')
      redis.call('HSET', alerts_active_key(), a.key, id)
      emit('alert_raised', 'alert_id', id, 'kind', a.kind, 'subject', a.subject, 'level', a.level,
        'value', a.value, 'threshold', a.threshold, 'detail', a.detail, 'params', a.params)
      raised = raised + 1
    else
      if alert.level ~= a.level then
        redis.call('HSET', alert_key(id), 'level', a.level, 'changed_ms', now)
        if RANK[a.level] > RANK[alert.level] then
          redis.call('HSET', alert_key(id), 'acked_by', '', 'acked_ms', '')
        end
        emit('alert_changed', 'alert_id', id, 'kind', a.kind, 'subject', a.subject, 'level', a.level,
          'previous_level', alert.level, 'value', a.value, 'threshold', a.threshold, 'detail', a.detail,
          'params', a.params)
        changed = changed + 1
      end
      -- The figure moves on (a wait grows): kept current for the page, not an event each time.
      redis.call('HSET', alert_key(id), 'value', a.value, 'threshold', a.threshold, 'detail', a.detail,
        'params', a.params)
    end
  end

  for key, id in pairs(active) do
    if not seen[key] then
      local alert = load_hash(alert_key(id)) or { kind = '', subject = '', level = '', acked_by = '' }
      redis.call('HDEL', alerts_active_key(), key)
      if redis.call('EXISTS', alert_key(id)) == 1 then
        redis.call('HSET', alert_key(id), 'cleared_ms', now)
        redis.call('LPUSH', alerts_history_key(), id)
      end
      emit('alert_cleared', 'alert_id', id, 'kind', alert.kind, 'subject', alert.subject, 'level', alert.level,
        'acked_by', alert.acked_by or '')
      cleared = cleared + 1
    end
  end
  while redis.call('LLEN', alerts_history_key()) > HISTORY_KEPT do
    redis.call('DEL', alert_key(redis.call('RPOP', alerts_history_key())))
  end
  return { 'result', 'applied', 'raised', int_str(raised), 'changed', int_str(changed), 'cleared', int_str(cleared) }
end)
